/**
 * The consumer's parts on their own, with seeded random schedules:
 * CursorTracker (the watermark is always the longest finished prefix;
 * cursorIfDone never exceeds what finishing that event allows), RepoScheduler
 * (per-key order, the concurrency bound, whenSizeBelow), CursorWriter
 * (coalesced writes, a handler-stored cursor not written again), and the
 * cursor stores.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Level } from 'level'
import { CursorTracker } from '../../feedgen/consumer/cursor-tracker.ts'
import { RepoScheduler } from '../../feedgen/consumer/repo-scheduler.ts'
import { CursorWriter } from '../../feedgen/consumer/cursor-writer.ts'
import { LevelCursorStore, MemoryCursorStore } from '../../feedgen/consumer/cursor-store.ts'
import { makeRng } from '../helpers/prng.ts'
import { tempDir } from '../helpers/plc.ts'

test('CursorTracker: the watermark is the longest finished prefix, whatever the finishing order', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rng = makeRng(seed)
    const start = rng.int(3) === 0 ? null : rng.int(100)
    const tracker = new CursorTracker(start)
    let next = (start ?? 0) + 1
    const open: number[] = []
    const finished = new Set<number>()
    const added: number[] = []
    for (let step = 0; step < 400; step++) {
      if (open.length === 0 || rng.next() < 0.55) {
        next += 1 + rng.int(3) // seqs may have gaps
        tracker.add(next)
        open.push(next)
        added.push(next)
        continue
      }
      const seq = open.splice(rng.int(open.length), 1)[0]!
      const ifDone = tracker.cursorIfDone(seq)
      tracker.done(seq)
      finished.add(seq)
      let expected = start
      for (const s of added) {
        if (!finished.has(s)) break
        expected = s
      }
      assert.equal(tracker.watermark, expected, `seed ${seed}`)
      assert.equal(ifDone, expected, `seed ${seed}: cursorIfDone must equal the watermark right after`)
      assert.equal(tracker.inFlight, open.length + [...finished].filter((s) => expected === null || s > expected).length)
    }
  }
})

test('CursorTracker: out-of-order adds and unknown seqs are our bugs (assertions)', () => {
  const t = new CursorTracker(5)
  assert.throws(() => t.add(5), { name: 'AssertionError' })
  t.add(7)
  assert.throws(() => t.done(6), { name: 'AssertionError' })
  assert.equal(t.cursorIfDone(7), 7)
  assert.equal(t.done(7), 7)
})

test('RepoScheduler: per-key order, at most `concurrency` at once, every task runs', async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const rng = makeRng(seed)
    const concurrency = 1 + rng.int(4)
    const scheduler = new RepoScheduler({ concurrency, onTaskError: (err) => assert.fail(String(err)) })
    const log = new Map<string, number[]>()
    const busy = new Set<string>()
    let running = 0
    let peak = 0
    for (let i = 0; i < 200; i++) {
      const key = `did:k${rng.int(6)}`
      const delay = rng.int(3)
      await scheduler.whenSizeBelow(20)
      assert.ok(scheduler.size < 20)
      scheduler.push(key, async () => {
        assert.ok(!busy.has(key), 'a key ran twice at once')
        busy.add(key)
        peak = Math.max(peak, ++running)
        await new Promise((r) => setTimeout(r, delay))
        running--
        busy.delete(key)
        log.set(key, [...(log.get(key) ?? []), i])
      })
    }
    await scheduler.idle()
    assert.equal(scheduler.size, 0)
    assert.ok(peak <= concurrency, `peak ${peak} > ${concurrency}`)
    assert.equal([...log.values()].flat().length, 200)
    for (const order of log.values()) assert.deepEqual(order, [...order].sort((a, b) => a - b))
  }
})

test('CursorWriter: coalesces a burst into few writes; a cursor the handler stored is not rewritten', async () => {
  const store = new MemoryCursorStore(null)
  let release!: () => void
  const slow = { get: store.get.bind(store), set: async (seq: number) => { await new Promise<void>((r) => (release = r)); await store.set(seq) } }
  const writer = new CursorWriter(slow, null, (err) => assert.fail(String(err)))
  for (let seq = 1; seq <= 100; seq++) writer.want(seq, null)
  await new Promise((r) => setImmediate(r))
  release() // first write (1) lands; 100 is next
  await new Promise((r) => setImmediate(r))
  release()
  await writer.flush()
  assert.deepEqual(store.history, [1, 100])

  const direct = new MemoryCursorStore(null)
  const w2 = new CursorWriter(direct, null, (err) => assert.fail(String(err)))
  w2.want(7, 7)
  await w2.flush()
  assert.deepEqual(direct.history, [])
  assert.equal(w2.persisted, 7)
  await w2.flush({ force: true })
  assert.deepEqual(direct.history, [7])
})

test('LevelCursorStore: round trip, batch op, corrupt value is InvalidCursor', async () => {
  const dir = tempDir('atfed-cursor-')
  const db = new Level<string, string>(dir.path)
  try {
    const store = new LevelCursorStore(db)
    assert.equal(await store.get(), null)
    await store.set(42)
    assert.equal(await store.get(), 42)
    await db.batch([store.putOp(43)])
    assert.equal(await new LevelCursorStore(db).get(), 43)
    assert.equal(await new LevelCursorStore(db, 'other').get(), null)
    await db.sublevel('consumer').put('cursor', '12abc')
    await assert.rejects(store.get(), { name: 'InvalidCursor' })
    assert.throws(() => store.putOp(-1), { name: 'AssertionError' })
  } finally {
    await db.close()
    dir.remove()
  }
})
