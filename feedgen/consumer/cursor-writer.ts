/**
 * Writes a consumer's cursor to its CursorStore without piling up writes:
 * at most one write in flight, and while it runs only the newest wanted
 * value is kept (a burst of 1,000 handled events costs a couple of writes,
 * not 1,000). A value the handler already stored in its own batch is not
 * written again.
 *
 * A failed write is reported and retried with the next wanted value (or at
 * `flush`); the store may lag, which only means replaying a few events.
 */
import type { CursorStore } from './events.ts'

export class CursorWriter {
  readonly #store: CursorStore
  readonly #onError: (err: unknown) => void
  #persisted: number | null
  #wanted: number | null = null
  #writing: Promise<void> | null = null

  constructor(store: CursorStore, persisted: number | null, onError: (err: unknown) => void) {
    this.#store = store
    this.#persisted = persisted
    this.#onError = onError
  }

  /** The value last stored (by us, or by a handler's batch). */
  get persisted(): number | null {
    return this.#persisted
  }

  /** The watermark moved to `mark`; `storedByHandler` is what the handler's own batch stored, if anything. */
  want(mark: number, storedByHandler: number | null): void {
    if (storedByHandler !== null && storedByHandler === mark && this.#writing === null) {
      this.#persisted = mark
      this.#wanted = null
      return
    }
    this.#wanted = mark
    this.#start()
  }

  /** Wait for pending writes; with `force`, store the latest value once more (a clean shutdown's exact cursor). */
  async flush(options: { force?: boolean } = {}): Promise<void> {
    while (this.#writing !== null) await this.#writing
    if (options.force === true && this.#persisted !== null) {
      this.#wanted = this.#persisted
      this.#persisted = null
    }
    this.#start()
    while (this.#writing !== null) await this.#writing
  }

  /** One drain at a time; `#writing` is cleared asynchronously, after it was set (drain may finish at once). */
  #start(): void {
    if (this.#writing !== null || this.#wanted === null) return
    this.#writing = this.#drain().finally(() => {
      this.#writing = null
    })
  }

  async #drain(): Promise<void> {
    try {
      while (this.#wanted !== null && this.#wanted !== this.#persisted) {
        const value = this.#wanted
        await this.#store.set(value)
        this.#persisted = value
        if (this.#wanted === value) this.#wanted = null
      }
      this.#wanted = null
    } catch (err) {
      this.#onError(err)
    }
  }
}
