/**
 * The bounded hand-off between a stream client's socket and its consumer: an
 * async iterator over queued items. When the queue reaches `framesMax` items
 * or `bytesMax` bytes it calls `onFull` (the client pauses its socket); once
 * drained to half of both it calls `onDrained` (resume). `push` never refuses:
 * the bound is enforced by pausing the producer, not by dropping.
 *
 * `end(error)` lets the consumer take what is queued, then throws `error`
 * once (or finishes, for null). `return()` (a `break` out of `for await`)
 * calls `onReturn` so the client disconnects.
 */
import type { AtfedError } from '../errors.ts'

type Waiter<T> = { resolve: (r: IteratorResult<T>) => void; reject: (err: unknown) => void }

export class StreamQueue<T> implements AsyncIterator<T> {
  readonly #framesMax: number
  readonly #bytesMax: number
  readonly #onFull: () => void
  readonly #onDrained: () => void
  #onReturn: () => void = () => {}
  #items: Array<{ value: T; bytes: number }> = []
  #head = 0
  #bytes = 0
  #full = false
  #waiter: Waiter<T> | null = null
  #ended: { error: AtfedError | null } | null = null

  constructor(options: { framesMax: number; bytesMax: number; onFull: () => void; onDrained: () => void }) {
    this.#framesMax = options.framesMax
    this.#bytesMax = options.bytesMax
    this.#onFull = options.onFull
    this.#onDrained = options.onDrained
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  get isFull(): boolean {
    return this.#full
  }

  setOnReturn(onReturn: () => void): void {
    this.#onReturn = onReturn
  }

  push(value: T, bytes: number): void {
    if (this.#ended !== null) return
    const waiter = this.#waiter
    if (waiter !== null) {
      this.#waiter = null
      return waiter.resolve({ value, done: false })
    }
    this.#items.push({ value, bytes })
    this.#bytes += bytes
    if (!this.#full && (this.length >= this.#framesMax || this.#bytes >= this.#bytesMax)) {
      this.#full = true
      this.#onFull()
    }
  }

  /** No more items; queued ones are still delivered, then `error` is thrown (or the iterator ends). */
  end(error: AtfedError | null, options: { dropQueued?: boolean } = {}): void {
    if (this.#ended !== null) return
    this.#ended = { error }
    if (options.dropQueued === true) {
      this.#items = []
      this.#head = 0
      this.#bytes = 0
    }
    const waiter = this.#waiter
    this.#waiter = null
    if (waiter !== null) this.#settleEnded(waiter)
  }

  next(): Promise<IteratorResult<T>> {
    if (this.length > 0) return Promise.resolve({ value: this.#shift(), done: false })
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject }
      if (this.#ended !== null) this.#settleEnded(waiter)
      else this.#waiter = waiter
    })
  }

  async return(): Promise<IteratorResult<T>> {
    this.#onReturn()
    this.end(null, { dropQueued: true })
    return { value: undefined, done: true }
  }

  #settleEnded(waiter: Waiter<T>): void {
    const ended = this.#ended as { error: AtfedError | null }
    const error = ended.error
    ended.error = null // thrown once; later calls just finish
    if (error !== null) waiter.reject(error)
    else waiter.resolve({ value: undefined, done: true })
  }

  #shift(): T {
    const item = this.#items[this.#head] as { value: T; bytes: number }
    this.#items[this.#head] = undefined as never
    this.#head++
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    this.#bytes -= item.bytes
    if (this.#full && this.length <= this.#framesMax / 2 && this.#bytes <= this.#bytesMax / 2) {
      this.#full = false
      this.#onDrained()
    }
    return item.value
  }
}
