/**
 * `EventLog` on `level` (see event-log.ts for the contract).
 *
 * Layout, two sublevels of the caller's root db under `name`:
 * - `[name, 'events']`: key = seq (8 bytes big-endian) ‖ append time in ms
 *   (8 bytes big-endian), value = the complete frame. Keys sort by seq, so a
 *   replay is one range scan; the time in the key lets `trim` walk keys only,
 *   never loading frames.
 * - `[name, 'meta']`: `seq` = highest seq allocated so far, written in EVERY
 *   append batch (so it is as durable as the event itself) and in every trim
 *   batch; `floor` = highest seq that may be gone.
 *
 * Recovery on open: next seq = max(meta seq, last stored key, initialSeq - 1)
 * + 1. Concurrent batches can land out of order and leave meta `seq` a
 * little behind the last key; the max covers that, and trim writes the
 * in-memory high-water mark, so even a log trimmed empty never reuses a seq.
 *
 * A write-ahead log (`writeAhead`: the PDS's, pds/event-journal.ts) has a
 * database of its own and is written ahead of the state it announces, which
 * records the highest seq it acknowledges. On open, later events are deleted
 * and their seqs given again — they were never published, so no reader saw
 * them. Its meta sublevel is `[name, '#meta']`, which sorts BEFORE the
 * events, and appends write no meta key: a key at the top of the range in
 * any batch makes that LevelDB table span every newer one, so each
 * compaction drags it along and the append-only tables can never move down a
 * level untouched (measured with `meta` after the events: 37 compactions
 * rewriting 1.8x the log's bytes in an 8 min soak).
 *
 * Publishing: appends are queued in seq order; an entry is published when it
 * and all entries before it are settled (committed or aborted). Published
 * frames also go into a bounded in-memory tail (event-log-tail.ts) that live
 * readers are served from.
 */
import { AtfedError, assert } from '../errors.ts'
import {
  EVENT_LOG_APPEND_EVENTS_MAX,
  EVENT_LOG_READ_EVENTS_MAX,
  EVENT_LOG_TAIL_BYTES_MAX,
  EVENT_LOG_TAIL_FRAMES_MAX,
  EVENT_LOG_TRIM_BATCH_EVENTS_MAX,
  STREAM_SEQ_MAX,
} from '../limits.ts'
import { encodeEventFrame, withSeq } from './events.ts'
import type { UnsequencedEvent } from './events.ts'
import { EventLogTail } from './event-log-tail.ts'
import type { AppendListener, AppendOptions, EventLog, EventLogBatchOp, EventLogDb, LoggedFrame, PendingAppend } from './event-log.ts'
import { decodeMeta, encodeMeta, eventKey, eventKeyRange, seqOfKey, timeOfKey } from './event-log-keys.ts'

export type LevelEventLogOptions = {
  /** Sublevel namespace, so several logs can share a db. Default `events`. */
  name?: string
  /** The first seq of a new log, or a floor to jump to after data loss (relay `--initial-seq-number`). */
  initialSeq?: number
  /** Clock for append times and trim. */
  now?: () => number
  /** Durable batches for `append` (default true). */
  sync?: boolean
  tailFramesMax?: number
  tailBytesMax?: number
  /**
   * A write-ahead log (module header): events above `acknowledged` were
   * written ahead of a change that never became durable; they are deleted
   * on open and their seqs allocated again. Fixed for a database's life:
   * the layout differs.
   */
  writeAhead?: { acknowledged: number }
}

type Sub = ReturnType<EventLogDb['sublevel']>
/** What `open` recovered from storage. */
type Recovered = { seq: number; floor: number; lastTimeMs: number; droppedOnOpen: number }
type Queued = { last: number; frames: Uint8Array[]; first: number; state: 'pending' | 'committed' | 'aborted' }

const BINARY = { keyEncoding: 'view', valueEncoding: 'view' } as const

