/**
 * Rates for the relay dashboard (`GET /api/stats`): events/s per host and in
 * total, averaged over the last RELAY_DASHBOARD_RATE_WINDOW_MS.
 *
 * How: a timer samples, every RELAY_DASHBOARD_SAMPLE_INTERVAL_MS, each host's
 * counters (`accepted`, and the sum of its `drops`) and the log's last seq
 * into a ring of window / interval + 1 samples. A rate is (now − oldest
 * sample) / elapsed, with "now" read at request time, so a request right
 * after start still gets a rate over the time since the first sample.
 * Memory is bounded: samples are fixed in number and each holds one entry
 * per known host (at most RELAY_HOSTS_MAX). A host added after the oldest
 * sample counts from zero; a counter that went down (a host removed and
 * added again) reads as rate 0, never negative.
 *
 * The total rate is what the relay emitted (its own log's seq), so it also
 * counts #identity/#account events and resync #syncs, not only commits.
 * The list is the first RELAY_DASHBOARD_HOSTS_MAX hosts in hostname order;
 * `hostsTotal` says how many there are.
 */
import {
  RELAY_DASHBOARD_HOSTS_MAX,
  RELAY_DASHBOARD_RATE_WINDOW_MS,
  RELAY_DASHBOARD_SAMPLE_INTERVAL_MS,
  RELAY_HOSTS_MAX,
} from '../../core/limits.ts'
import type { HostRecord, HostRegistry, HostStatus } from '../hosts/host-registry.ts'

export type HostRate = {
  hostname: string
  status: HostStatus
  /** Last upstream seq handled; null before the first event. */
  cursor: number | null
  accountCount: number
  accepted: number
  dropped: number
  eventsPerSecond: number
  dropsPerSecond: number
}

export type RelayStats = {
  /** Milliseconds since the epoch when computed. */
  now: number
  /** The span the rates are averaged over (shorter right after start). */
  windowMs: number
  /** The relay's latest seq (0 before the first event). */
  seq: number
  eventsPerSecond: number
  hostsTotal: number
  hosts: HostRate[]
  /** Current subscribeRepos subscribers, when the server reports them. */
  subscribers: number | null
}

export type StatsSources = {
  hosts: Pick<HostRegistry, 'page' | 'statusOf' | 'size'>
  log: { lastSeq(): number }
  subscribers?: () => number
}

export type StatsSamplerOptions = {
  intervalMs?: number
  windowMs?: number
  hostsShownMax?: number
  now?: () => number
}

type Counts = { accepted: number; dropped: number }
type Sample = { at: number; seq: number; hosts: Map<string, Counts> }

function droppedOf(record: HostRecord): number {
  let sum = 0
  for (const n of Object.values(record.drops)) sum += n ?? 0
  return sum
}

function perSecond(now: number, then: number, elapsedMs: number): number {
  if (elapsedMs <= 0 || now <= then) return 0
  return ((now - then) * 1000) / elapsedMs
}

export class RelayStatsSampler {
  readonly #sources: StatsSources
  readonly #now: () => number
  readonly #samplesMax: number
  readonly #hostsShownMax: number
  readonly #samples: Sample[] = []
  readonly #timer: NodeJS.Timeout

  constructor(sources: StatsSources, options: StatsSamplerOptions = {}) {
    this.#sources = sources
    this.#now = options.now ?? Date.now
    const intervalMs = options.intervalMs ?? RELAY_DASHBOARD_SAMPLE_INTERVAL_MS
    this.#samplesMax = Math.ceil((options.windowMs ?? RELAY_DASHBOARD_RATE_WINDOW_MS) / intervalMs) + 1
    this.#hostsShownMax = options.hostsShownMax ?? RELAY_DASHBOARD_HOSTS_MAX
    this.sample()
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }

  /** Take one sample now (the timer calls this; tests may too). */
  sample(): void {
    const hosts = new Map<string, Counts>()
    for (const record of this.#sources.hosts.page(null, RELAY_HOSTS_MAX)) {
      hosts.set(record.hostname, { accepted: record.accepted, dropped: droppedOf(record) })
    }
    this.#samples.push({ at: this.#now(), seq: this.#sources.log.lastSeq(), hosts })
    if (this.#samples.length > this.#samplesMax) this.#samples.shift()
  }

  /** Samples held (at most window / interval + 1). */
  get samples(): number {
    return this.#samples.length
  }

  stats(): RelayStats {
    const now = this.#now()
    const oldest = this.#samples[0]
    const elapsedMs = oldest === undefined ? 0 : now - oldest.at
    const seq = this.#sources.log.lastSeq()
    const hosts = this.#sources.hosts.page(null, this.#hostsShownMax).map((record): HostRate => {
      const before = oldest?.hosts.get(record.hostname) ?? { accepted: 0, dropped: 0 }
      const dropped = droppedOf(record)
      return {
        hostname: record.hostname,
        status: this.#sources.hosts.statusOf(record, now),
        cursor: record.cursor,
        accountCount: record.accountCount,
        accepted: record.accepted,
        dropped,
        eventsPerSecond: perSecond(record.accepted, before.accepted, elapsedMs),
        dropsPerSecond: perSecond(dropped, before.dropped, elapsedMs),
      }
    })
    return {
      now,
      windowMs: elapsedMs,
      seq,
      eventsPerSecond: perSecond(seq, oldest?.seq ?? seq, elapsedMs),
      hostsTotal: this.#sources.hosts.size,
      hosts,
      subscribers: this.#sources.subscribers?.() ?? null,
    }
  }

  close(): void {
    clearInterval(this.#timer)
  }
}
