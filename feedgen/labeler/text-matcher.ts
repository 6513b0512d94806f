/**
 * Runs the text rules' regexes off the main thread, with a deadline.
 *
 * JavaScript regexes backtrack, and nothing in a rule's source can prove it
 * will not backtrack catastrophically on some hostile post (`(a+)+$`,
 * `(x|x)*y`, `\w*\w*\w*!` are all valid). Length caps on the pattern and on
 * the text (LABELER_RULE_TEXT_CHARS_MAX) bound the input but not the time;
 * so the patterns are compiled once in a worker thread and each text is
 * matched there against every rule, one text at a time, in order.
 *
 * The deadline is the worker's own time on one text: the worker writes the
 * id of the text it is on and when it started into a small shared buffer,
 * and the main thread's timer reads it. So a busy or paused main thread
 * (GC, a burst of signing) never turns a fast match into a timeout, and
 * worker start-up is charged to nobody. When the worker has spent
 * `timeoutMs` on one text, it is terminated (V8 interrupts a running regex),
 * that text is answered `timeout` (no label; counted), a fresh worker is
 * started, and the texts still waiting are sent to it again.
 *
 * Bounded: at most `queueMax` texts wait (more is `RuleQueueFull`, which the
 * consumer retries); the worker keeps nothing between texts.
 */
import { Worker } from 'node:worker_threads'
import { AtfedError } from '../../core/errors.ts'
import { LABELER_RULE_MATCH_TIMEOUT_MS, LABELER_RULE_QUEUE_MAX } from '../../core/limits.ts'

export type MatchPattern = { readonly pattern: string; readonly flags: string }
/** Indices (into the patterns) of the rules that matched, or `timeout`. */
export type MatchResult = readonly number[] | 'timeout'
export type MatcherStats = { texts: number; timeouts: number; restarts: number }

// CommonJS, evaluated in the worker; it only ever sees strings.
// clock[0] = id of the text being matched (-1: none), clock[1] = when it started (ms since the epoch).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const regexes = workerData.patterns.map((p) => new RegExp(p.pattern, p.flags))
const clock = new BigInt64Array(workerData.clock)
parentPort.on('message', (m) => {
  Atomics.store(clock, 1, BigInt(Date.now()))
  Atomics.store(clock, 0, BigInt(m.id))
  const hits = []
  for (let i = 0; i < regexes.length; i++) if (regexes[i].test(m.text)) hits.push(i)
  Atomics.store(clock, 0, -1n)
  parentPort.postMessage({ id: m.id, hits })
})
`

type Pending = { text: string; resolve: (r: MatchResult) => void }

/** Crashes in a row (not timeouts) after which the worker is not started again: something is broken, say so loudly. */
const WORKER_CRASHES_MAX = 3

export class TextMatcher {
  readonly #patterns: readonly MatchPattern[]
  readonly #timeoutMs: number
  readonly #queueMax: number
  readonly #pending = new Map<number, Pending>()
  readonly #stats: MatcherStats = { texts: 0, timeouts: 0, restarts: 0 }
  #clock = new BigInt64Array(new SharedArrayBuffer(16))
  #worker: Worker
  #nextId = 0
  #timer: NodeJS.Timeout | null = null
  /** Worker crashes since the last answered text; at WORKER_CRASHES_MAX the matcher gives up (`MatcherBroken`). */
  #crashes = 0
  #closed = false

  constructor(patterns: readonly MatchPattern[], options: { timeoutMs?: number; queueMax?: number } = {}) {
    this.#patterns = patterns
    this.#timeoutMs = options.timeoutMs ?? LABELER_RULE_MATCH_TIMEOUT_MS
    this.#queueMax = options.queueMax ?? LABELER_RULE_QUEUE_MAX
    this.#worker = this.#spawn()
  }

  stats(): MatcherStats {
    return { ...this.#stats }
  }

  match(text: string): Promise<MatchResult> {
    if (this.#crashes >= WORKER_CRASHES_MAX) return Promise.reject(new AtfedError('MatcherBroken', 'the rule worker keeps crashing'))
    if (this.#closed) return Promise.reject(new AtfedError('MatcherClosed', 'the text matcher is closed'))
    if (this.#pending.size >= this.#queueMax) return Promise.reject(new AtfedError('RuleQueueFull', `${this.#queueMax} texts already wait for the rules`))
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#pending.set(id, { text, resolve })
      this.#worker.postMessage({ id, text })
      if (this.#timer === null) this.#arm(this.#timeoutMs)
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    for (const p of this.#pending.values()) p.resolve('timeout')
    this.#pending.clear()
    await this.#worker.terminate()
  }

  #spawn(): Worker {
    this.#clock = new BigInt64Array(new SharedArrayBuffer(16))
    Atomics.store(this.#clock, 0, -1n)
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { patterns: this.#patterns, clock: this.#clock.buffer } })
    worker.unref()
    worker.on('message', (m: { id: number; hits: number[] }) => {
      if (worker === this.#worker) this.#settle(m.id, m.hits)
    })
    // A crashed worker is handled like a timeout of the text it was on.
    worker.on('error', () => {
      if (worker !== this.#worker || this.#closed) return
      if (++this.#crashes < WORKER_CRASHES_MAX) return this.#restart()
      for (const p of this.#pending.values()) p.resolve('timeout')
      this.#pending.clear()
      this.#arm(0)
    })
    return worker
  }

  #settle(id: number, result: MatchResult): void {
    const pending = this.#pending.get(id)
    if (pending === undefined) return
    this.#pending.delete(id)
    this.#crashes = 0
    this.#stats.texts++
    this.#arm(this.#timeoutMs)
    pending.resolve(result)
  }

  #arm(delayMs: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#pending.size === 0 || this.#closed) return
    this.#timer = setTimeout(() => this.#check(), Math.max(1, delayMs))
  }

  /** Timer: has the worker really spent the whole budget on the oldest text? */
  #check(): void {
    this.#timer = null
    const head = this.#pending.keys().next().value as number | undefined
    if (head === undefined || this.#closed) return
    if (Number(Atomics.load(this.#clock, 0)) !== head) {
      // Not started yet (the worker is starting up), or done and its answer is on the way.
      this.#arm(this.#timeoutMs)
      return
    }
    const spentMs = Date.now() - Number(Atomics.load(this.#clock, 1))
    if (spentMs < this.#timeoutMs) this.#arm(this.#timeoutMs - spentMs)
    else this.#restart()
  }

  /** The head text took too long (or the worker died): answer it `timeout`, replace the worker, resend the rest. */
  #restart(): void {
    const head = this.#pending.entries().next().value as [number, Pending] | undefined
    if (head !== undefined) {
      this.#pending.delete(head[0])
      this.#stats.timeouts++
      head[1].resolve('timeout')
    }
    void this.#worker.terminate()
    this.#stats.restarts++
    this.#worker = this.#spawn()
    for (const [id, p] of this.#pending) this.#worker.postMessage({ id, text: p.text })
    this.#arm(this.#timeoutMs)
  }
}
