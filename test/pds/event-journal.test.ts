/**
 * The PDS's event database (pds/event-journal.ts) on a real PDS data
 * directory: events written ahead of a repo batch that never landed are
 * dropped on restart (their seqs given again, so the firehose has no gap),
 * and a data directory from before the split (events inside the repo
 * database) is moved on start with every frame and seq kept.
 */
import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import type { RootDb } from '../../core/repo/block-store.ts'
import type { EventLogBatchOp, EventLogDb } from '../../core/stream/event-log.ts'
import { encodeMeta, seqOfKey } from '../../core/stream/event-log-keys.ts'
import { LevelEventLog, levelEventLogSublevels } from '../../core/stream/event-log-level.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { Did } from '../../core/syntax/did.ts'
import { EVENT_DB_DIR, readAckedSeq } from '../../pds/event-journal.ts'
import { identityEvent } from '../../pds/sequencer.ts'
import { createTestAccount, createTestPost, startPlcForPds, startTestPds, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

type Served = Array<{ seq: number; hex: string }>

async function served(pds: TestPds): Promise<Served> {
  const out: Served = []
  for await (const { seq, frameBytes } of pds.ctx.events.read(0)) out.push({ seq, hex: Buffer.from(frameBytes).toString('hex') })
  return out
}

function openLevel(path: string): EventLogDb {
  return new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
}

describe('PDS event database', { timeout: 60_000 }, () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: { did: string; accessJwt: string }
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    alice = await createTestAccount(pds.publicUrl, 'journal.test')
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const post = (text: string) => createTestPost(pds.publicUrl, alice, text)

  async function restart(between: () => Promise<void>): Promise<void> {
    await pds.close()
    await between()
    pds = await startTestPds({ plc, dataDir: pds.dataDir, config: { port: Number(new URL(pds.url).port) } })
  }

  /** The last served #commit of alice is her repo's head. */
  async function headAgrees(): Promise<void> {
    let lastCommit: string | null = null
    for (const { hex } of await served(pds)) {
      const frame = parseFrame(Buffer.from(hex, 'hex'))
      if (frame.kind === 'message' && frame.message.t === '#commit' && frame.message.repo === alice.did) lastCommit = frame.message.commit.toString()
    }
    assert.equal(pds.ctx.repos.getHead(alice.did as Did)?.commitCid.toString(), lastCommit)
  }

  it('keeps its events in <data>/events, acknowledged by the repo database', async () => {
    await post('one')
    assert.ok(existsSync(join(pds.dataDir, EVENT_DB_DIR, 'CURRENT')))
    assert.equal(await readAckedSeq(pds.ctx.db), pds.ctx.events.lastSeq())
  })

  it('drops events written ahead of a repo batch that never landed, and gives their seqs again', async () => {
    for (let i = 0; i < 3; i++) await post(`before ${i}`)
    const before = await served(pds)
    const last = before.at(-1)!.seq
    await restart(async () => {
      // What a kill between the event batch and the repo batch leaves (commit-queue.ts).
      const db = openLevel(join(pds.dataDir, EVENT_DB_DIR))
      const log = await LevelEventLog.open(db, { writeAhead: { acknowledged: last } })
      const ahead = log.appendOps([identityEvent(alice.did as Did, null), identityEvent(alice.did as Did, null)])
      await db.batch([...ahead.ops], { sync: true })
      await log.close()
      await db.close()
    })
    assert.equal(pds.ctx.events.droppedOnOpen, 2)
    assert.deepEqual(await served(pds), before)
    await post('after')
    const after = await served(pds)
    assert.equal(after.at(-1)!.seq, last + 1, 'no gap in seq')
    await headAgrees()
  })

  it('moves the events of a data directory from before the split, every frame and seq kept', async () => {
    await post('in the old layout')
    const before = await served(pds)
    await restart(async () => {
      // Rebuild the old layout: the log inside the repo database, no event database, no acknowledgement.
      const repoDb = openLevel(join(pds.dataDir, 'db'))
      const eventDb = openLevel(join(pds.dataDir, EVENT_DB_DIR))
      const legacy = levelEventLogSublevels(repoDb, 'events', { writeAhead: false })
      const current = levelEventLogSublevels(eventDb, 'events', { writeAhead: true })
      const entries = (await current.events.iterator().all()) as Array<[Uint8Array, Uint8Array]>
      assert.equal(entries.length, before.length)
      await repoDb.batch(
        [
          ...entries.map(([key, value]) => ({ type: 'put', sublevel: legacy.events, key, value })),
          { type: 'put', sublevel: legacy.meta, key: 'seq', value: encodeMeta(before.at(-1)!.seq) },
        ] as EventLogBatchOp[],
        { sync: true },
      )
      await repoDb.del('!event-acks!acked' as unknown as Uint8Array, { keyEncoding: 'utf8' })
      assert.equal(await readAckedSeq(repoDb as RootDb), 0)
      await repoDb.close()
      await eventDb.close()
      rmSync(join(pds.dataDir, EVENT_DB_DIR), { recursive: true })
    })
    assert.deepEqual(await served(pds), before)
    const legacy = levelEventLogSublevels(pds.ctx.db as EventLogDb, 'events', { writeAhead: false })
    assert.deepEqual(await legacy.events.keys().all(), [], 'no event left in the repo database')
    assert.deepEqual(await legacy.meta.keys().all(), [])
    assert.equal(await readAckedSeq(pds.ctx.db), before.at(-1)!.seq)
    await post('in the new layout')
    const after = await served(pds)
    assert.equal(after.length, before.length + 1)
    assert.equal(after.at(-1)!.seq, before.at(-1)!.seq + 1)
    const stored = (await levelEventLogSublevels(pds.ctx.journal.db as EventLogDb, 'events', { writeAhead: true }).events.keys().all()) as Uint8Array[]
    assert.deepEqual(stored.map(seqOfKey), after.map((e) => e.seq))
    await headAgrees()
  })
})
