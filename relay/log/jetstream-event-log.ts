/**
 * `EventLog` on a JetStream stream (contract: core/stream/event-log.ts). The
 * stream sequence is the firehose seq; each message's data is the complete
 * frame, sent verbatim to subscribers (jetstream-stream.ts has the stream's
 * layout, jetstream-publisher.ts how frames land at the seq they carry).
 *
 * Publishing and visibility: `lastSeq`, the in-memory tail and `onAppend`
 * follow ONE live ordered consumer on the stream, in every process, so a
 * serve frontend sees what any ingest worker wrote, and a writer sees its
 * own events exactly when everyone else does. `append` resolves once its
 * events are acknowledged by the stream (durable on the stream's replicas)
 * AND that consumer has reached them.
 *
 * How the contract maps where it cannot join a `level` batch:
 * - `appendOps` gives provisional seqs and frames and NO batch ops (a
 *   JetStream publish cannot join the caller's LevelDB batch); `commit()`
 *   publishes, in seq order behind every earlier append; `abort()` publishes
 *   gap placeholders so later seqs keep their places. So "durable" happens
 *   at commit, not in the caller's batch: a caller that must keep state
 *   consistent with the log writes that state AFTER the publish is
 *   acknowledged (the relay cluster writes host cursors and account states
 *   to its KV buckets after `append` resolves; a crash between the two is
 *   repaired by de-duplication when the same commit is published again).
 * - With several writers on one stream (ingest workers) `append`'s returned
 *   seqs are authoritative; `appendOps`' provisional seqs hold only for a
 *   single writer.
 * - An event cannot be durable ahead of a lower unsettled seq (publishing IS
 *   sequencing), so a crash loses un-acknowledged appends instead of
 *   publishing them after a restart; nothing acknowledged is lost.
 * - The live consumer can stall without an error after a NATS node is lost
 *   (seen on a 3-node cluster: no messages, no missed-heartbeat status,
 *   while the stream moves on). A check every JETSTREAM_LOG_LIVE_CHECK_MS
 *   restarts it after the last seq seen when the stream is known to be
 *   ahead (an acknowledged append not yet seen, or the stream's last seq
 *   from the floor refresh) and nothing arrived for
 *   JETSTREAM_LOG_LIVE_STALL_CHECKS checks; `append` waits at most
 *   JETSTREAM_LOG_VISIBLE_WAIT_MS_MAX for its events to be seen, then fails
 *   with 'EventLogStalled' (the relay stops taking events: a bounded
 *   failure instead of a hang).
 * - `trim` purges by the `Atfed-Time` header (the log's clock); times from
 *   several writers may be slightly out of order, which only keeps an
 *   expired event a little longer. `floorSeq` is refreshed from the stream
 *   (other processes trim) every JETSTREAM_LOG_FLOOR_REFRESH_MS.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { AtfedError, assert } from '../../core/errors.ts'
import {
  EVENT_LOG_APPEND_EVENTS_MAX,
  EVENT_LOG_READ_EVENTS_MAX,
  EVENT_LOG_TAIL_BYTES_MAX,
  EVENT_LOG_TAIL_FRAMES_MAX,
  JETSTREAM_LOG_FLOOR_REFRESH_MS,
  JETSTREAM_LOG_LIVE_CHECK_MS,
  JETSTREAM_LOG_LIVE_STALL_CHECKS,
  JETSTREAM_LOG_VISIBLE_WAIT_MS_MAX,
} from '../../core/limits.ts'
import { EventLogTail } from '../../core/stream/event-log-tail.ts'
import type { AppendListener, AppendOptions, EventLog, LoggedFrame, PendingAppend } from '../../core/stream/event-log.ts'
import { encodeEventFrame, withSeq } from '../../core/stream/events.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { restampSeq } from '../../core/stream/restamp.ts'
import { JetStreamPublisher } from './jetstream-publisher.ts'
import type { PublishEntry } from './jetstream-publisher.ts'
import { quickJetStream, readHostAccountStates, readStream, startLiveReader, trimStream } from './jetstream-reader.ts'
import type { HostStates, LiveReader } from './jetstream-reader.ts'
import { DEFAULT_STREAM, DEFAULT_SUBJECT, ensureStream, eventMessageId, floorOf, hostSubject } from './jetstream-stream.ts'
import type { StreamOptions } from './jetstream-stream.ts'

/**
 * Where an event is published and what it vouches for (set by the relay
 * cluster, relay/cluster/stream-states.ts): the account state right after it
 * (or null: it changes none), the upstream seq it came at (or null), and
 * `exact: false` when the state could not be told.
 */
