/**
 * The in-memory tail of an event log: the most recently published frames,
 * shared by every live subscriber, so fanning one event out to N subscribers
 * costs no storage reads and holds ONE copy of the frame (each socket's send
 * buffer references the same bytes).
 *
 * Invariant: every published seq > `from` is in `entries` (in seq order), so
 * a read after `afterSeq >= from` can be answered from here alone. Evicting
 * the oldest entry raises `from` to its seq. Bounded by frame count and bytes.
 */
import type { LoggedFrame } from './event-log.ts'

type TailEntry = LoggedFrame

export class EventLogTail {
  readonly #framesMax: number
  readonly #bytesMax: number
  #entries: TailEntry[] = []
  #bytes = 0
  #from: number

  constructor(from: number, limits: { framesMax: number; bytesMax: number }) {
    this.#from = from
    this.#framesMax = limits.framesMax
    this.#bytesMax = limits.bytesMax
  }

  /** Every published seq above this is held here. */
  get from(): number {
    return this.#from
  }

  push(seq: number, frameBytes: Uint8Array): void {
    this.#entries.push({ seq, frameBytes })
    this.#bytes += frameBytes.length
    while (this.#entries.length > this.#framesMax || (this.#bytes > this.#bytesMax && this.#entries.length > 0)) {
      this.#evictOldest()
    }
  }

  /** Forget entries at or below `seq` (after a trim). */
  dropThrough(seq: number): void {
    while (this.#entries.length > 0 && (this.#entries[0] as TailEntry).seq <= seq) this.#evictOldest()
    if (this.#from < seq) this.#from = seq
  }

  /** Up to `limit` entries with `afterSeq < seq <= upTo`; caller checks `afterSeq >= from`. */
  slice(afterSeq: number, upTo: number, limit: number): LoggedFrame[] {
    const entries = this.#entries
    let lo = 0
    let hi = entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((entries[mid] as TailEntry).seq <= afterSeq) lo = mid + 1
      else hi = mid
    }
    const out: LoggedFrame[] = []
    for (let i = lo; i < entries.length && out.length < limit; i++) {
      const e = entries[i] as TailEntry
      if (e.seq > upTo) break
      out.push({ seq: e.seq, frameBytes: e.frameBytes })
    }
    return out
  }

  #evictOldest(): void {
    const e = this.#entries.shift() as TailEntry
    this.#bytes -= e.frameBytes.length
    this.#from = e.seq
  }
}
