/**
 * Cancellable sleeps for backoff loops: `cancelAll()` (on stop) resolves
 * every pending sleep at once, so a consumer never waits out a backoff to
 * shut down.
 */
export class Sleeper {
  readonly #pending = new Set<() => void>()

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#pending.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#pending.add(done)
    })
  }

  cancelAll(): void {
    for (const done of [...this.#pending]) done()
  }
}