export type EventAnnotation = { host: string; account: string | null; upstreamSeq: number | null; exact: boolean }
export type EventAnnotator = (event: UnsequencedEvent) => EventAnnotation | null

export type JetStreamEventLogOptions = StreamOptions & {
  /** The first seq of a new stream, or a floor to jump to (purges everything below). */
  initialSeq?: number
  now?: () => number
  tailFramesMax?: number
  tailBytesMax?: number
}

type Init = { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; stream: string; last: number; floor: number; options: JetStreamEventLogOptions }

export class JetStreamEventLog implements EventLog {
  readonly stream: string
  readonly subject: string
  /**
   * Called synchronously as each event is appended (the state it sees is the
   * state right after the event when the append is the first of its batch):
   * the host subject and the account header of the event's message.
   */
  annotate: EventAnnotator | null = null
  readonly #js: JetStreamClient
  /** For one-off reads (takeover): quick consumer attempts (jetstream-reader.ts). */
  readonly #quickJs: JetStreamClient
  readonly #jsm: JetStreamManager
  readonly #now: () => number
  readonly #publisher: JetStreamPublisher
  readonly #tail: EventLogTail
  readonly #listeners = new Set<AppendListener>()
  readonly #waiters: { seq: number; resolve: () => void }[] = []
  readonly #live: LiveReader
  readonly #floorTimer: NodeJS.Timeout
  readonly #liveTimer: NodeJS.Timeout
  /** The highest seq the stream is known to hold (acks, stream info). */
  #knownLast: number
  #seenAtCheck = -1
  #stalledChecks = 0
  /** Times the live consumer was restarted because it stalled. */
  liveRestarts = 0
  #allocated: number
  #published: number
  #floor: number
  #lastTimeMs = 0
  #closed = false

  private constructor(init: Init) {
    const { options } = init
    this.stream = init.stream
    this.subject = options.subject ?? DEFAULT_SUBJECT
    this.#js = init.js
    this.#quickJs = quickJetStream(init.nc)
    this.#jsm = init.jsm
    this.#now = options.now ?? Date.now
    this.#allocated = init.last
    this.#published = init.last
    this.#floor = init.floor
    this.#tail = new EventLogTail(init.last, { framesMax: options.tailFramesMax ?? EVENT_LOG_TAIL_FRAMES_MAX, bytesMax: options.tailBytesMax ?? EVENT_LOG_TAIL_BYTES_MAX })
    this.#publisher = new JetStreamPublisher({ js: init.js, jsm: init.jsm, stream: init.stream, subject: this.subject, last: init.last })
    this.#live = startLiveReader(init.js, { stream: init.stream, lastSeen: () => this.#published, onMessage: (seq, frame) => this.#onLive(seq, frame) })
    this.#floorTimer = setInterval(() => void this.refreshFloor().catch(() => {}), JETSTREAM_LOG_FLOOR_REFRESH_MS)
    this.#floorTimer.unref()
    this.#knownLast = init.last
    this.#liveTimer = setInterval(() => this.#checkLive(), JETSTREAM_LOG_LIVE_CHECK_MS)
    this.#liveTimer.unref()
  }

