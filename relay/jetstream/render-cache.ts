/**
 * Rendered events by seq, shared by every Jetstream subscriber: the first
 * subscriber to reach an event renders it, the others (live subscribers are
 * all at the same place) reuse the bytes. A bounded LRU over a Map (a hit
 * moves the entry to the back; eviction takes from the front), capped by
 * entry count and by rendered bytes. A hit on an entry that is still in the
 * newer half is not moved: live fan-out hits the newest entries N times
 * each, and the move (a Map delete + set) was most of the cache's cost. zstd forms made later hang off cached
 * messages and are not counted (each is smaller than the JSON it compresses,
 * so the real size stays under twice the cap).
 */
import type { RenderedEvent } from './render.ts'

export type RenderCacheStats = { events: number; bytes: number; hits: number; misses: number }

export class RenderCache {
  readonly #entries = new Map<number, { rendered: RenderedEvent; tick: number }>()
  readonly #eventsMax: number
  readonly #bytesMax: number
  #bytes = 0
  /** Counts insertions and moves; an entry's tick says how recently it was put at the back. */
  #tick = 0
  #hits = 0
  #misses = 0

  constructor(limits: { eventsMax: number; bytesMax: number }) {
    this.#eventsMax = limits.eventsMax
    this.#bytesMax = limits.bytesMax
  }

  get(seq: number): RenderedEvent | undefined {
    const entry = this.#entries.get(seq)
    if (entry === undefined) {
      this.#misses++
      return undefined
    }
    this.#hits++
    if (this.#tick - entry.tick > this.#entries.size / 2) {
      this.#entries.delete(seq)
      entry.tick = ++this.#tick
      this.#entries.set(seq, entry)
    }
    return entry.rendered
  }

  /** Store `rendered` (replacing nothing: the first rendering of a seq wins) and return the cached one. */
  put(rendered: RenderedEvent): RenderedEvent {
    const existing = this.#entries.get(rendered.seq)
    if (existing !== undefined) return existing.rendered
    this.#entries.set(rendered.seq, { rendered, tick: ++this.#tick })
    this.#bytes += rendered.bytes
    while (this.#entries.size > this.#eventsMax || (this.#bytes > this.#bytesMax && this.#entries.size > 1)) {
      const [seq, oldest] = this.#entries.entries().next().value as [number, { rendered: RenderedEvent }]
      this.#entries.delete(seq)
      this.#bytes -= oldest.rendered.bytes
    }
    return rendered
  }

  stats(): RenderCacheStats {
    return { events: this.#entries.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses }
  }
}
