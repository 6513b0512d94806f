/**
 * Adding hosts: `com.atproto.sync.requestCrawl`, the admin's version of it,
 * and the operator's `--host` list at start-up.
 *
 * requestCrawl checks, in order:
 * 1. the hostname (host-name.ts: https only, no port, no IP, public name —
 *    all relaxed by the dev flag);
 * 2. a banned host stays banned ('HostBanned');
 * 3. a known host: if it is `idle` or `offline` it is probed and
 *    resubscribed (an idle host from "live", since its cursor was refused);
 *    otherwise nothing to do;
 * 4. at most RELAY_HOSTS_MAX hosts ('TooManyHosts') and, unless an admin
 *    asks, RELAY_NEW_HOSTS_PER_DAY_MAX new ones per rolling day
 *    ('RateLimitExceeded'; only hosts actually added count, as indigo);
 * 5. the host must answer describeServer and must not be a relay (probe.ts);
 * 6. it is added (untrusted limits, no cursor: live only) and subscribed.
 * Configured hosts (`--host`) skip 4 and 5 and get trusted limits.
 */
import { AtfedError } from '../../core/errors.ts'
import { RELAY_HOSTS_MAX, RELAY_NEW_HOSTS_PER_DAY_MAX } from '../../core/limits.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import { parseHostInput } from './host-name.ts'
import type { HostProbe } from './probe.ts'
import type { HostRecord, HostRegistry } from './host-registry.ts'

const DAY_MS = 24 * 60 * 60 * 1000

export type CrawlDeps = {
  readonly hosts: HostRegistry
  readonly probe: HostProbe
  readonly subscribe: (record: HostRecord) => void
  /** Close the host's subscription if any (an offline one sits in its slow probe loop) and open a new one. */
  readonly restart: (record: HostRecord) => Promise<void>
  /** Persist registry changes soon (the sequencer's poke). */
  readonly persist: () => void
  readonly dev: boolean
  readonly hostsMax?: number
  readonly newHostsPerDayMax?: number
  readonly now?: () => number
}

export class HostCrawler {
  readonly #deps: CrawlDeps
  /** When each host added through requestCrawl in the last day was added. */
  readonly #recent: number[] = []

  constructor(deps: CrawlDeps) {
    this.#deps = deps
  }

  async requestCrawl(input: string, options: { admin: boolean }): Promise<HostRecord> {
    const { hosts } = this.#deps
    const address = parseHostInput(input, { dev: this.#deps.dev })
    const known = hosts.get(address.hostname)
    if (known?.status === 'banned') throw new AtfedError('HostBanned', `${address.hostname} is banned from this relay`)
    if (known !== undefined) return this.#revive(known)
    if (hosts.size >= (this.#deps.hostsMax ?? RELAY_HOSTS_MAX)) {
      throw new XrpcError(503, 'TooManyHosts', 'this relay follows as many hosts as it can')
    }
    if (!options.admin) this.#checkNewHostBudget()
    await this.#deps.probe(address)
    const raced = hosts.get(address.hostname)
    if (raced !== undefined) return raced
    if (!options.admin) this.#recent.push(this.#nowMs())
    const record = hosts.add(address, { trusted: false, nowIso: this.#nowIso() })
    this.#deps.persist()
    this.#deps.subscribe(record)
    return record
  }

  /** Add (or resume) an operator-configured host: trusted, no probe. */
  addConfigured(input: string): HostRecord {
    const address = parseHostInput(input, { dev: this.#deps.dev })
    const record = this.#deps.hosts.get(address.hostname) ?? this.#deps.hosts.add(address, { trusted: true, nowIso: this.#nowIso() })
    this.#deps.persist()
    return record
  }

  async #revive(record: HostRecord): Promise<HostRecord> {
    if (record.status !== 'idle' && record.status !== 'offline') {
      this.#deps.subscribe(record)
      return record
    }
    await this.#deps.probe(record)
    this.#deps.hosts.update(record, (r) => {
      if (r.status === 'idle') r.cursor = null
      r.status = 'active'
    })
    this.#deps.persist()
    await this.#deps.restart(record)
    return record
  }

  /** Only hosts actually added count (as indigo); a full budget is refused before probing. */
  #checkNewHostBudget(): void {
    const now = this.#nowMs()
    while (this.#recent.length > 0 && now - (this.#recent[0] as number) > DAY_MS) this.#recent.shift()
    if (this.#recent.length >= (this.#deps.newHostsPerDayMax ?? RELAY_NEW_HOSTS_PER_DAY_MAX)) {
      throw new XrpcError(429, 'RateLimitExceeded', 'too many new hosts today; try again later')
    }
  }

  #nowMs(): number {
    return (this.#deps.now ?? Date.now)()
  }

  #nowIso(): string {
    return new Date(this.#nowMs()).toISOString()
  }
}
