/**
 * The relay cluster's writes to its KV buckets, off the ingest path: the
 * sequencer hands each batch's host records and account states over
 * (`enqueue`, synchronous) and goes on; a single loop writes them.
 *
 * Why not in the batch: a KV bucket that is electing a new leader (a NATS
 * node lost) makes every write wait for its timeout; in the batch, that
 * stalled the firehose too. The buckets may lag the stream — a takeover
 * then re-receives a little more, which de-duplication absorbs
 * (shared-state.ts) — but never run ahead of it: only states whose events
 * were acknowledged are enqueued.
 *
 * Order: each round takes everything queued, writes the account states
 * first and the host records (cursors) after them, so a cursor in the
 * bucket never covers an event whose account state is not there yet. A
 * failed write is queued again (unless a newer value for its key came
 * meanwhile); when an account write failed, the round's host records wait
 * for the next round. Retries back off up to RELAY_CLUSTER_STATE_RETRY_MS_MAX.
 * Only the latest value per key is kept, so the queue is bounded by the
 * keys changed, and past RELAY_CLUSTER_STATE_PENDING_MAX of them
 * `backpressure()` makes the sequencer wait.
 */
import type { KV } from '@nats-io/kv'
import { RELAY_CLUSTER_STATE_PENDING_MAX, RELAY_CLUSTER_STATE_RETRY_MS_MAX, RELAY_CLUSTER_STATE_WRITES_IN_FLIGHT } from '../../core/limits.ts'

export type HostWriteMode = 'put' | 'create'
type HostWrite = { value: string; mode: HostWriteMode }

export class StateWriter {
  readonly #kv: { hosts: KV; accounts: KV }
  readonly #logLine: (message: string) => void
  readonly #accounts = new Map<string, string>()
  readonly #hosts = new Map<string, HostWrite>()
  #running: Promise<void> | null = null
  #closed = false

  constructor(kv: { hosts: KV; accounts: KV }, logLine: (message: string) => void) {
    this.#kv = kv
    this.#logLine = logLine
  }

  get pending(): number {
    return this.#accounts.size + this.#hosts.size
  }

  enqueueAccount(key: string, value: string): void {
    this.#accounts.set(key, value)
    this.#start()
  }

  enqueueHost(key: string, value: string, mode: HostWriteMode): void {
    this.#hosts.set(key, { value, mode })
    this.#start()
  }

  /** While too many keys wait: a promise to wait on (bounded by the drain). */
  backpressure(): Promise<void> | null {
    if (this.pending < RELAY_CLUSTER_STATE_PENDING_MAX) return null
    return this.drain(Number.MAX_SAFE_INTEGER).then(() => {})
  }

  /** Resolves true once everything queued is written, false after `ms` (or once closed). */
  async drain(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    while (this.pending > 0 || this.#running !== null) {
      if (this.#closed || Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return true
  }

  close(): void {
    this.#closed = true
  }

  #start(): void {
    if (this.#running !== null || this.#closed) return
    this.#running = this.#loop().finally(() => {
      this.#running = null
      if (this.pending > 0 && !this.#closed) this.#start()
    })
  }

  async #loop(): Promise<void> {
    let failures = 0
    while (this.pending > 0 && !this.#closed) {
      const accounts = [...this.#accounts]
      this.#accounts.clear()
      const hosts = [...this.#hosts]
      this.#hosts.clear()
      const failedAccounts = await this.#writeAll(accounts, ([key, value]) => this.#kv.accounts.put(key, value))
      for (const [key, value] of failedAccounts) if (!this.#accounts.has(key)) this.#accounts.set(key, value)
      const failedHosts = failedAccounts.length > 0 ? hosts : await this.#writeAll(hosts, ([key, w]) => (w.mode === 'put' ? this.#kv.hosts.put(key, w.value) : this.#createHost(key, w.value)))
      for (const [key, w] of failedHosts) if (!this.#hosts.has(key)) this.#hosts.set(key, w)
      if (failedAccounts.length + failedHosts.length === 0) {
        failures = 0
        continue
      }
      failures++
      if (failures === 1) this.#logLine(`relay cluster: shared-state writes failing (${failedAccounts.length} accounts, ${failedHosts.length} hosts); retrying`)
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, RELAY_CLUSTER_STATE_RETRY_MS_MAX)))
    }
  }

  /** A host another process wrote first keeps its record (create fails: not an error). */
  async #createHost(key: string, value: string): Promise<void> {
    try {
      await this.#kv.hosts.create(key, value)
    } catch (err) {
      if (!/wrong last sequence|key exists/i.test(String(err))) throw err
    }
  }

  /** Write in slices of RELAY_CLUSTER_STATE_WRITES_IN_FLIGHT; resolves with the entries that failed. */
  async #writeAll<T>(entries: readonly T[], write: (entry: T) => Promise<unknown>): Promise<T[]> {
    const failed: T[] = []
    for (let i = 0; i < entries.length; i += RELAY_CLUSTER_STATE_WRITES_IN_FLIGHT) {
      const slice = entries.slice(i, i + RELAY_CLUSTER_STATE_WRITES_IN_FLIGHT)
      const results = await Promise.allSettled(slice.map(write))
      results.forEach((r, j) => r.status === 'rejected' && failed.push(slice[j] as T))
    }
    return failed
  }
}
