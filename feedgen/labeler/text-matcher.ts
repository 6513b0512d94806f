/**
 * Runs the text rules' regexes off the main thread, with a deadline.
 *
 * JavaScript regexes backtrack, and nothing in a rule's source can prove it
 * will not backtrack catastrophically on some hostile post (`(a+)+$`,
 * `(x|x)*y`, `\w*\w*\w*!` are all valid). Length caps on the pattern and on
 * the text (LABELER_RULE_TEXT_CHARS_MAX) bound the input but not the time;
 * so the patterns are compiled once in a worker thread and each text is
 * matched there against every rule. When one text takes longer than
 * `timeoutMs` (measured from when the worker could start on it, not from
 * when it was queued), the worker is terminated (V8 interrupts a running
 * regex), that text is answered `timeout` (no label; counted), a fresh
 * worker is started and the texts still waiting are sent to it again.
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
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const regexes = workerData.patterns.map((p) => new RegExp(p.pattern, p.flags))
parentPort.on('message', (m) => {
  const hits = []
  for (let i = 0; i < regexes.length; i++) if (regexes[i].test(m.text)) hits.push(i)
  parentPort.postMessage({ id: m.id, hits })
})
`

type Pending = { text: string; resolve: (r: MatchResult) => void }

export class TextMatcher {
  readonly #patterns: readonly MatchPattern[]
  readonly #timeoutMs: number
  readonly #queueMax: number
  readonly #pending = new Map<number, Pending>()
  readonly #stats: MatcherStats = { texts: 0, timeouts: 0, restarts: 0 }
  #worker: Worker
  #nextId = 0
  #headSince = 0
  #timer: NodeJS.Timeout | null = null
  /** The current worker is running (its start-up time is not charged to any text). */
  #online = false
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
    if (this.#closed) return Promise.reject(new AtfedError('MatcherClosed', 'the text matcher is closed'))
    if (this.#pending.size >= this.#queueMax) return Promise.reject(new AtfedError('RuleQueueFull', `${this.#queueMax} texts already wait for the rules`))
    const id = this.#nextId++
    return new Promise((resolve) => {
      if (this.#pending.size === 0) this.#headSince = Date.now()
      this.#pending.set(id, { text, resolve })
      this.#worker.postMessage({ id, text })
      this.#arm()
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
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { patterns: this.#patterns } })
    worker.unref()
    this.#online = false
    worker.once('online', () => {
      if (worker !== this.#worker) return
      this.#online = true
      this.#headSince = Date.now()
      this.#arm()
    })
    worker.on('message', (m: { id: number; hits: number[] }) => {
      if (worker !== this.#worker) return
      this.#settle(m.id, m.hits)
    })
    // A crashed worker is handled like a timeout of the text it was on.
    worker.on('error', () => {
      if (worker === this.#worker && !this.#closed) this.#restart()
    })
    return worker
  }

  #settle(id: number, result: MatchResult): void {
    const pending = this.#pending.get(id)
    if (pending === undefined) return
    this.#pending.delete(id)
    this.#stats.texts++
    this.#headSince = Date.now()
    this.#arm()
    pending.resolve(result)
  }

  #arm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#pending.size === 0 || this.#closed || !this.#online) return
    const delay = Math.max(0, this.#headSince + this.#timeoutMs - Date.now())
    this.#timer = setTimeout(() => this.#restart(), delay)
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
  }
}
