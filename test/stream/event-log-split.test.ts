/**
 * What a LevelEventLog kept in its own database needs (the PDS's, see
 * pds/event-journal.ts): `writeAhead` (unacknowledged events dropped on
 * open, their seqs given again, the floor guarded; no key but events in an
 * append batch, meta keys before the events), `undoOps` (deletes of
 * exactly the events an append put), and `moveLevelEventLog` (the one-time
 * move out of a shared database: chunked by count and bytes, resumable
 * after an interruption, nothing lost or duplicated).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Level } from 'level'
import { EVENT_LOG_MOVE_BATCH_BYTES_MAX, EVENT_LOG_MOVE_BATCH_EVENTS_MAX } from '../../core/limits.ts'
import type { EventLogBatchOp, EventLogDb } from '../../core/stream/event-log.ts'
import { seqOfKey } from '../../core/stream/event-log-keys.ts'
import { LevelEventLog, levelEventLogSublevels } from '../../core/stream/event-log-level.ts'
import { moveLevelEventLog } from '../../core/stream/event-log-move.ts'
import { unsequenced } from './fixtures.ts'

async function withDbs(fn: (open: (name: string) => Promise<EventLogDb>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-eventlog-split-'))
  const dbs: EventLogDb[] = []
  try {
    await fn(async (name) => {
      const db: EventLogDb = new Level<Uint8Array, Uint8Array>(join(dir, name), { keyEncoding: 'view', valueEncoding: 'view' })
      await db.open()
      dbs.push(db)
      return db
    })
  } finally {
    for (const db of dbs) await db.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function frames(log: LevelEventLog): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = []
  for await (const { seq, frameBytes } of log.read(0)) out.push([seq, Buffer.from(frameBytes).toString('hex')])
  return out
}

async function storedSeqs(db: EventLogDb, name = 'events'): Promise<number[]> {
  // The events sublevel is the same in both layouts.
  return ((await levelEventLogSublevels(db, name, { writeAhead: true }).events.keys().all()) as Uint8Array[]).map(seqOfKey)
}

/** Appends `n` events whose frames are `bytes` long (arbitrary bytes: the log stores frames verbatim). */
async function appendRaw(log: LevelEventLog, n: number, bytes: number): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    const count = Math.min(500, n - i)
    const pending = log.appendFrameOps(count, (seq) => new Uint8Array(bytes).fill(seq % 251))
    await log.db.batch([...pending.ops], { sync: true })
    pending.commit()
  }
}

