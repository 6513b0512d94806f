/**
 * Host leases: each upstream host is followed by exactly one ingest worker,
 * the holder of its lease in the `<stream>_LEASES` KV bucket.
 *
 * The bucket's TTL is the lease TTL: an entry not rewritten within it is
 * removed by the server. Keys: `h.<host>` = the owner's worker id,
 * `w.<worker>` = a heartbeat (so workers can count each other).
 *
 * Every TTL / RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL each worker runs a round:
 * 1. renew each held lease by compare-and-set on its revision, then heartbeat
 *    (`update`). A renewal that fails because the revision moved means
 *    another worker holds it now: the host is dropped at once. One that
 *    fails otherwise (NATS unreachable) keeps the host until a TTL has
 *    passed since the last good renewal, then drops it too — by then the
 *    entry may have expired and another worker may own it.
 * 2. fair share = ceil(hosts / live workers). Above it, release one host
 *    (stop following it, write its last batch and cursor, delete the key so
 *    the next worker starts right away). Below it, `create` leases of
 *    unowned hosts (fails while another worker's entry lives) until at the
 *    share.
 * A dead worker's entries expire after the TTL and the survivors' next
 * rounds take its hosts, resuming from the cursor in the shared state.
 * When `onAcquired` throws (the shared state is behind), the lease is given
 * back at once and a later round tries again.
 *
 * Renewals also run on the timer by themselves, never two at once: a round
 * can spend seconds in `onAcquired` (a takeover catching up after a NATS
 * node was lost), and the worker's other leases must not expire meanwhile.
 * A lease lost while its `onAcquired` still ran is stopped again right
 * after it (`onLost`), so a host is never followed without its lease.
 */
import { randomUUID } from 'node:crypto'
import { Kvm } from '@nats-io/kv'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { RELAY_CLUSTER_KV_TIMEOUT_MS, RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL } from '../../core/limits.ts'
import type { HostName } from '../hosts/host-name.ts'
import { keyOf } from './kv-names.ts'

export type HostLeaseOptions = {
  bucket: string
  replicas: number
  ttlMs: number
  /** Hosts that should be followed now (active or offline). */
  candidates: () => readonly HostName[]
  /** The lease is ours: start following the host. */
  onAcquired: (host: HostName) => Promise<void>
  /** The lease is gone (or being released): stop following, write what was taken. */
  onLost: (host: HostName) => Promise<void>
  logLine: (message: string) => void
}

type Held = { revision: number; renewedAt: number }

export class HostLeases {
  readonly workerId = randomUUID().replaceAll('-', '')
  readonly #kv: KV
  readonly #options: HostLeaseOptions
  readonly #held = new Map<HostName, Held>()
  #timer: NodeJS.Timeout | null = null
  #round: Promise<void> | null = null
  #renewing: Promise<void> | null = null
  /** Live workers' ids at the last count (this one included). */
  #workers = new Set<string>([this.workerId])
  #again = false
  #started = false
  #closed = false

  private constructor(kv: KV, options: HostLeaseOptions) {
    this.#kv = kv
    this.#options = options
  }

  static async open(nc: NatsConnection, options: HostLeaseOptions): Promise<HostLeases> {
    const kv = await new Kvm(nc).create(options.bucket, { history: 1, ttl: options.ttlMs, replicas: options.replicas, timeout: RELAY_CLUSTER_KV_TIMEOUT_MS })
    return new HostLeases(kv, options)
  }

  owns(host: HostName): boolean {
    return this.#held.has(host)
  }

