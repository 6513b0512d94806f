/**
 * A bounded least-recently-used map. A JS Map iterates in insertion order, so
 * re-inserting on every hit keeps the oldest entry first and eviction takes
 * it in O(1). Used for parsed verification keys, whose construction (point
 * decompression, an OpenSSL KeyObject) costs 100–300 µs.
 */
import { assert } from '../errors.ts'

export class BoundedLru<K, V> {
  readonly entriesMax: number
  readonly #map = new Map<K, V>()

  constructor(entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, 'entriesMax must be a positive integer')
    this.entriesMax = entriesMax
  }

  get size(): number {
    return this.#map.size
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value === undefined) return undefined
    this.#map.delete(key)
    this.#map.set(key, value)
    return value
  }

  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.entriesMax) {
      const oldest = this.#map.keys().next()
      if (!oldest.done) this.#map.delete(oldest.value)
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }

  clear(): void {
    this.#map.clear()
  }
}