describe('LevelEventLog writeAhead', () => {
  it('drops the events above the acknowledged seq and gives their seqs again', async () => {
    await withDbs(async (open) => {
      const db = await open('events')
      const log = await LevelEventLog.open(db, { writeAhead: { acknowledged: 0 } })
      await log.append([unsequenced(1), unsequenced(2), unsequenced(3)])
      const kept = await frames(log)
      // Written ahead of a change that never landed: on disk, never committed.
      const ahead = log.appendOps([unsequenced(4), unsequenced(5)])
      await db.batch([...ahead.ops], { sync: true })
      assert.deepEqual(await storedSeqs(db), [1, 2, 3, 4, 5])
      await log.close()

      const reopened = await LevelEventLog.open(db, { writeAhead: { acknowledged: 3 } })
      assert.equal(reopened.droppedOnOpen, 2)
      assert.deepEqual(await storedSeqs(db), [1, 2, 3])
      assert.equal(reopened.lastSeq(), 3)
      assert.deepEqual(await frames(reopened), kept)
      assert.deepEqual(await reopened.append([unsequenced(6)]), [4], 'no gap: seq 4 was never published')
      await reopened.close()
    })
  })

  it('writes nothing but event keys in an append batch, and keeps its meta keys before them', async () => {
    await withDbs(async (open) => {
      const db = await open('events')
      const log = await LevelEventLog.open(db, { writeAhead: { acknowledged: 0 } })
      const pending = log.appendOps([unsequenced(1), unsequenced(2)])
      const layout = levelEventLogSublevels(db, 'events', { writeAhead: true })
      const { prefix } = layout.events as unknown as { prefix: string }
      assert.deepEqual(pending.ops.map((op) => (op.sublevel as unknown as { prefix: string }).prefix), [prefix, prefix])
      await db.batch([...pending.ops], { sync: true })
      pending.commit()
      await log.close()
      const reopened = await LevelEventLog.open(db, { writeAhead: { acknowledged: 2 } })
      assert.deepEqual(await reopened.append([unsequenced(3)]), [3])
      await reopened.close()
      // A key after the events in any table would make it span every newer one (module header).
      const keys = (await db.keys().all()).map((key: Uint8Array) => Buffer.from(key).toString('latin1'))
      const metaPrefix = (layout.meta as unknown as { prefix: string }).prefix
      assert.ok(keys[0]!.startsWith(metaPrefix), `the meta key sorts first: ${keys[0]}`)
      assert.ok(keys.slice(1).every((key: string) => key.startsWith(prefix)))
      assert.equal(keys.length, 4)
    })
  })

  it('refuses to truncate below what trimming already removed', async () => {
    await withDbs(async (open) => {
      let clock = 1_000
      const db = await open('events')
      const log = await LevelEventLog.open(db, { now: () => clock, writeAhead: { acknowledged: 0 } })
      await log.append([unsequenced(1), unsequenced(2)])
      clock += 10_000
      assert.equal(await log.trim(5_000), 2)
      await log.close()
      await assert.rejects(LevelEventLog.open(db, { writeAhead: { acknowledged: 1 } }), { name: 'CorruptEventLog' })
      const fine = await LevelEventLog.open(db, { writeAhead: { acknowledged: 2 } })
      assert.equal(fine.lastSeq(), 2)
      await fine.close()
    })
  })
})

describe('LevelEventLog undoOps', () => {
  it('deletes exactly the events of one append, never the meta', async () => {
    await withDbs(async (open) => {
      const db = await open('events')
      const log = await LevelEventLog.open(db)
      const first = log.appendOps([unsequenced(1)])
      const second = log.appendOps([unsequenced(2), unsequenced(3)])
      await db.batch([...first.ops, ...second.ops], { sync: true })
      const undo = log.undoOps(second)
      assert.equal(undo.length, 2)
      assert.ok(undo.every((op) => op.type === 'del'))
      await db.batch(undo, { sync: true })
      second.abort()
      first.commit()
      assert.deepEqual(await storedSeqs(db), [1])
      assert.equal(log.lastSeq(), 3)
      assert.deepEqual((await frames(log)).map(([seq]) => seq), [1])
      await log.close()
      const reopened = await LevelEventLog.open(db)
      assert.deepEqual(await reopened.append([unsequenced(4)]), [4], 'the meta seq still covers the undone seqs')
      await reopened.close()
    })
  })
})

