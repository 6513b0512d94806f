/**
 * Runs tasks keyed by repo (DID): tasks of one key strictly one after
 * another in the order pushed; tasks of different keys concurrently, at most
 * `concurrency` at a time. Keys whose next task waits for a slot are served
 * first come, first served, so one busy repo cannot starve the others.
 *
 * The scheduler does not bound how much is pushed: the caller (the consumer's
 * read loop) awaits `whenSizeBelow(queueMax)` before pushing, and stops
 * reading the socket meanwhile. `size` counts queued plus running tasks.
 *
 * A task must not throw (the consumer catches and retries inside it); if one
 * does, that is our bug and `onTaskError` gets it.
 */
import { assert } from '../../core/errors.ts'

type Task = () => Promise<void>
type Waiter = { below: number; resolve: () => void }

export class RepoScheduler {
  readonly #concurrency: number
  readonly #onTaskError: (err: unknown) => void
  readonly #queues = new Map<string, Task[]>()
  readonly #ready: string[] = []
  #readyHead = 0
  #running = 0
  #size = 0
  #waiters: Waiter[] = []

  constructor(options: { concurrency: number; onTaskError: (err: unknown) => void }) {
    assert(Number.isSafeInteger(options.concurrency) && options.concurrency >= 1, 'concurrency must be >= 1')
    this.#concurrency = options.concurrency
    this.#onTaskError = options.onTaskError
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.#size
  }

  get running(): number {
    return this.#running
  }

  /** Repos with at least one task queued or running. */
  get repos(): number {
    return this.#queues.size
  }

  push(key: string, task: Task): void {
    this.#size++
    const queue = this.#queues.get(key)
    if (queue !== undefined) {
      queue.push(task) // runs after the key's current task
      return
    }
    this.#queues.set(key, [task])
    this.#ready.push(key)
    this.#pump()
  }

  /** Resolves once fewer than `n` tasks are queued or running (at once if already so). */
  whenSizeBelow(n: number): Promise<void> {
    if (this.#size < n) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ below: n, resolve }))
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    return this.whenSizeBelow(1)
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#readyHead < this.#ready.length) {
      const key = this.#ready[this.#readyHead++] as string
      this.#run(key)
    }
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready.splice(0, this.#readyHead)
      this.#readyHead = 0
    }
  }

  #run(key: string): void {
    const queue = this.#queues.get(key)
    assert(queue !== undefined && queue.length > 0, 'ready key without a task')
    const task = queue[0] as Task
    this.#running++
    void task()
      .catch((err: unknown) => this.#onTaskError(err))
      .finally(() => {
        this.#running--
        this.#size--
        queue.shift()
        if (queue.length > 0) this.#ready.push(key)
        else this.#queues.delete(key)
        this.#pump()
        this.#wake()
      })
  }

  #wake(): void {
    if (this.#waiters.length === 0) return
    const still: Waiter[] = []
    for (const w of this.#waiters) {
      if (this.#size < w.below) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }
}
