/**
 * A bounded stale-while-revalidate cache in front of a fetch function (DID →
 * identity, handle → DID).
 *
 * Ages, from the moment a value was fetched:
 * - younger than `staleMs`: fresh, served as is;
 * - between `staleMs` and `expireMs`: stale, served at once while ONE
 *   background re-fetch runs; if that fails the stale value stays and the
 *   next attempt waits `retryMs` (unless `dropOnError` says the failure is
 *   definitive, e.g. the DID is gone: then the entry is dropped);
 * - older than `expireMs`: never served; the caller waits for a re-fetch.
 * At most `entriesMax` entries (least recently used evicted first) and at
 * most `inflightMax` fetches at once (`ResolverBusy` past it). Concurrent
 * callers for one key share one fetch. Fetch errors are not cached.
 *
 * `refresh(key)` forces a new fetch (an `#identity` event): the entry is
 * dropped at once, so readers wait for the new value instead of the old one.
 * `verifyWithRefresh(key, check)` runs `check` on the cached value; if it
 * fails and the value is older than `forcedRefreshMinMs`, it re-fetches once
 * and checks again (a signature made with a freshly rotated key). Concurrent
 * failing checks share that one re-fetch, and a flood of bad signatures
 * costs at most one fetch per `forcedRefreshMinMs`.
 *
 * Tricky bit: fetches are numbered; a slow older fetch finishing after a
 * newer one (or while a newer one is in flight) never overwrites it.
 */
import { AtfedError } from '../core/errors.ts'
import {
  DID_CACHE_ENTRIES_MAX,
  DID_CACHE_EXPIRE_MS,
  DID_CACHE_FORCED_REFRESH_MIN_MS,
  DID_CACHE_INFLIGHT_MAX,
  DID_CACHE_RETRY_MS,
  DID_CACHE_STALE_MS,
} from '../core/limits.ts'

export type CacheOptions = {
  entriesMax?: number
  staleMs?: number
  expireMs?: number
  retryMs?: number
  forcedRefreshMinMs?: number
  inflightMax?: number
  /** Clock in ms (tests pass a fake one). */
  now?: () => number
}

/** What the owner of a cache (not its user) decides about its values. */
export type CachePolicy<V> = {
  /** Background re-fetch errors that end the entry instead of keeping it stale (e.g. a deleted DID). */
  dropOnError?: (err: unknown) => boolean
  /** A shorter fresh period for some values (e.g. a failed handle lookup); capped at `staleMs`. */
  staleMsFor?: (value: V) => number
}

export type CacheStats = { hits: number; staleHits: number; misses: number; fetches: number; evictions: number }

type Entry<V> = { readonly value: V; readonly fetchedAt: number; revalidateAt: number; readonly seq: number }
type Inflight<V> = { readonly promise: Promise<Entry<V>>; readonly seq: number }

export class ResolverCache<K extends string, V> {
  readonly stats: CacheStats = { hits: 0, staleHits: 0, misses: 0, fetches: 0, evictions: 0 }
  private readonly entries = new Map<K, Entry<V>>()
  private readonly inflight = new Map<K, Inflight<V>>()
  private readonly fetcher: (key: K) => Promise<V>
  private readonly entriesMax: number
  private readonly staleMs: number
  private readonly expireMs: number
  private readonly retryMs: number
  private readonly forcedRefreshMinMs: number
  private readonly inflightMax: number
  private readonly now: () => number
  private readonly dropOnError: (err: unknown) => boolean
  private readonly staleMsFor: (value: V) => number
  private seq = 0

  constructor(fetcher: (key: K) => Promise<V>, options: CacheOptions & CachePolicy<V> = {}) {
    this.fetcher = fetcher
    this.entriesMax = options.entriesMax ?? DID_CACHE_ENTRIES_MAX
    this.staleMs = options.staleMs ?? DID_CACHE_STALE_MS
    this.expireMs = options.expireMs ?? DID_CACHE_EXPIRE_MS
    this.retryMs = options.retryMs ?? DID_CACHE_RETRY_MS
    this.forcedRefreshMinMs = options.forcedRefreshMinMs ?? DID_CACHE_FORCED_REFRESH_MIN_MS
    this.inflightMax = options.inflightMax ?? DID_CACHE_INFLIGHT_MAX
    this.now = options.now ?? Date.now
    this.dropOnError = options.dropOnError ?? (() => false)
    const staleMsFor = options.staleMsFor
    this.staleMsFor = staleMsFor === undefined ? () => this.staleMs : (v) => Math.min(staleMsFor(v), this.staleMs)
  }

