/**
 * The time index: which log position a `cursor=<time_us>` means, and the
 * clock state every Jetstream reader starts from.
 *
 * One background reader walks the event log in seq order (first a rebuild
 * of at most rebuildEventsMax of the newest stored events, then every event
 * as it is published) and runs the clock of clock.ts over it. It keeps:
 * - `head`: the last seq it stamped and that event's `end`. Subscribers never
 *   read past the head, and a live subscriber starts from it.
 * - sparse checkpoints (seq, end) in seq order (and so in time order), one
 *   every `stride` events. Bounded: when full, every other checkpoint is
 *   dropped and the stride doubles, so memory is fixed and lookups stay
 *   O(log n) with a forward walk of at most `stride` events.
 * - the base of every event whose time was clamped to the relay's clock
 *   (bounded; only future-dated events land here), so that a subscriber
 *   re-stamping it later, with a later clock, gets the same number.
 *
 * A cursor T resolves to the last checkpoint with end <= T (every message up
 * to it is older than T); the subscriber walks on from there and skips
 * messages with time_us < T. T at or past the head's end means live.
 * Cursor semantics are Jetstream's: inclusive (the message whose time_us is
 * T is sent again), a cursor older than the index starts at its oldest event.
 *
 * Stamping an event reads only its message count and time, without decoding
 * the frame (frame-clock-info.ts, a few µs), since every published event is
 * stamped whether or not anyone subscribes.
 *
 * Not kept across restarts: the index is rebuilt from the stored events,
 * whose times give the same time_us as before as soon as one event's time is
 * not behind its predecessors' (in practice within a few events of where the
 * rebuild starts). Events older than the rebuild window are no longer served
 * on this endpoint. After a trim, a reader that starts below the floor
 * continues from the floor with the checkpoint's end (a lower bound).
 */
import type { EventLog } from '../../core/stream/event-log.ts'
import { clockInfo } from './frame-clock-info.ts'
import { stampOf } from './render.ts'

export type StartPoint = { afterSeq: number; prevEnd: number; minTimeUs: number }

export type TimeIndexOptions = {
  now: () => number
  futureToleranceMs: number
  rebuildEventsMax: number
  strideEvents: number
  checkpointsMax: number
  clampedMax: number
  readPageEvents: number
}

type Checkpoint = { seq: number; end: number }

export class TimeIndex {
  readonly #log: EventLog
  readonly #options: TimeIndexOptions
  #checkpoints: Checkpoint[] = []
  #stride: number
  #sinceCheckpoint = 0
  readonly #clamped = new Map<number, number>()
  #headSeq = 0
  #headEnd = 0
  readonly #listeners = new Set<() => void>()
  #wake: (() => void) | null = null
  #unsubscribe: () => void = () => {}
  #closed = false
  #markReady: () => void = () => {}
  /** Resolves once the rebuild has reached the log's head. */
  readonly ready: Promise<void>
  /** Resolves when the background reader stops: after close, or when a log read failed (then `failure` says why). */
  readonly done: Promise<void>
  #failure: unknown = null

  constructor(log: EventLog, options: TimeIndexOptions) {
    this.#log = log
    this.#options = options
    this.#stride = options.strideEvents
    this.ready = new Promise((resolve) => (this.#markReady = resolve))
    this.done = this.#run().catch((err: unknown) => {
      // The log cannot be read (e.g. its db was closed under us): stop here; the head stays where it was.
      this.#failure = err
    })
  }

  /** Why the background reader stopped early, or null. */
  get failure(): unknown {
    return this.#failure
  }

  get headSeq(): number {
    return this.#headSeq
  }

  get headEnd(): number {
    return this.#headEnd
  }

  get checkpoints(): number {
    return this.#checkpoints.length
  }

  /** The remembered base of a clamped event, if `seq` is one. */
  clampedBase(seq: number): number | undefined {
    return this.#clamped.get(seq)
  }

  /** The relay's clock plus the tolerance, in µs: times past it are clamped. */
  capUs(): number {
    return (this.#options.now() + this.#options.futureToleranceMs) * 1000
  }

  /** Called after the head advanced; returns the unsubscribe function. */
  onAdvance(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Where a subscriber with `cursorUs` (null: none) starts. Call after `ready`. */
  resolve(cursorUs: number | null): StartPoint {
    if (cursorUs === null || cursorUs >= this.#headEnd) {
      return { afterSeq: this.#headSeq, prevEnd: this.#headEnd, minTimeUs: 0 }
    }
    const points = this.#checkpoints
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((points[mid] as Checkpoint).end <= cursorUs) lo = mid + 1
      else hi = mid
    }
    const point = points[Math.max(lo - 1, 0)] as Checkpoint
    return { afterSeq: point.seq, prevEnd: point.end, minTimeUs: cursorUs }
  }

  close(): void {
    this.#closed = true
    this.#unsubscribe()
    this.#listeners.clear()
    this.#wakeUp()
  }

  async #run(): Promise<void> {
    const log = this.#log
    const last = log.lastSeq()
    this.#headSeq = last
    this.#checkpoints = [{ seq: last, end: 0 }]
    try {
      const oldest = await log.oldestSeq()
      const start = Math.max(0, log.floorSeq(), last - this.#options.rebuildEventsMax, oldest === null ? last : oldest - 1)
      this.#headSeq = start
      this.#checkpoints = [{ seq: start, end: 0 }]
      this.#unsubscribe = log.onAppend(() => this.#wakeUp())
      while (!this.#closed) {
        const before = this.#headSeq
        const upTo = log.lastSeq()
        const page = this.#options.readPageEvents
        let read = 0
        for await (const { seq, frameBytes } of log.read(before, page)) {
          this.#stamp(seq, frameBytes)
          read++
        }
        // A short page saw everything published up to `upTo`: seqs in between were burned (aborted appends).
        if (read < page) this.#headSeq = Math.max(this.#headSeq, upTo)
        if (this.#headSeq !== before) for (const listener of [...this.#listeners]) listener()
        if (this.#headSeq < log.lastSeq()) {
          // Still rebuilding (or more arrived): let sockets and appends run between pages.
          await new Promise((resolve) => setImmediate(resolve))
          continue
        }
        this.#markReady()
        if (!this.#closed && log.lastSeq() <= this.#headSeq) await new Promise<void>((resolve) => (this.#wake = resolve))
      }
    } finally {
      this.#unsubscribe()
      this.#markReady()
    }
  }

  #stamp(seq: number, frameBytes: Uint8Array): void {
    const stamp = stampOf(clockInfo(frameBytes), this.#headEnd, this.capUs())
    if (stamp.clamped) {
      this.#clamped.set(seq, stamp.base)
      if (this.#clamped.size > this.#options.clampedMax) this.#clamped.delete(this.#clamped.keys().next().value as number)
    }
    this.#headSeq = seq
    this.#headEnd = stamp.end
    if (++this.#sinceCheckpoint < this.#stride) return
    this.#sinceCheckpoint = 0
    const floor = this.#log.floorSeq()
    while (this.#checkpoints.length > 1 && (this.#checkpoints[1] as Checkpoint).seq <= floor) this.#checkpoints.shift()
    this.#checkpoints.push({ seq, end: stamp.end })
    if (this.#checkpoints.length > this.#options.checkpointsMax) {
      this.#checkpoints = this.#checkpoints.filter((_, i) => i % 2 === 0)
      this.#stride *= 2
    }
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }
}