  get held(): HostName[] {
    return [...this.#held.keys()]
  }

  start(): void {
    this.#started = true
    this.#timer = setInterval(() => {
      void this.#renewNow().catch((err: unknown) => this.#options.logLine(`relay cluster: lease renewal failed: ${String(err)}`))
      this.kick()
    }, Math.max(10, Math.floor(this.#options.ttlMs / RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL)))
    this.#timer.unref()
    this.kick()
  }

  /** Run a round now (a host was added), or right after the one running; nothing before `start`. */
  kick(): void {
    if (this.#closed || !this.#started) return
    if (this.#round !== null) {
      this.#again = true
      return
    }
    this.#round = this.#runRound()
      .catch((err: unknown) => this.#options.logLine(`relay cluster: lease round failed: ${String(err)}`))
      .finally(() => {
        this.#round = null
        if (this.#again && !this.#closed) {
          this.#again = false
          this.kick()
        }
      })
  }

  async #runRound(): Promise<void> {
    await this.#renewNow() // first: a failing heartbeat write must not keep held leases from being renewed
    await this.#kv.put(`w.${this.workerId}`, String(Date.now())).catch((err: unknown) => {
      throw new Error(`heartbeat: ${String(err)}`)
    })
    if (this.#closed) return
    const candidates = this.#options.candidates()
    const workers = await this.#countWorkers()
    const share = Math.ceil(candidates.length / Math.max(1, workers))
    const wanted = new Set(candidates)
    for (const host of this.#held.keys()) if (!wanted.has(host)) await this.#release(host) // banned or idle now
    if (this.#held.size > share) return this.#release(this.#held.keys().next().value as HostName)
    for (const host of candidates) {
      if (this.#held.size >= share || this.#closed) break
      if (this.#held.has(host)) continue
      const revision = await this.#kv.create(`h.${keyOf(host)}`, this.workerId).catch(() => null) // taken (or NATS busy: next round)
      if (revision === null) continue
      this.#held.set(host, { revision, renewedAt: Date.now() })
      this.#options.logLine(`relay cluster: worker ${this.workerId.slice(0, 8)} took host ${host}`)
      try {
        await this.#options.onAcquired(host)
        if (!this.#held.has(host)) await this.#options.onLost(host) // lost while taking it over: stop again
      } catch (err) {
        this.#options.logLine(`relay cluster: worker ${this.workerId.slice(0, 8)} gives ${host} back: ${String(err)}`)
        if (this.#held.has(host)) await this.#release(host)
      }
    }
  }

  /** The renewal running now, or a new one (never two at once: both would compare-and-set the same revision). */
  #renewNow(): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => (this.#renewing = null))
    return this.#renewing
  }

  async #renew(): Promise<void> {
    for (const [host, held] of this.#held) {
      try {
        held.revision = await this.#kv.update(`h.${keyOf(host)}`, this.workerId, held.revision)
        held.renewedAt = Date.now()
      } catch (err) {
        const moved = /wrong last sequence/i.test(String(err))
        if (!moved && Date.now() - held.renewedAt < this.#options.ttlMs) continue
        this.#held.delete(host)
        this.#options.logLine(`relay cluster: worker ${this.workerId.slice(0, 8)} lost host ${host}: ${String(err)}`)
        await this.#options.onLost(host)
      }
    }
  }

  /**
   * Live workers: the heartbeat keys listed. A listing needs a consumer,
   * which can take many seconds to make right after a NATS node is lost;
   * when it fails or takes over RELAY_CLUSTER_KV_TIMEOUT_MS, the workers
   * seen before are looked up one by one (plain gets: an expired heartbeat
   * is a dead worker, so the survivors' share grows without the listing).
   */
  async #countWorkers(): Promise<number> {
    let timer: NodeJS.Timeout | undefined
    try {
      const listing = (async () => {
        const ids: string[] = []
        for await (const key of await this.#kv.keys('w.*')) ids.push(key.slice(2))
        return ids
      })()
      const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('listing timed out')), RELAY_CLUSTER_KV_TIMEOUT_MS)))
      this.#workers = new Set(await Promise.race([listing, bound]))
    } catch (err) {
      const isAlive = async (id: string): Promise<boolean> => id === this.workerId || (await this.#kv.get(`w.${id}`).then((e) => e?.operation === 'PUT', () => true)) // unknown: alive
      const alive = await Promise.all([...this.#workers].map(async (id) => ((await isAlive(id)) ? id : null)))
      this.#workers = new Set(alive.filter((id) => id !== null))
      this.#options.logLine(`relay cluster: listing workers failed (${String(err)}); ${this.#workers.size} of those seen before alive`)
    } finally {
      clearTimeout(timer)
    }
    return Math.max(1, this.#workers.size)
  }

  /** Still ours while `onLost` writes the host's last batch (so its cursor reaches the bucket), then let go. */
  async #release(host: HostName): Promise<void> {
    await this.#options.onLost(host)
    this.#held.delete(host)
    await this.#kv.delete(`h.${keyOf(host)}`).catch(() => {})
    this.#options.logLine(`relay cluster: worker ${this.workerId.slice(0, 8)} released host ${host}`)
  }

  /** Stop taking hosts; release every held one (after `onLost` wrote its state). */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    await this.#round
    await this.#renewing?.catch(() => {})
    for (const host of [...this.#held.keys()]) await this.#release(host)
    await this.#kv.delete(`w.${this.workerId}`).catch(() => {})
  }
}