  /** Open (creating the stream if needed) on a connection the caller owns. */
  static async open(nc: NatsConnection, options: JetStreamEventLogOptions = {}): Promise<JetStreamEventLog> {
    const initialSeq = options.initialSeq ?? 1
    assert(Number.isSafeInteger(initialSeq) && initialSeq >= 1, 'initialSeq must be a positive integer')
    const js = jetstream(nc)
    const jsm = await jetstreamManager(nc)
    const stream = options.stream ?? DEFAULT_STREAM
    let info = await ensureStream(jsm, options)
    if (info.state.last_seq < initialSeq - 1) {
      await jsm.streams.purge(stream, { seq: initialSeq })
      info = await jsm.streams.info(stream)
    }
    return new JetStreamEventLog({ nc, js, jsm, stream, last: info.state.last_seq, floor: floorOf(info), options })
  }

  lastSeq(): number {
    return this.#published
  }

  floorSeq(): number {
    return this.#floor
  }

  onAppend(listener: AppendListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  appendOps(events: readonly UnsequencedEvent[], options: AppendOptions = {}): PendingAppend {
    const { entry, done, first, frames } = this.#newEntry(events, options, 'pending')
    void done.catch(() => {}) // a failure surfaces through `append` callers and the publisher's `failed`
    const settle = (state: 'committed' | 'aborted'): void => {
      assert(entry.state === 'pending', 'a pending append was settled twice')
      entry.state = state
      this.#publisher.kick()
    }
    const seqs = frames.map((_, i) => first + i)
    return { seqs, frames, ops: [], commit: () => settle('committed'), abort: () => settle('aborted') }
  }

  async append(events: readonly UnsequencedEvent[], options: AppendOptions = {}): Promise<number[]> {
    const { done } = this.#newEntry(events, options, 'committed')
    const seqs = await done
    const last = Math.max(...seqs)
    this.#knownLast = Math.max(this.#knownLast, last)
    await this.#waitPublished(last)
    return seqs
  }

  /** Restart the live consumer when the stream is known to be ahead and nothing arrived for a while (module header). */
  #checkLive(): void {
    const behind = this.#knownLast > this.#published
    const moved = this.#published !== this.#seenAtCheck
    this.#seenAtCheck = this.#published
    if (!behind || moved || this.#closed) {
      this.#stalledChecks = 0
      return
    }
    if (++this.#stalledChecks < JETSTREAM_LOG_LIVE_STALL_CHECKS) return
    this.#stalledChecks = 0
    this.liveRestarts++
    this.#live.restart()
  }

  /** Allocate provisional seqs, encode the frames once (checks their size), queue the entry. */
  #newEntry(events: readonly UnsequencedEvent[], options: AppendOptions, state: 'pending' | 'committed'): { entry: PublishEntry; done: Promise<number[]>; first: number; frames: Uint8Array[] } {
    if (this.#closed) throw new AtfedError('EventLogClosed', 'the event log is closed')
    assert(events.length >= 1 && events.length <= EVENT_LOG_APPEND_EVENTS_MAX, 'append takes 1..EVENT_LOG_APPEND_EVENTS_MAX events')
    const first = Math.max(this.#allocated, this.#published) + 1
    const frames = events.map((event, i) => encodeEventFrame(withSeq(event, first + i)))
    this.#allocated = first + events.length - 1
    const timeMs = Math.max(options.timeMs ?? this.#now(), this.#lastTimeMs)
    this.#lastTimeMs = timeMs
    const notes = events.map((event) => this.annotate?.(event) ?? null)
    let resolve!: (seqs: number[]) => void
    let reject!: (err: unknown) => void
    const done = new Promise<number[]>((res, rej) => ((resolve = res), (reject = rej)))
    const entry: PublishEntry = {
      count: events.length,
      // Another writer moved the stream on: the same frame, re-stamped with the seq it lands at.
      encode: (seq, i) => (seq === first + i ? (frames[i] as Uint8Array) : restampSeq(frames[i] as Uint8Array, seq)),
      ids: events.map(eventMessageId),
      subjects: notes.map((note) => (note === null ? this.subject : hostSubject(this.subject, note.host))),
      notes,
      timeMs,
      state,
      seqs: [],
      resolve,
      reject,
    }
    this.#publisher.enqueue(entry)
    return { entry, done, first, frames }
  }

  #onLive(seq: number, frame: Uint8Array | null): void {
    if (seq <= this.#published) return
    if (frame !== null) this.#tail.push(seq, frame)
    this.#published = seq
    if (this.#allocated < seq) this.#allocated = seq
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i] as { seq: number; resolve: () => void }
      if (waiter.seq <= seq) {
        this.#waiters.splice(i, 1)
        waiter.resolve()
      }
    }
    if (!this.#closed) for (const listener of this.#listeners) listener(seq)
  }

  #waitPublished(seq: number): Promise<void> {
    if (seq <= this.#published) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(new AtfedError('EventLogStalled', `seq ${seq} was acknowledged but not seen on the stream within ${JETSTREAM_LOG_VISIBLE_WAIT_MS_MAX} ms`))
      }, JETSTREAM_LOG_VISIBLE_WAIT_MS_MAX)
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      this.#waiters.push(waiter)
    })
  }

  read(afterSeq: number, limit: number = EVENT_LOG_READ_EVENTS_MAX): AsyncGenerator<LoggedFrame, void, undefined> {
    assert(Number.isSafeInteger(afterSeq) && afterSeq >= 0, 'read afterSeq must be a non-negative integer')
    const count = Math.min(limit, EVENT_LOG_READ_EVENTS_MAX)
    const upTo = this.#published
    if (afterSeq >= this.#tail.from && afterSeq < upTo) return (async function* (tail) { yield* tail })(this.#tail.slice(afterSeq, upTo, count))
    return readStream(this.#js, { stream: this.stream, afterSeq, upTo, count })
  }

  /**
   * What `host`'s messages after `afterSeq` vouch for: the last account
   * state per DID and the upstream cursor (relay cluster takeover,
   * relay/cluster/stream-states.ts); 'StreamReadTimeout' past `timeoutMs`.
   */
  hostAccountStates(host: string, afterSeq: number, timeoutMs: number): Promise<HostStates> {
    return readHostAccountStates(this.#quickJs, this.#jsm, { stream: this.stream, subject: hostSubject(this.subject, host), afterSeq, timeoutMs })
  }

  async oldestSeq(): Promise<number | null> {
    const info = await this.#jsm.streams.info(this.stream)
    this.#floor = Math.max(this.#floor, floorOf(info))
    return info.state.messages === 0 ? null : info.state.first_seq
  }

  /** Re-read the floor (another process may have trimmed). */
  async refreshFloor(): Promise<number> {
    const info = await this.#jsm.streams.info(this.stream)
    this.#knownLast = Math.max(this.#knownLast, info.state.last_seq)
    this.#floor = Math.max(this.#floor, floorOf(info))
    this.#tail.dropThrough(this.#floor)
    return this.#floor
  }

  async trim(olderThanMs: number): Promise<number> {
    assert(Number.isFinite(olderThanMs) && olderThanMs >= 0, 'trim olderThanMs must be a non-negative number')
    const deleted = await trimStream(this.#js, this.#jsm, { stream: this.stream, upTo: this.#published, cutoffMs: this.#now() - olderThanMs })
    await this.refreshFloor()
    return deleted
  }

  /** The publisher's failure, if it gave up (the relay treats it as fatal). */
  get failed(): unknown {
    return this.#publisher.failed
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    clearInterval(this.#floorTimer)
    clearInterval(this.#liveTimer)
    await this.#live.stop()
  }
}

export { DEFAULT_STREAM, DEFAULT_SUBJECT }
