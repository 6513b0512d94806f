/**
 * Group commit (pds/commit-queue.ts, pds/repo/in-flight.ts, pds/writes.ts):
 * the queue on its own (batching, limits, events written ahead and
 * acknowledged, a failed batch fails every commit in it, deletes its events
 * and burns its seqs, dependents fail, ServerBusy, an undeletable event
 * stops the queue), then the PDS
 * writer under concurrent writes of several repos — seeded sequences of
 * creates, updates, deletes and identical records at two paths, pipelined on
 * not-yet-durable heads — checked deeply: stored blocks = reachable blocks,
 * record counts, the #commit chain, and fewer batches than commits. Last, a
 * batch that fails while later writes of the same repo are queued on top of
 * it: they all fail, nothing of theirs is stored or published, and the repo
 * continues from its durable head.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import type { LexMap } from '../../core/data/cbor.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import { seqOfKey } from '../../core/stream/event-log-keys.ts'
import { levelEventLogSublevels, type LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { parseRecordKey } from '../../core/syntax/record-key.ts'
import { CommitQueue } from '../../pds/commit-queue.ts'
import { EventJournal, readAckedSeq as ackedSeq } from '../../pds/event-journal.ts'
import { identityEvent } from '../../pds/sequencer.ts'
import type { PdsWrite, WriteHook } from '../../pds/writes.ts'
import { createTestAccount, startPlcForPds, startTestPds, type TestPds } from '../helpers/pds.ts'
import { checkCommitChain, checkStoredRepo, storedEvents } from '../helpers/pds-repo-check.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { makeRng } from '../helpers/prng.ts'

const POST = parseNsid('app.bsky.feed.post')

async function openDb(): Promise<{ db: RootDb; journal: EventJournal; log: LevelEventLog; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-gc-'))
  const db: RootDb = new Level<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const journal = await EventJournal.open(dir, db)
  return {
    db,
    journal,
    log: journal.log,
    close: async () => {
      await journal.close()
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The seqs stored in the journal's database (not the log's in-memory tail). */
async function storedSeqs(journal: EventJournal): Promise<number[]> {
  const keys = (await levelEventLogSublevels(journal.db, 'events', { writeAhead: true }).events.keys().all()) as Uint8Array[]
  return keys.map(seqOfKey)
}

const event = (i: number): UnsequencedEvent => identityEvent(`did:plc:${'a'.repeat(23)}${i}` as Did, null)

function putOp(db: RootDb, key: string): StoreBatchOp {
  return { type: 'put', key, value: 'v', keyEncoding: 'utf8', valueEncoding: 'utf8' } as unknown as StoreBatchOp
}

/** Fails the `failing` batches written (1-based; array or chained: the queue writes chained batches, native-batch.ts), after `gate`. */
function failBatches(db: RootDb, failing: readonly number[], gate?: Promise<void>): { calls: () => number } {
  const original = db.batch.bind(db) as (...args: unknown[]) => any
  let calls = 0
  const fail = async () => {
    await gate
    throw new Error('injected: disk full')
  }
  ;(db as any).batch = (...args: unknown[]) => {
    calls++
    const failThis = failing.includes(calls)
    if (args.length > 0) return failThis ? fail() : original(...args)
    const chained = original()
    if (failThis) {
      chained.write = async () => {
        await chained.close()
        return fail()
      }
      chained._write = fail // what pds/native-batch.ts calls
    }
    return chained
  }
  return { calls: () => calls }
}

const failNextBatch = (db: RootDb, gate?: Promise<void>) => failBatches(db, [1], gate)

