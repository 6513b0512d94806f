/**
 * Which cursor is safe to persist while events of different repos finish out
 * of order. Events are `add`ed in seq order as they are read; `done(seq)`
 * marks one handled. The watermark is the highest seq such that it and every
 * event added before it are done: persisting anything higher could skip an
 * unhandled event after a crash (at-least-once would break).
 *
 * `cursorIfDone(seq)` is the watermark as it would be if `seq` were done too:
 * what a handler may write in the same atomic batch as that event's effects
 * (its own batch makes it done). Two handlers racing may each write a value
 * that is already low by the time it lands: a low cursor only replays events,
 * which handlers tolerate (idempotent); it is never high.
 *
 * A FIFO of in-flight seqs (at most the consumer's queueMax), with done flags;
 * `done` pops the finished prefix, so both calls are amortised O(1).
 */
import { assert } from '../../core/errors.ts'

export class CursorTracker {
  #seqs: number[] = []
  #done: boolean[] = []
  #head = 0
  #watermark: number | null
  #lastAdded: number | null

  /** `start`: the cursor the stream was opened with (null: live, nothing handled yet). */
  constructor(start: number | null) {
    this.#watermark = start
    this.#lastAdded = start
  }

  get watermark(): number | null {
    return this.#watermark
  }

  get inFlight(): number {
    return this.#seqs.length - this.#head
  }

  add(seq: number): void {
    assert(this.#lastAdded === null || seq > this.#lastAdded, `seq ${seq} added out of order`)
    this.#lastAdded = seq
    this.#seqs.push(seq)
    this.#done.push(false)
  }

  /** Mark `seq` handled; returns the new watermark when it advanced, else null. */
  done(seq: number): number | null {
    const at = this.#indexOf(seq)
    this.#done[at] = true
    if (at !== this.#head) return null
    while (this.#head < this.#seqs.length && this.#done[this.#head] === true) {
      this.#watermark = this.#seqs[this.#head] as number
      this.#head++
    }
    this.#compact()
    return this.#watermark
  }

  /** The watermark once `seq` is done too (null only before anything was handled and when seq is not first). */
  cursorIfDone(seq: number): number | null {
    let mark = this.#watermark
    for (let i = this.#head; i < this.#seqs.length; i++) {
      const s = this.#seqs[i] as number
      if (s !== seq && this.#done[i] !== true) break
      mark = s
    }
    return mark
  }

  #indexOf(seq: number): number {
    // Seqs are increasing: binary search the in-flight window.
    let lo = this.#head
    let hi = this.#seqs.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const s = this.#seqs[mid] as number
      if (s === seq) return mid
      if (s < seq) lo = mid + 1
      else hi = mid - 1
    }
    assert(false, `seq ${seq} is not in flight`)
  }

  #compact(): void {
    if (this.#head < 1024 || this.#head * 2 < this.#seqs.length) return
    this.#seqs = this.#seqs.slice(this.#head)
    this.#done = this.#done.slice(this.#head)
    this.#head = 0
  }
}