describe('moveLevelEventLog', () => {
  it('moves every event and the meta; the moved log continues where it was', async () => {
    await withDbs(async (open) => {
      const from = await open('shared')
      const to = await open('events')
      let clock = 1_000
      const source = await LevelEventLog.open(from, { now: () => clock })
      await appendRaw(source, EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2 + 1, 64)
      clock += 10_000
      await source.append([unsequenced(1)])
      assert.equal(await source.trim(5_000), EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2 + 1, 'a floor to carry over')
      await source.append([unsequenced(2), unsequenced(3)])
      const before = await frames(source)
      await source.close()
      await from.put(new Uint8Array([1]), new Uint8Array([2])) // someone else's key stays

      const writes = spyBatches(to)
      let high = -1
      const moved = await moveLevelEventLog(from, to, { beforeMove: async (seq) => void (high = seq) })
      assert.equal(moved, 3)
      assert.equal(high, EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2 + 4)
      assert.deepEqual(writes.eventCounts, [3])
      assert.deepEqual((await from.keys().all()).map((key: Uint8Array) => [...key]), [[1]], 'nothing of the log is left in the source')

      const moved2 = await LevelEventLog.open(to, { writeAhead: { acknowledged: high } })
      assert.deepEqual(await frames(moved2), before)
      assert.equal(moved2.floorSeq(), EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2 + 1)
      assert.deepEqual(await moved2.append([unsequenced(4)]), [EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2 + 5])
      await moved2.close()
      assert.equal(await moveLevelEventLog(from, to), 0, 'a second move finds nothing')
    })
  })

  it(`copies at most ${EVENT_LOG_MOVE_BATCH_EVENTS_MAX} events or until ${EVENT_LOG_MOVE_BATCH_BYTES_MAX} bytes per batch`, async () => {
    await withDbs(async (open) => {
      const from = await open('shared')
      const source = await LevelEventLog.open(from)
      await appendRaw(source, EVENT_LOG_MOVE_BATCH_EVENTS_MAX + 1, 16)
      await source.close()
      const to = await open('events')
      const writes = spyBatches(to)
      await moveLevelEventLog(from, to)
      assert.deepEqual(writes.eventCounts, [EVENT_LOG_MOVE_BATCH_EVENTS_MAX, 1])

      const bigFrom = await open('big-shared')
      const bigSource = await LevelEventLog.open(bigFrom)
      const frameBytes = 100 * 1024
      // The chunk ends with the event that reaches the byte bound: keys (16 bytes) count too.
      const perChunk = Math.ceil(EVENT_LOG_MOVE_BATCH_BYTES_MAX / (frameBytes + 16))
      await appendRaw(bigSource, perChunk + 1, frameBytes)
      await bigSource.close()
      const bigTo = await open('big-events')
      const bigWrites = spyBatches(bigTo)
      await moveLevelEventLog(bigFrom, bigTo)
      assert.deepEqual(bigWrites.eventCounts, [perChunk, 1])
      assert.equal((await storedSeqs(bigTo)).length, perChunk + 1)
    })
  })

  it('finishes after an interruption with nothing lost or duplicated', async () => {
    await withDbs(async (open) => {
      const from = await open('shared')
      const source = await LevelEventLog.open(from)
      await appendRaw(source, EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 3, 32)
      const before = await frames(source)
      await source.close()
      const to = await open('events')
      const original = from.batch.bind(from) as (...args: unknown[]) => Promise<void>
      let calls = 0
      ;(from as any).batch = async (...args: unknown[]) => {
        if (++calls === 2) throw new Error('injected: killed between copying chunk 2 and deleting it')
        return original(...args)
      }
      await assert.rejects(moveLevelEventLog(from, to), /injected/)
      ;(from as any).batch = original
      assert.deepEqual(await storedSeqs(from), before.slice(EVENT_LOG_MOVE_BATCH_EVENTS_MAX).map(([seq]) => seq))
      assert.equal((await storedSeqs(to)).length, EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2)

      assert.equal(await moveLevelEventLog(from, to), EVENT_LOG_MOVE_BATCH_EVENTS_MAX * 2)
      const moved = await LevelEventLog.open(to, { writeAhead: { acknowledged: before.at(-1)![0] } })
      assert.deepEqual(await frames(moved), before)
      await moved.close()
    })
  })
})

/** Counts the event puts of each batch written to `db`. */
function spyBatches(db: EventLogDb): { eventCounts: number[] } {
  const original = db.batch.bind(db) as (ops: EventLogBatchOp[], options: object) => Promise<void>
  const eventCounts: number[] = []
  const { prefix } = levelEventLogSublevels(db, 'events', { writeAhead: true }).events as unknown as { prefix: string }
  ;(db as any).batch = (ops: EventLogBatchOp[], options: object) => {
    const n = ops.filter((op) => op.type === 'put' && (op.sublevel as unknown as { prefix?: string } | undefined)?.prefix === prefix).length
    if (n > 0) eventCounts.push(n)
    return original(ops, options)
  }
  return { eventCounts }
}
