/**
 * The EventLog contract (core/stream/event-log.ts) as a reusable suite: any
 * backend (LevelEventLog today, a JetStream-backed log later) runs
 * `runEventLogCompliance(name, makeLog)` from its own test file.
 *
 * `makeLog` opens a fresh, empty log on a clock the suite controls and
 * returns a harness: `writeBatch` writes `appendOps` output the way a write
 * path would (one atomic batch, possibly with its own ops), `reopen` closes
 * and reopens the same storage (a restart).
 *
 * Where backends may differ (stated here, so both pass the same suite):
 * - Publishing may follow `commit()` asynchronously (a JetStream log learns
 *   that its publish landed from the stream), so after a commit the suite
 *   waits for `lastSeq` instead of reading it at once; it still checks that
 *   nothing is published BEFORE the commit of every lower seq.
 * - `onAppend` may report one advance per event or one per batch: the suite
 *   checks that reports increase and reach each append's last seq.
 * - `callerBatch: false` (JetStream): `appendOps` cannot put its event into
 *   the caller's own atomic batch, because publishing IS sequencing there;
 *   an event written in a batch whose process dies before `commit()` is not
 *   published after a restart (it was never durable), and its seq is not
 *   taken. The level log (`callerBatch: true`, the default) is checked for
 *   the stronger behaviour: such an event is published after the restart.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { EventLog, EventLogBatchOp, LoggedFrame } from '../../core/stream/event-log.ts'
import { decodeFrame } from '../../core/stream/frames.ts'
import { unsequenced } from './fixtures.ts'

export type EventLogHarness = {
  log: EventLog
  writeBatch(ops: readonly EventLogBatchOp[]): Promise<void>
  reopen(options?: { initialSeq?: number }): Promise<EventLogHarness>
  close(): Promise<void>
}

export type MakeEventLog = (options: { now: () => number }) => Promise<EventLogHarness>
export type EventLogFeatures = { callerBatch?: boolean }

const SETTLE_TIMEOUT_MS = 10_000

/** Wait until the log has published through `seq` (at once for a synchronous backend). */
async function published(log: EventLog, seq: number): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS
  while (log.lastSeq() < seq) {
    assert.ok(Date.now() < deadline, `lastSeq stuck at ${log.lastSeq()}, expected ${seq}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function assertIncreasing(seen: readonly number[], last: number): void {
  for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) > (seen[i - 1] as number), `reports not increasing: ${seen.join(',')}`)
  assert.equal(seen[seen.length - 1], last)
}

async function collect(log: EventLog, afterSeq: number, limit?: number): Promise<LoggedFrame[]> {
  const out: LoggedFrame[] = []
  for await (const entry of log.read(afterSeq, limit)) out.push(entry)
  return out
}

async function seqsOf(log: EventLog, afterSeq = 0, limit?: number): Promise<number[]> {
  return (await collect(log, afterSeq, limit)).map((e) => e.seq)
}

function payloadSeq(frame: Uint8Array): number {
  const decoded = decodeFrame(frame)
  assert.ok(decoded.kind === 'message')
  return decoded.payload.seq as number
}

async function withLog(makeLog: MakeEventLog, body: (h: EventLogHarness, clock: { now: number }) => Promise<EventLogHarness | void>): Promise<void> {
  const clock = { now: 1_700_000_000_000 }
  let h = await makeLog({ now: () => clock.now })
  try {
    h = (await body(h, clock)) ?? h
  } finally {
    await h.close()
  }
}

export function runEventLogCompliance(name: string, makeLog: MakeEventLog, features: EventLogFeatures = {}): void {
  const callerBatch = features.callerBatch ?? true
  describe(`EventLog compliance: ${name}`, () => {
    test('an empty log', () =>
      withLog(makeLog, async ({ log }) => {
        assert.equal(log.lastSeq(), 0)
        assert.equal(log.floorSeq(), 0)
        assert.equal(await log.oldestSeq(), null)
        assert.deepEqual(await seqsOf(log), [])
      }))

    test('append gives strictly increasing seqs from 1, stored in the frames', () =>
      withLog(makeLog, async ({ log }) => {
        assert.deepEqual(await log.append([unsequenced(1)]), [1])
        assert.deepEqual(await log.append([unsequenced(2), unsequenced(3), unsequenced(4)]), [2, 3, 4])
        assert.equal(log.lastSeq(), 4)
        assert.equal(await log.oldestSeq(), 1)
        const frames = await collect(log, 0)
        assert.deepEqual(frames.map((f) => f.seq), [1, 2, 3, 4])
        for (const f of frames) assert.equal(payloadSeq(f.frameBytes), f.seq)
      }))

    test('read returns seq > afterSeq, in order, at most limit, frames byte-exact', () =>
      withLog(makeLog, async ({ log }) => {
        const pending = log.appendOps(Array.from({ length: 50 }, (_, i) => unsequenced(i + 1)))
        const appended = log.append(Array.from({ length: 50 }, (_, i) => unsequenced(i + 1)))
        pending.abort() // settles the earlier seqs 1..50 as burned: only 51..100 exist
        assert.deepEqual(await appended, Array.from({ length: 50 }, (_, i) => i + 51))
        assert.equal(log.lastSeq(), 100)
        assert.deepEqual(await seqsOf(log, 0, 3), [51, 52, 53])
        assert.deepEqual(await seqsOf(log, 75, 5), [76, 77, 78, 79, 80])
        assert.deepEqual(await seqsOf(log, 98), [99, 100])
        assert.deepEqual(await seqsOf(log, 100), [])
        assert.deepEqual(await seqsOf(log, 10, 2), [51, 52])
      }))

    test('appendOps: invisible until commit, written in the caller batch with its own ops', () =>
      withLog(makeLog, async (h) => {
        const { log } = h
        const pending = log.appendOps([unsequenced(1), unsequenced(2)])
        assert.deepEqual(pending.seqs, [1, 2])
        assert.equal(pending.frames.length, 2)
        const seen: number[] = []
        log.onAppend((last) => seen.push(last))
        await h.writeBatch(pending.ops)
        assert.equal(log.lastSeq(), 0, 'not published before commit()')
        assert.deepEqual(await seqsOf(log), [])
        pending.commit()
        await published(log, 2)
        assert.equal(log.lastSeq(), 2)
        assertIncreasing(seen, 2)
        const frames = await collect(log, 0)
        assert.deepEqual(frames.map((f) => Buffer.from(f.frameBytes)), pending.frames.map((f) => Buffer.from(f)))
      }))

    test('abort burns the seqs: never reused, never published', () =>
      withLog(makeLog, async ({ log }) => {
        const burned = log.appendOps([unsequenced(1)])
        burned.abort()
        assert.deepEqual(await log.append([unsequenced(2)]), [2])
        assert.deepEqual(await seqsOf(log), [2])
        assert.throws(() => burned.commit(), /settled twice/)
      }))

    test('out-of-order commits: nothing past an unsettled append is published', () =>
      withLog(makeLog, async (h) => {
        const { log } = h
        const seen: number[] = []
        log.onAppend((last) => seen.push(last))
        const a = log.appendOps([unsequenced(1)])
        const b = log.appendOps([unsequenced(2), unsequenced(3)])
        const c = log.appendOps([unsequenced(4)])
        await h.writeBatch(b.ops)
        b.commit()
        await h.writeBatch(c.ops)
        c.commit()
        await new Promise((resolve) => setTimeout(resolve, 50)) // an asynchronous backend had time to misbehave
        assert.equal(log.lastSeq(), 0)
        assert.deepEqual(await seqsOf(log), [], 'a reader must not see 2..4 before 1 settles')
        await h.writeBatch(a.ops)
        a.commit()
        await published(log, 4)
        assert.equal(log.lastSeq(), 4)
        assertIncreasing(seen, 4)
        assert.deepEqual(await seqsOf(log), [1, 2, 3, 4])
      }))

    test('onAppend reports each advance; unsubscribe stops it', () =>
      withLog(makeLog, async ({ log }) => {
        const seen: number[] = []
        const off = log.onAppend((last) => seen.push(last))
        await log.append([unsequenced(1)])
        assertIncreasing(seen, 1)
        await log.append([unsequenced(2), unsequenced(3)])
        assertIncreasing(seen, 3)
        off()
        const before = seen.length
        await log.append([unsequenced(4)])
        assert.equal(seen.length, before, 'no report after unsubscribe')
      }))

    test('a read started before appends ends at the head it saw; a new read sees the rest', () =>
      withLog(makeLog, async ({ log }) => {
        await log.append(Array.from({ length: 10 }, (_, i) => unsequenced(i + 1)))
        const got: number[] = []
        for await (const e of log.read(0)) {
          got.push(e.seq)
          if (e.seq === 5) await log.append([unsequenced(11)])
        }
        assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        assert.deepEqual(await seqsOf(log, 10), [11])
      }))

    test('seqs survive a reopen and are never reused', () =>
      withLog(makeLog, async (h) => {
        await h.log.append([unsequenced(1), unsequenced(2), unsequenced(3)])
        const dangling = h.log.appendOps([unsequenced(4)])
        await h.writeBatch(dangling.ops) // durable (callerBatch), but the process "dies" before commit()
        h = await h.reopen()
        if (callerBatch) {
          assert.equal(h.log.lastSeq(), 4, 'a durable event is published after a restart')
          assert.deepEqual(await seqsOf(h.log), [1, 2, 3, 4])
          assert.deepEqual(await h.log.append([unsequenced(5)]), [5])
        } else {
          assert.equal(h.log.lastSeq(), 3, 'an uncommitted publish never happened')
          assert.deepEqual(await seqsOf(h.log), [1, 2, 3])
          assert.deepEqual(await h.log.append([unsequenced(5)]), [4])
        }
        return h
      }))

    test('trim deletes by age, raises the floor, and a log trimmed empty still never reuses a seq', () =>
      withLog(makeLog, async (h, clock) => {
        await h.log.append([unsequenced(1), unsequenced(2)])
        clock.now += 60_000
        await h.log.append([unsequenced(3)])
        clock.now += 60_000
        assert.equal(await h.log.trim(90_000), 2)
        assert.equal(h.log.floorSeq(), 2)
        assert.equal(await h.log.oldestSeq(), 3)
        assert.deepEqual(await seqsOf(h.log, 0), [3])
        assert.equal(await h.log.trim(90_000), 0)
        assert.equal(await h.log.trim(0), 1)
        assert.equal(await h.log.oldestSeq(), null)
        assert.equal(h.log.floorSeq(), 3)
        assert.equal(h.log.lastSeq(), 3)
        h = await h.reopen()
        assert.equal(h.log.floorSeq(), 3)
        assert.deepEqual(await h.log.append([unsequenced(4)]), [4])
        return h
      }))

    test('initialSeq: a reset log starts above the old maximum and floors the gap', () =>
      withLog(makeLog, async (h) => {
        await h.log.append([unsequenced(1)])
        h = await h.reopen({ initialSeq: 1_000_000 })
        assert.equal(h.log.lastSeq(), 999_999)
        assert.equal(h.log.floorSeq(), 999_999)
        assert.deepEqual(await h.log.append([unsequenced(2)]), [1_000_000])
        h = await h.reopen()
        assert.deepEqual(await h.log.append([unsequenced(3)]), [1_000_001])
        return h
      }))

    test('many appends: pages of reads cover every seq exactly once', () =>
      withLog(makeLog, async ({ log }) => {
        const total = 1_200
        for (let i = 0; i < total; i += 100) {
          await log.append(Array.from({ length: 100 }, (_, j) => unsequenced(i + j + 1)))
        }
        const all: number[] = []
        let after = 0
        for (;;) {
          const page = await seqsOf(log, after, 256)
          if (page.length === 0) break
          all.push(...page)
          after = page[page.length - 1] as number
        }
        assert.deepEqual(all, Array.from({ length: total }, (_, i) => i + 1))
      }))
  })
}