  get size(): number {
    return this.entries.size
  }

  /** The cached value, whatever its age, without fetching or touching LRU order. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value
  }

  async get(key: K): Promise<V> {
    return (await this.getEntry(key)).value
  }

  /** Force a re-fetch; readers wait for it rather than see the old value. */
  async refresh(key: K): Promise<V> {
    this.entries.delete(key)
    return (await this.startFetch(key)).value
  }

  delete(key: K): void {
    this.entries.delete(key)
  }

  /** True when `check` accepts the value, re-fetching once if it fails on an old value. */
  async verifyWithRefresh(key: K, check: (value: V) => boolean | Promise<boolean>): Promise<boolean> {
    const first = await this.getEntry(key)
    if (await check(first.value)) return true
    if (this.now() - first.fetchedAt < this.forcedRefreshMinMs) return false
    const second = await this.entryNewerThan(key, first.seq)
    return await check(second.value)
  }

  private async getEntry(key: K): Promise<Entry<V>> {
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      const now = this.now()
      if (now - entry.fetchedAt < this.expireMs) {
        this.entries.delete(key) // re-insert: most recently used last
        this.entries.set(key, entry)
        if (now >= entry.revalidateAt) this.revalidate(key, entry, now)
        else this.stats.hits++
        return entry
      }
      this.entries.delete(key)
    }
    this.stats.misses++
    return this.inflight.get(key)?.promise ?? this.startFetch(key)
  }

  private revalidate(key: K, entry: Entry<V>, now: number): void {
    this.stats.staleHits++
    if (this.inflight.has(key) || this.inflight.size >= this.inflightMax) return
    entry.revalidateAt = now + this.retryMs // a failure waits retryMs; a success replaces the entry
    this.startFetch(key).catch((err: unknown) => {
      // Otherwise the stale value keeps being served.
      if (this.dropOnError(err) && this.entries.get(key) === entry) this.entries.delete(key)
    })
  }

  /** A value fetched after `seq`: the stored or in-flight one if newer, else a new fetch. */
  private entryNewerThan(key: K, seq: number): Promise<Entry<V>> {
    const stored = this.entries.get(key)
    if (stored !== undefined && stored.seq > seq) return Promise.resolve(stored)
    const pending = this.inflight.get(key)
    if (pending !== undefined && pending.seq > seq) return pending.promise
    return this.startFetch(key)
  }

  private startFetch(key: K): Promise<Entry<V>> {
    if (this.inflight.size >= this.inflightMax) {
      return Promise.reject(new AtfedError('ResolverBusy', `more than ${this.inflightMax} lookups in flight`))
    }
    const seq = ++this.seq
    this.stats.fetches++
    const promise = Promise.resolve()
      .then(() => this.fetcher(key))
      .then((value) => {
        const fetchedAt = this.now()
        const entry: Entry<V> = { value, fetchedAt, revalidateAt: fetchedAt + this.staleMsFor(value), seq }
        this.store(key, entry)
        return entry
      })
      .finally(() => {
        if (this.inflight.get(key)?.seq === seq) this.inflight.delete(key)
      })
    this.inflight.set(key, { promise, seq })
    return promise
  }

  private store(key: K, entry: Entry<V>): void {
    const stored = this.entries.get(key)
    const pending = this.inflight.get(key)
    if ((stored !== undefined && stored.seq > entry.seq) || (pending !== undefined && pending.seq > entry.seq)) return
    this.entries.delete(key)
    this.entries.set(key, entry)
    while (this.entries.size > this.entriesMax) {
      const oldest = this.entries.keys().next().value as K
      this.entries.delete(oldest)
      this.stats.evictions++
    }
  }
}