/** Where a log named `name` keeps its events and its meta numbers in `db` (module header). */
export function levelEventLogSublevels(db: EventLogDb, name: string, layout: { writeAhead: boolean }): { events: Sub; meta: Sub } {
  return {
    events: db.sublevel<Uint8Array, Uint8Array>([name, 'events'], BINARY) as unknown as Sub,
    meta: db.sublevel<string, Uint8Array>([name, layout.writeAhead ? '#meta' : 'meta'], { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Sub,
  }
}

export class LevelEventLog implements EventLog {
  readonly db: EventLogDb
  /** A write-ahead log: how many unacknowledged events `open` deleted (0 otherwise). */
  readonly droppedOnOpen: number
  readonly #events: Sub
  readonly #meta: Sub
  readonly #now: () => number
  readonly #sync: boolean
  readonly #seqInEveryAppend: boolean
  readonly #tail: EventLogTail
  readonly #listeners = new Set<AppendListener>()
  readonly #queue: Queued[] = []
  #allocated: number
  #published: number
  #floor: number
  #lastTimeMs = 0
  #closed = false

  private constructor(db: EventLogDb, init: Recovered & { events: Sub; meta: Sub; options: LevelEventLogOptions }) {
    const { options } = init
    this.db = db
    this.droppedOnOpen = init.droppedOnOpen
    this.#events = init.events
    this.#meta = init.meta
    this.#now = options.now ?? Date.now
    this.#sync = options.sync ?? true
    this.#seqInEveryAppend = options.writeAhead === undefined
    this.#allocated = init.seq
    this.#published = init.seq
    this.#floor = init.floor
    this.#lastTimeMs = init.lastTimeMs
    this.#tail = new EventLogTail(init.seq, {
      framesMax: options.tailFramesMax ?? EVENT_LOG_TAIL_FRAMES_MAX,
      bytesMax: options.tailBytesMax ?? EVENT_LOG_TAIL_BYTES_MAX,
    })
  }

  static async open(db: EventLogDb, options: LevelEventLogOptions = {}): Promise<LevelEventLog> {
    const name = options.name ?? 'events'
    const initialSeq = options.initialSeq ?? 1
    assert(Number.isSafeInteger(initialSeq) && initialSeq >= 1, 'initialSeq must be a positive integer')
    await db.open()
    const { events, meta } = levelEventLogSublevels(db, name, { writeAhead: options.writeAhead !== undefined })
    const droppedOnOpen = options.writeAhead === undefined ? 0 : await truncate(db, events, meta, options.writeAhead.acknowledged)
    const metaSeq = decodeMeta((await meta.get('seq')) as Uint8Array | undefined)
    const metaFloor = decodeMeta((await meta.get('floor')) as Uint8Array | undefined)
    const lastKeys = (await events.keys({ reverse: true, limit: 1 }).all()) as Uint8Array[]
    const lastStored = lastKeys[0] === undefined ? 0 : seqOfKey(lastKeys[0])
    const lastTimeMs = lastKeys[0] === undefined ? 0 : timeOfKey(lastKeys[0])
    let seq = Math.max(metaSeq, lastStored)
    let floor = metaFloor
    if (seq < initialSeq - 1) {
      // A new log, or a reset one told to start above its old maximum: nothing below is available.
      seq = initialSeq - 1
      floor = Math.max(floor, seq)
      await db.batch(
        [
          { type: 'put', sublevel: meta, key: 'seq', value: encodeMeta(seq) },
          { type: 'put', sublevel: meta, key: 'floor', value: encodeMeta(floor) },
        ] as EventLogBatchOp[],
        { sync: true },
      )
    }
    return new LevelEventLog(db, { events, meta, seq, floor, lastTimeMs, droppedOnOpen, options })
  }

  lastSeq(): number {
    return this.#published
  }

  /**
   * Deletes of the events `pending` put, for a log in its own database whose
   * caller wrote them ahead of a change that then failed: the caller writes
   * these (and awaits them) before `abort()`, so no reader can find them.
   */
  undoOps(pending: PendingAppend): EventLogBatchOp[] {
    return pending.ops.flatMap((op) => (op.type === 'put' && op.sublevel === this.#events ? [{ type: 'del', sublevel: this.#events, key: op.key }] : []))
  }

  floorSeq(): number {
    return this.#floor
  }

  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  appendOps(events: readonly UnsequencedEvent[], options: AppendOptions = {}): PendingAppend {
    return this.appendFrameOps(events.length, (seq, i) => encodeEventFrame(withSeq(events[i] as UnsequencedEvent, seq)), options)
  }

  /**
   * `appendOps` for a stream whose frames are not repo events (the labeler's
   * `#labels`): `encode(seq, i)` builds the complete frame of the i-th of
   * `count` entries with the seq it was given. Same contract as `appendOps`.
   */
  appendFrameOps(count: number, encode: (seq: number, index: number) => Uint8Array, options: AppendOptions = {}): PendingAppend {
    if (this.#closed) throw new AtfedError('EventLogClosed', 'the event log is closed')
    assert(count >= 1 && count <= EVENT_LOG_APPEND_EVENTS_MAX, 'append takes 1..EVENT_LOG_APPEND_EVENTS_MAX events')
    const first = this.#allocated + 1
    const last = this.#allocated + count
    if (last > STREAM_SEQ_MAX) throw new AtfedError('SeqExhausted', 'the event log has used every seq below 2^53')
    // Encode before allocating: a FrameTooLarge here burns no seq.
    const frames = Array.from({ length: count }, (_, i) => encode(first + i, i))
    const timeMs = Math.max(options.timeMs ?? this.#now(), this.#lastTimeMs)
    this.#lastTimeMs = timeMs
    this.#allocated = last
    const ops: EventLogBatchOp[] = frames.map((frame, i) => ({
      type: 'put',
      sublevel: this.#events,
      key: eventKey(first + i, timeMs),
      value: frame,
    }))
    if (this.#seqInEveryAppend) ops.push({ type: 'put', sublevel: this.#meta, key: 'seq', value: encodeMeta(last) })
    const queued: Queued = { first, last, frames, state: 'pending' }
    this.#queue.push(queued)
    const seqs = frames.map((_, i) => first + i)
    const settle = (state: 'committed' | 'aborted'): void => {
      assert(queued.state === 'pending', 'a pending append was settled twice')
      queued.state = state
      this.#publishSettled()
    }
    return { seqs, frames, ops, commit: () => settle('committed'), abort: () => settle('aborted') }
  }

  async append(events: readonly UnsequencedEvent[], options: AppendOptions = {}): Promise<number[]> {
    const pending = this.appendOps(events, options)
    try {
      await this.db.batch(pending.ops as EventLogBatchOp[], { sync: this.#sync })
    } catch (err) {
      pending.abort()
      throw err
    }
    pending.commit()
    return [...pending.seqs]
  }

  #publishSettled(): void {
    const before = this.#published
    while (this.#queue.length > 0 && (this.#queue[0] as Queued).state !== 'pending') {
      const done = this.#queue.shift() as Queued
      if (done.state === 'committed') {
        done.frames.forEach((frame, i) => this.#tail.push(done.first + i, frame))
      }
      this.#published = done.last
    }
    if (this.#published !== before && !this.#closed) {
      for (const listener of this.#listeners) listener(this.#published)
    }
  }

  async *read(afterSeq: number, limit: number = EVENT_LOG_READ_EVENTS_MAX): AsyncGenerator<LoggedFrame, void, undefined> {
    assert(Number.isSafeInteger(afterSeq) && afterSeq >= 0, 'read afterSeq must be a non-negative integer')
    const count = Math.min(limit, EVENT_LOG_READ_EVENTS_MAX)
    const upTo = this.#published
    if (afterSeq >= upTo || count <= 0) return
    if (afterSeq >= this.#tail.from) {
      yield* this.#tail.slice(afterSeq, upTo, count)
      return
    }
    const iterator = this.#events.iterator({ ...eventKeyRange(afterSeq + 1, upTo), limit: count })
    try {
      for (;;) {
        const entry = (await iterator.next()) as [Uint8Array, Uint8Array] | undefined
        if (entry === undefined) return
        yield { seq: seqOfKey(entry[0]), frameBytes: entry[1] }
      }
    } finally {
      await iterator.close()
    }
  }

  async oldestSeq(): Promise<number | null> {
    const keys = (await this.#events.keys({ limit: 1 }).all()) as Uint8Array[]
    return keys[0] === undefined ? null : seqOfKey(keys[0])
  }

  async trim(olderThanMs: number): Promise<number> {
    assert(Number.isFinite(olderThanMs) && olderThanMs >= 0, 'trim olderThanMs must be a non-negative number')
    const cutoffMs = this.#now() - olderThanMs
    let deleted = 0
    for (;;) {
      const range = eventKeyRange(this.#floor + 1, this.#published)
      const keys = (await this.#events.keys({ ...range, limit: EVENT_LOG_TRIM_BATCH_EVENTS_MAX }).all()) as Uint8Array[]
      const expired = keys.filter((key) => timeOfKey(key) < cutoffMs)
      // Times never decrease with seq, so the first unexpired key ends the walk.
      if (expired.length === 0) return deleted
      const floor = seqOfKey(expired[expired.length - 1] as Uint8Array)
      const ops: EventLogBatchOp[] = expired.map((key) => ({ type: 'del', sublevel: this.#events, key }))
      ops.push({ type: 'put', sublevel: this.#meta, key: 'floor', value: encodeMeta(floor) })
      ops.push({ type: 'put', sublevel: this.#meta, key: 'seq', value: encodeMeta(this.#allocated) })
      await this.db.batch(ops, { sync: true })
      this.#floor = Math.max(this.#floor, floor)
      this.#tail.dropThrough(this.#floor)
      deleted += expired.length
      if (expired.length < keys.length || keys.length < EVENT_LOG_TRIM_BATCH_EVENTS_MAX) return deleted
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
  }
}

/** A write-ahead log's open (module header): deletes every event above `seq` and rewinds meta `seq` to it; resolves with how many it deleted. */
async function truncate(db: EventLogDb, events: Sub, meta: Sub, seq: number): Promise<number> {
  assert(Number.isSafeInteger(seq) && seq >= 0, 'writeAhead.acknowledged must be a non-negative integer')
  const floor = decodeMeta((await meta.get('floor')) as Uint8Array | undefined)
  if (floor > seq) throw new AtfedError('CorruptEventLog', `the event log was trimmed through seq ${floor}, above the ${seq} acknowledged`)
  let dropped = 0
  for (;;) {
    const range = eventKeyRange(seq + 1, STREAM_SEQ_MAX)
    const keys = (await events.keys({ ...range, limit: EVENT_LOG_TRIM_BATCH_EVENTS_MAX }).all()) as Uint8Array[]
    const ops: EventLogBatchOp[] = keys.map((key) => ({ type: 'del', sublevel: events, key }))
    const last = keys.length < EVENT_LOG_TRIM_BATCH_EVENTS_MAX
    if (last) ops.push({ type: 'put', sublevel: meta, key: 'seq', value: encodeMeta(seq) })
    await db.batch(ops, { sync: true })
    dropped += keys.length
    if (last) return dropped
  }
}