describe('CommitQueue', () => {
  it('writes the commits queued in one turn together, split by the batch limits', async () => {
    const { db, journal, log, close } = await openDb()
    const queue = new CommitQueue(db, journal, { batchCommitsMax: 4 })
    const tickets = Array.from({ length: 10 }, (_, i) => {
      const pending = log.appendOps([event(i)])
      return queue.enqueue({ ops: [putOp(db, `k${i}`)], appends: [pending] })
    })
    await Promise.all(tickets.map((t) => t.durable))
    assert.equal(queue.batches, 3)
    assert.deepEqual(tickets.map((t) => t.state), Array(10).fill('durable'))
    assert.equal(log.lastSeq(), 10)
    assert.equal(await db.get('k9', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), 'v')
    assert.deepEqual(await storedSeqs(journal), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.equal(await ackedSeq(db), 10, 'the last group acknowledged its highest seq')

    const bytesBound = new CommitQueue(db, journal, { batchBytesMax: 1 }) // every commit alone (one always fits)
    await Promise.all([0, 1, 2].map((i) => bytesBound.enqueue({ ops: [putOp(db, `b${i}`)], appends: [] }).durable))
    assert.equal(bytesBound.batches, 3)
    await close()
  })

  it('fails every commit of a failed batch: nothing stored, events written ahead deleted, seqs burned, dependents fail', async () => {
    const { db, journal, log, close } = await openDb()
    const queue = new CommitQueue(db, journal)
    failNextBatch(db)
    const tickets = [0, 1, 2].map((i) => {
      const pending = log.appendOps([event(i)])
      return queue.enqueue({ ops: [putOp(db, `f${i}`)], appends: [pending] })
    })
    const results = await Promise.allSettled(tickets.map((t) => t.durable))
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'])
    assert.deepEqual(tickets.map((t) => t.state), ['failed', 'failed', 'failed'])
    assert.equal(await db.get('f0', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), undefined)
    assert.deepEqual(await storedSeqs(journal), [], 'the events written ahead were deleted')
    const dependent = queue.enqueue({ ops: [putOp(db, 'g')], appends: [], after: tickets[2] })
    await assert.rejects(dependent.durable)
    const pending = log.appendOps([event(9)])
    const fresh = queue.enqueue({ ops: [putOp(db, 'h')], appends: [pending] })
    await fresh.durable
    assert.deepEqual(pending.seqs, [4])
    const seqs: number[] = []
    for await (const frame of log.read(0)) seqs.push(frame.seq)
    assert.deepEqual(seqs, [4])
    assert.deepEqual(await storedSeqs(journal), [4])
    assert.equal(await db.get('g', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), undefined)
    await close()
  })

  it('fails the commits whose events could not be written ahead: nothing of theirs stored', async () => {
    const { db, journal, log, close } = await openDb()
    const queue = new CommitQueue(db, journal)
    failNextBatch(journal.db)
    const pending = log.appendOps([event(0)])
    const ticket = queue.enqueue({ ops: [putOp(db, 'e0')], appends: [pending] })
    await assert.rejects(ticket.durable, /injected/)
    assert.equal(await db.get('e0', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), undefined)
    assert.equal(await ackedSeq(db), 0)
    const next = log.appendOps([event(1)])
    await queue.enqueue({ ops: [putOp(db, 'e1')], appends: [next] }).durable
    assert.deepEqual(await storedSeqs(journal), [2])
    assert.equal(log.lastSeq(), 2)
    await close()
  })

  it('refuses every later commit, and publishes nothing more, when a failed batch\'s events cannot be deleted', async () => {
    const { db, journal, log, close } = await openDb()
    const queue = new CommitQueue(db, journal)
    failNextBatch(db)
    failBatches(journal.db, [2]) // 1: the events ahead (written), 2: deleting them again (fails)
    const pending = log.appendOps([event(0)])
    const ticket = queue.enqueue({ ops: [putOp(db, 'u0')], appends: [pending] })
    await assert.rejects(ticket.durable, /injected/)
    assert.throws(() => queue.enqueue({ ops: [putOp(db, 'u1')], appends: [] }), { name: 'InternalServerError' })
    assert.equal(log.lastSeq(), 0, 'the undeletable event is never published')
    assert.deepEqual(await storedSeqs(journal), [1])
    assert.equal(await ackedSeq(db), 0, 'so a restart drops it')
    await close()
  })

  it('refuses one commit more than the queue holds with ServerBusy', async () => {
    const { db, journal, close } = await openDb()
    const queue = new CommitQueue(db, journal, { queueCommitsMax: 2 })
    const a = queue.enqueue({ ops: [putOp(db, 'a')], appends: [] })
    const b = queue.enqueue({ ops: [putOp(db, 'b')], appends: [] })
    assert.throws(() => queue.enqueue({ ops: [putOp(db, 'c')], appends: [] }), { name: 'ServerBusy' })
    await Promise.all([a.durable, b.durable])
    await queue.enqueue({ ops: [putOp(db, 'c')], appends: [] }).durable
    await close()
  })
})

/** A seeded sequence of writes for one repo, valid in order; `model` is the records afterwards. */
function writeSequence(seed: number, n: number): { writes: PdsWrite[][]; model: Map<string, string> } {
  const rng = makeRng(seed)
  const model = new Map<string, string>()
  const writes: PdsWrite[][] = []
  const record = (text: string): LexMap => ({ $type: 'app.bsky.feed.post', text, createdAt: '2025-01-01T00:00:00.000Z' })
  for (let i = 0; i < n; i++) {
    const paths = [...model.keys()]
    const roll = rng.int(10)
    // Identical texts on purpose (shared record blocks): only 6 distinct contents.
    const text = `post ${rng.int(6)}`
    if (roll < 2 && paths.length > 0) {
      const rkey = rng.pick(paths)
      model.delete(rkey)
      writes.push([{ action: 'delete', collection: POST, rkey: parseRecordKey(rkey) }])
    } else if (roll < 4 && paths.length > 0) {
      const rkey = rng.pick(paths)
      const changed = model.get(rkey) === text ? `${text}!` : text // never a no-op
      model.set(rkey, changed)
      writes.push([{ action: 'put', collection: POST, rkey: parseRecordKey(rkey), record: record(changed) }])
    } else {
      const rkey = `r${seed}x${i}`
      model.set(rkey, text)
      writes.push([{ action: 'create', collection: POST, rkey: parseRecordKey(rkey), record: record(text) }])
    }
  }
  return { writes, model }
}

describe('PDS writer with group commit', () => {
  let plc: TestPlc
  let pds: TestPds
  let otherHooks: WriteHook[]
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    // Other modules' hooks (blobs) may not be pipeline-safe, which would serialize same-repo writes.
    otherHooks = pds.ctx.writeHooks.splice(0)
  })
  after(async () => {
    pds.ctx.writeHooks.push(...otherHooks)
    await pds.stop()
    await plc.stop()
  })

  it('pipelines concurrent writes of several repos into shared batches, every invariant kept', async () => {
    const dids: Did[] = []
    for (const name of ['gc-a', 'gc-b', 'gc-c']) dids.push((await createTestAccount(pds.publicUrl, `${name}.test`)).did as Did)
    const batchesBefore = pds.ctx.writer.stats().batches
    const plans = dids.map((_, i) => writeSequence(100 + i, 40))
    const all: Promise<unknown>[] = []
    for (let step = 0; step < 40; step++) {
      dids.forEach((did, i) => all.push(pds.ctx.writer.write(did, plans[i]!.writes[step]!)))
    }
    await Promise.all(all)
    const batches = pds.ctx.writer.stats().batches - batchesBefore
    assert.ok(batches < all.length / 2, `${all.length} writes took ${batches} batches`)
    assert.equal(pds.ctx.writer.stats().inFlightRepos, 0)
    for (const [i, did] of dids.entries()) {
      const leaves = await checkStoredRepo(pds.ctx, did)
      assert.deepEqual([...leaves.keys()].sort(), [...plans[i]!.model.keys()].map((k) => `app.bsky.feed.post/${k}`).sort())
      const commits = await checkCommitChain(pds.ctx, did)
      assert.equal(commits.length, 1 + 40) // the first commit, then one per write (none is a no-op: rkeys are fresh, puts change the text)
    }
  })

  it('fails the writes built on a failed batch and continues from the durable head', async () => {
    const did = (await createTestAccount(pds.publicUrl, 'gc-fail.test')).did as Did
    const record = (text: string): LexMap => ({ $type: 'app.bsky.feed.post', text, createdAt: '2025-01-01T00:00:00.000Z' })
    const create = (rkey: string): PdsWrite[] => [{ action: 'create', collection: POST, rkey: parseRecordKey(rkey), record: record(rkey) }]
    await pds.ctx.writer.write(did, create('kept'))
    const headBefore = pds.ctx.repos.getHead(did)
    const seqBefore = pds.ctx.events.lastSeq()
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const injected = failNextBatch(pds.ctx.db, gate)
    const first = pds.ctx.writer.write(did, create('lost1'))
    while (injected.calls() === 0) await new Promise((resolve) => setImmediate(resolve))
    // lost1's batch is being written; these are prepared on its pending head.
    const later = [pds.ctx.writer.write(did, create('lost2')), pds.ctx.writer.write(did, create('lost3'))]
    while (pds.ctx.writer.stats().queued < 2) await new Promise((resolve) => setImmediate(resolve))
    open()
    const results = await Promise.allSettled([first, ...later])
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'])
    assert.equal(pds.ctx.writer.stats().inFlightRepos, 0)
    assert.ok(pds.ctx.repos.getHead(did)?.commitCid.equals(headBefore!.commitCid))
    const next = await pds.ctx.writer.write(did, create('after'))
    assert.ok(next.commit !== null)
    const leaves = await checkStoredRepo(pds.ctx, did)
    assert.deepEqual([...leaves.keys()].sort(), ['app.bsky.feed.post/after', 'app.bsky.feed.post/kept'])
    const commits = await checkCommitChain(pds.ctx, did)
    assert.equal(commits.length, 3)
    const published = (await storedEvents(pds.ctx)).filter((e) => e.seq > seqBefore)
    assert.equal(published.length, 1)
    assert.equal(published[0]!.seq, seqBefore + 4) // three seqs burned
  })

  it('prepares a write only once the previous one is durable when a hook is not pipeline-safe', async () => {
    const did = (await createTestAccount(pds.publicUrl, 'gc-serial.test')).did as Did
    const record: LexMap = { $type: 'app.bsky.feed.post', text: 'x', createdAt: '2025-01-01T00:00:00.000Z' }
    const create = (rkey: string): PdsWrite[] => [{ action: 'create', collection: POST, rkey: parseRecordKey(rkey), record }]
    const seen: number[] = []
    const unsafe: WriteHook = { prepare: (d) => void seen.push(pds.ctx.writer.stats().inFlightRepos) }
    const safe: WriteHook = { ...unsafe, pipelineSafe: (writes) => writes.every((w) => w.action === 'create') }
    for (const [hook, pipelined] of [[unsafe, false], [safe, true]] as const) {
      pds.ctx.writeHooks.push(hook)
      seen.length = 0
      await Promise.all(Array.from({ length: 6 }, (_, i) => pds.ctx.writer.write(did, create(`${pipelined}${i}`))))
      pds.ctx.writeHooks.pop()
      // inFlightRepos counts DIDs with undurable commits when each write is prepared.
      assert.equal(seen.some((n) => n > 0), pipelined, `seen ${seen.join(',')}`)
    }
    await checkStoredRepo(pds.ctx, did)
  })
})
