/**
 * The upstream hosts the relay knows: one record per hostname, all held in
 * memory (at most RELAY_HOSTS_MAX) and persisted as JSON in the `hosts`
 * sublevel.
 *
 * A record carries the host's persisted `cursor` (the last upstream seq whose
 * outcome is durable), its stored status, account count, limits and drop
 * counters. Changes mark the record dirty; the sequencer writes dirty records
 * in the same batch as the events that changed them (`stage`), so a cursor
 * is never durable ahead of the events it covers.
 *
 * Statuses (com.atproto.sync.defs#hostStatus): `active`, `idle` (the host
 * answered FutureCursor; left alone until a requestCrawl), `offline` (too
 * many failed connections; probed again every RELAY_HOST_OFFLINE_RETRY_MS),
 * `banned` (admin). `throttled` is not stored: an active host reads as
 * throttled while its rate limiter held an event back in the last
 * RELAY_HOST_THROTTLED_STATUS_MS.
 */
import type { AbstractSublevel } from 'abstract-level'
import { RELAY_HOST_ERROR_CHARS_MAX, RELAY_HOST_THROTTLED_STATUS_MS } from '../../core/limits.ts'
import type { DropCounts, DropReason } from '../drop-reasons.ts'
import type { RelayBatchOp, RelayDb, StagedWrites } from '../relay-db.ts'
import { defaultHostLimits } from './host-limits.ts'
import type { HostLimits } from './host-limits.ts'
import type { HostAddress, HostName } from './host-name.ts'

export type StoredHostStatus = 'active' | 'idle' | 'offline' | 'banned'
export type HostStatus = StoredHostStatus | 'throttled'

export type HostRecord = {
  readonly hostname: HostName
  readonly secure: boolean
  /** Configured by the operator (`--host`): trusted limits. */
  readonly trusted: boolean
  readonly addedAt: string
  status: StoredHostStatus
  /** Last upstream seq handled; null = never connected (subscribe live, no backfill). */
  cursor: number | null
  accountCount: number
  limits: HostLimits
  /** Upstream events accepted and sequenced. */
  accepted: number
  drops: DropCounts
  lastError: string | null
}

type Sublevel = AbstractSublevel<RelayDb, string | Buffer | Uint8Array, string, string>

export class HostRegistry {
  readonly #sub: Sublevel
  readonly #hosts = new Map<HostName, HostRecord>()
  readonly #dirty = new Set<HostName>()
  /** When each host's rate limiter last held an event back (memory only). */
  readonly #throttledAt = new Map<HostName, number>()

  private constructor(sub: Sublevel) {
    this.#sub = sub
  }

  static async open(db: RelayDb): Promise<HostRegistry> {
    const sub = db.sublevel<string, string>('hosts', { valueEncoding: 'utf8' }) as unknown as Sublevel
    await sub.open()
    const registry = new HostRegistry(sub)
    for await (const [, json] of sub.iterator()) {
      const record = JSON.parse(json) as HostRecord
      registry.#hosts.set(record.hostname, record)
    }
    return registry
  }

  get size(): number {
    return this.#hosts.size
  }

  get(hostname: HostName): HostRecord | undefined {
    return this.#hosts.get(hostname)
  }

  /** Hosts in hostname order after `after`, at most `limit`. */
  page(after: string | null, limit: number): HostRecord[] {
    const names = [...this.#hosts.keys()].filter((name) => after === null || name > after).sort()
    return names.slice(0, limit).map((name) => this.#hosts.get(name) as HostRecord)
  }

  add(address: HostAddress, options: { trusted: boolean; nowIso: string }): HostRecord {
    const record: HostRecord = {
      hostname: address.hostname,
      secure: address.secure,
      trusted: options.trusted,
      addedAt: options.nowIso,
      status: 'active',
      cursor: null,
      accountCount: 0,
      limits: defaultHostLimits(options.trusted),
      accepted: 0,
      drops: {},
      lastError: null,
    }
    this.#hosts.set(record.hostname, record)
    this.#dirty.add(record.hostname)
    return record
  }

  /** Change a record and mark it for the next batch. */
  update(record: HostRecord, change: (record: HostRecord) => void): void {
    change(record)
    this.#dirty.add(record.hostname)
  }

  countDrop(record: HostRecord, reason: DropReason, detail: string): void {
    record.drops[reason] = (record.drops[reason] ?? 0) + 1
    record.lastError = `${reason}: ${detail}`.slice(0, RELAY_HOST_ERROR_CHARS_MAX)
    this.#dirty.add(record.hostname)
  }

  markThrottled(hostname: HostName, nowMs: number): void {
    this.#throttledAt.set(hostname, nowMs)
  }

  statusOf(record: HostRecord, nowMs: number): HostStatus {
    const at = this.#throttledAt.get(record.hostname)
    if (record.status === 'active' && at !== undefined && nowMs - at < RELAY_HOST_THROTTLED_STATUS_MS) return 'throttled'
    return record.status
  }

  get hasDirty(): boolean {
    return this.#dirty.size > 0
  }

  /** Puts for every changed record, taken now (the caller writes them in its batch). */
  stage(): StagedWrites {
    const ops: RelayBatchOp[] = []
    for (const name of this.#dirty) {
      const record = this.#hosts.get(name)
      // Serialised now: the record keeps changing while the batch is written.
      if (record !== undefined) ops.push({ type: 'put', sublevel: this.#sub, key: name, value: JSON.stringify(record) } as RelayBatchOp)
    }
    this.#dirty.clear()
    return { ops, settled: () => {} }
  }
}
