/**
 * KeyedCache: a bounded in-memory cache of values read from the feed index,
 * kept right by invalidation. The store fills it on a miss (`get(key,
 * load)`); the indexer calls `invalidate(key)` after every write that
 * changes what `load` would return for that key (indexer.ts).
 *
 * Bounded: at most `entriesMax` keys, least recently used dropped first (a
 * Map in insertion order; a hit moves the entry to the end).
 *
 * Consistency: a load races with writes, so each key has a generation,
 * bumped by `invalidate`; a load stores its result only if the generation
 * did not change while it read (the generations are bounded too: clearing
 * them bumps an epoch that every load in flight also checks). Between a
 * write and its invalidate a reader may see the previous value (the same as
 * reading just before the write).
 */
export class KeyedCache<V> {
  readonly #entriesMax: number
  readonly #entries = new Map<string, V>()
  readonly #generations = new Map<string, number>()
  #epoch = 0
  readonly #stats = { hits: 0, loads: 0, invalidations: 0 }

  constructor(entriesMax: number) {
    this.#entriesMax = entriesMax
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key)
    if (hit !== undefined) {
      this.#stats.hits++
      this.#entries.delete(key)
      this.#entries.set(key, hit)
      return hit
    }
    this.#stats.loads++
    const [epoch, generation] = [this.#epoch, this.#generations.get(key)]
    const value = await load()
    if (this.#epoch === epoch && this.#generations.get(key) === generation) this.#store(key, value)
    return value
  }

  /** The cached value, or undefined (no load, no recency change). */
  peek(key: string): V | undefined {
    return this.#entries.get(key)
  }

  invalidate(key: string): void {
    this.#stats.invalidations++
    this.#entries.delete(key)
    if (this.#generations.size >= this.#entriesMax) {
      this.#generations.clear()
      this.#epoch++
    }
    this.#generations.set(key, (this.#generations.get(key) ?? 0) + 1)
  }

  stats(): { hits: number; loads: number; invalidations: number; entries: number } {
    return { ...this.#stats, entries: this.#entries.size }
  }

  #store(key: string, value: V): void {
    if (this.#entries.size >= this.#entriesMax) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(key, value)
  }
}
