/**
 * A per-key async mutex with a bounded queue: one holder per key (a DID for
 * repo writes), the others wait in arrival order. At most `waitersMax`
 * waiters per key; one more is refused at once with the caller's error
 * instead of queueing without bound (a client flooding one repo gets 503s,
 * memory stays flat). Keys with no holder and no waiter are forgotten, so the
 * map holds only keys in use.
 */
import { assert } from '../core/errors.ts'

type Lane = { waiters: Array<() => void> }

export class KeyedMutex {
  readonly #lanes = new Map<string, Lane>()
  readonly #waitersMax: number
  readonly #onFull: (key: string) => Error

  constructor(options: { waitersMax: number; onFull: (key: string) => Error }) {
    assert(Number.isInteger(options.waitersMax) && options.waitersMax >= 0, 'waitersMax must be a non-negative integer')
    this.#waitersMax = options.waitersMax
    this.#onFull = options.onFull
  }

  /** Runs `fn` while holding `key`; throws `onFull(key)` when the queue is full. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await this.#acquire(key)
    try {
      return await fn()
    } finally {
      this.#release(key)
    }
  }

  /** Keys currently held (tests, metrics). */
  get size(): number {
    return this.#lanes.size
  }

  #acquire(key: string): Promise<void> {
    const lane = this.#lanes.get(key)
    if (lane === undefined) {
      this.#lanes.set(key, { waiters: [] })
      return Promise.resolve()
    }
    if (lane.waiters.length >= this.#waitersMax) return Promise.reject(this.#onFull(key))
    return new Promise<void>((resolve) => lane.waiters.push(resolve))
  }

  #release(key: string): void {
    const lane = this.#lanes.get(key)
    assert(lane !== undefined, 'released a key that is not held')
    const next = lane.waiters.shift()
    if (next === undefined) this.#lanes.delete(key)
    else next()
  }
}
