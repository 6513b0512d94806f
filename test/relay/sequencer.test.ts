/**
 * The relay sequencer's queue bounds, at their edges, on a real level
 * database: below both bounds `submit` returns null; at either bound it
 * returns a promise (ingest waits on it), which resolves once a batch has
 * taken the queue; the batch then holds every queued event, in order.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES, RELAY_SEQUENCER_QUEUE_BYTES_MAX } from '../../core/limits.ts'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import { openRelayDb } from '../../relay/relay-db.ts'
import { Sequencer, queuedBytes } from '../../relay/sequencer.ts'
import type { SequencerOptions } from '../../relay/sequencer.ts'

const TIME = '2026-11-22T00:00:00.000Z' as Datetime

function syncEvent(i: number, blockBytes: number): UnsequencedEvent {
  return { t: '#sync', did: `did:plc:sequencer${i}` as Did, rev: '3kaaaaaaaaaa2' as Tid, blocks: new Uint8Array(blockBytes).fill(i), time: TIME }
}

function identityEvent(i: number): UnsequencedEvent {
  return { t: '#identity', did: `did:plc:sequencer${i}` as Did, time: TIME, handle: null }
}

/** A sequencer that never writes on its own (no timer, no size trigger): the queue only grows until `flush`. */
async function holdingSequencer(bounds: Pick<SequencerOptions, 'queueEventsMax' | 'queueBytesMax'>) {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-sequencer-'))
  const db = await openRelayDb(dir)
  const log = await LevelEventLog.open(db)
  const sequencer = new Sequencer({ db, log, stores: [], flushMs: 3_600_000, batchEvents: Number.MAX_SAFE_INTEGER, ...bounds })
  const close = async (): Promise<void> => {
    await sequencer.close()
    await log.close()
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
  return { sequencer, log, close }
}

/** Seqs in the log, and whether each frame holds the DID of the event queued in that place. */
async function stored(log: LevelEventLog): Promise<string[]> {
  const out: string[] = []
  for await (const entry of log.read(0)) {
    const text = Buffer.from(entry.frameBytes).toString('latin1')
    out.push(`${entry.seq}:${text.includes(`did:plc:sequencer${entry.seq}`) ? 'ok' : 'other'}`)
  }
  return out
}

test('sequencer: an event counts its CAR plus the fixed overhead', () => {
  assert.equal(queuedBytes(syncEvent(1, 1000)), 1000 + RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES)
  assert.equal(queuedBytes(identityEvent(1)), RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES)
})

test('sequencer: the bytes bound holds at its edge, and a batch takes the whole queue', async () => {
  const each = queuedBytes(syncEvent(0, 1000))
  const { sequencer, log, close } = await holdingSequencer({ queueBytesMax: 3 * each, queueEventsMax: 1_000 })
  try {
    assert.equal(sequencer.submit([syncEvent(1, 1000)]), null)
    assert.equal(sequencer.submit([syncEvent(2, 1000)]), null, 'one event short of the bound: room')
    const wait = sequencer.submit([syncEvent(3, 1000)])
    assert.ok(wait instanceof Promise, 'at the bound: wait')
    let released = false
    void wait.then(() => (released = true))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(released, false, 'nothing written yet, so still waiting')
    await sequencer.flush()
    await wait
    assert.equal(sequencer.stats.largestBatch, 3)
    assert.deepEqual(await stored(log), ['1:ok', '2:ok', '3:ok'])
    assert.equal(sequencer.submit([syncEvent(4, 1000)]), null, 'the count starts again after a batch')
  } finally {
    await close()
  }
})

test('sequencer: one big event past the bytes bound waits at once', async () => {
  const { sequencer, close } = await holdingSequencer({ queueBytesMax: 10_000 })
  try {
    assert.equal(sequencer.submit([syncEvent(1, 10_000 - RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES - 1)]), null, 'one byte under')
    await sequencer.flush()
    assert.ok(sequencer.submit([syncEvent(2, 10_000 - RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES)]) instanceof Promise, 'exactly at')
  } finally {
    await close()
  }
})

test('sequencer: the events bound holds at its edge (events without a CAR)', async () => {
  const { sequencer, log, close } = await holdingSequencer({ queueEventsMax: 3 })
  try {
    assert.equal(sequencer.submit([identityEvent(1)]), null)
    assert.equal(sequencer.submit([identityEvent(2)]), null)
    const wait = sequencer.submit([identityEvent(3)])
    assert.ok(wait instanceof Promise)
    await sequencer.flush()
    await wait
    assert.deepEqual(await stored(log), ['1:ok', '2:ok', '3:ok'])
  } finally {
    await close()
  }
})

test('sequencer: the default bytes bound is RELAY_SEQUENCER_QUEUE_BYTES_MAX', async () => {
  const { sequencer, close } = await holdingSequencer({})
  try {
    const quarter = RELAY_SEQUENCER_QUEUE_BYTES_MAX / 4 - RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES
    for (let i = 1; i <= 3; i++) assert.equal(sequencer.submit([syncEvent(i, quarter)]), null, `event ${i} of 4`)
    assert.ok(sequencer.submit([syncEvent(4, quarter)]) instanceof Promise, 'the fourth quarter fills it')
  } finally {
    await close()
  }
})
