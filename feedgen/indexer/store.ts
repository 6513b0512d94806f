/**
 * The feed generator's database: one `level` directory holding the feed
 * index (layout in keys.ts) and the firehose cursor (in the same database,
 * so the indexer stores both in one batch). The indexer writes through
 * `sub(name)` batches; feeds read through the page queries below, each
 * bounded by the `limit` it is given.
 *
 * Pages run newest first. A page's position is a `TimeCursor {time, uri}`:
 * the next page holds items strictly older in (time, uri) order, so two items
 * with the same time never repeat or vanish between pages.
 */
import { LEVEL_STORE_OPTIONS } from '../../core/level-options.ts'
import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { LevelCursorStore } from '../consumer/cursor-store.ts'
import { AuthorHeads } from './author-heads.ts'
import { KeyedCache } from './keyed-cache.ts'
import { FEEDGEN_FOLLOWS_CACHED_MAX, FEEDGEN_FOLLOWS_SCAN_MAX } from '../../core/limits.ts'
import { isPresenceValue } from '../../core/presence-value.ts'
import { authorOf, joinKey, lastPart, prefixRange, repoRowRange, SEP, SUBLEVELS, timeKey } from './keys.ts'
import type { FollowRow, PostRow, SublevelName, SubjectRow } from './keys.ts'

export type FeedDb = Level<string, string>
export type FeedSublevel = AbstractSublevel<FeedDb, string | Buffer | Uint8Array, string, string>

export type TimeCursor = { time: number; uri: string }
export type TimeItem = { time: number; uri: string }
/** An author's post (`repostOf` null) or repost (`uri` is the repost, `repostOf` the post). */
export type AuthorItem = TimeItem & { repostOf: string | null }
/** An open newest-first range of one author's items; `read(n)` gives the next n (fewer only at the end). */
export type AuthorRange = { read(n: number): Promise<AuthorItem[]>; close(): Promise<void> }
export type RowByName = { post: PostRow; like: SubjectRow; repost: SubjectRow; follow: FollowRow }

const UTF8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const

export class FeedStore {
  readonly db: FeedDb
  readonly cursor: LevelCursorStore
  /** Newest items per author, for the following feed; the indexer invalidates (author-heads.ts). */
  readonly heads: AuthorHeads
  /** Whom each viewer follows (`follows` answers), for the following feed; the indexer invalidates. */
  readonly followsCache = new KeyedCache<string[]>(FEEDGEN_FOLLOWS_CACHED_MAX)
  readonly #subs: { [name in SublevelName]: FeedSublevel }

  private constructor(db: FeedDb) {
    this.db = db
    this.cursor = new LevelCursorStore(db, 'consumer')
    const subs = {} as { [name in SublevelName]: FeedSublevel }
    for (const name of SUBLEVELS) subs[name] = db.sublevel<string, string>(name, UTF8)
    this.#subs = subs
    this.heads = new AuthorHeads((did, n) => this.authorPage(did, null, n))
  }

  /** Open (creating if needed) the store in directory `path`. */
  static async open(path: string): Promise<FeedStore> {
    const db = new Level<string, string>(path, { ...UTF8, ...LEVEL_STORE_OPTIONS })
    await db.open()
    const store = new FeedStore(db)
    await store.#ensureAuthorBounds()
    return store
  }

  /**
   * A store written before `authorlast` existed gets it built once, on
   * open, from the author index (one pass, bounded batches); a new store
   * just marks it. The marker is written last, so a crash halfway repeats
   * the pass.
   */
  async #ensureAuthorBounds(): Promise<void> {
    if ((await this.#subs.meta.get('authorlast')) !== undefined) return
    let did: string | null = null
    let bound = ''
    const batch: Array<{ type: 'put'; key: string; value: string }> = []
    const emit = async (final: boolean): Promise<void> => {
      if (did !== null) batch.push({ type: 'put', key: did, value: bound })
      if (batch.length >= 1_000 || final) await this.#subs.authorlast.batch(batch.splice(0))
    }
    for await (const key of this.#subs.author.keys()) {
      const [keyDid = '', time = ''] = key.split(SEP)
      if (keyDid !== did) {
        await emit(false)
        did = keyDid
        bound = time
      } else if (time > bound) bound = time
    }
    await emit(true)
    await this.#subs.meta.put('authorlast', '1')
  }

  /** `authorlast` of each DID (ms; undefined: the repo has no post or repost indexed). */
  async authorBounds(dids: readonly string[]): Promise<Array<number | undefined>> {
    if (dids.length === 0) return []
    const values = await this.#subs.authorlast.getMany([...dids])
    return values.map((v) => (v === undefined ? undefined : Number(v)))
  }

  sub(name: SublevelName): FeedSublevel {
    return this.#subs[name]
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  /** Synchronous: an async `get` costs the indexer's thread ~20 µs of hand-off per call, a `getSync` ~2 µs. */
  getRow<N extends keyof RowByName>(name: N, uri: string): RowByName[N] | undefined {
    const text = this.#subs[name].getSync(uri)
    return text === undefined ? undefined : (JSON.parse(text) as RowByName[N])
  }

  /** Which of `uris` are indexed posts. */
  async hasPosts(uris: readonly string[]): Promise<boolean[]> {
    if (uris.length === 0) return []
    const rows = await this.#subs.post.getMany([...uris])
    return rows.map((row) => row !== undefined)
  }

  /** Posts indexed under `term`, newest first, older than `before`. */
  async termPage(term: string, before: TimeCursor | null, limit: number): Promise<TimeItem[]> {
    const keys = await this.#subs.term.keys(pageRange(term, before, limit)).all()
    return keys.map((key) => ({ time: Number(key.split(SEP)[1]), uri: lastPart(key) }))
  }

  /** A repo's posts and reposts, newest first, older than `before`. */
  async authorPage(did: string, before: TimeCursor | null, limit: number): Promise<AuthorItem[]> {
    const entries = await this.#subs.author.iterator(pageRange(did, before, limit)).all()
    return entries.map(([key, value]) => ({ time: Number(key.split(SEP)[1]), uri: lastPart(key), repostOf: isPresenceValue(value) ? null : value }))
  }

  /**
   * A repo's posts and reposts, newest first, older than `before`, read in
   * chunks on demand (the following feed's k-way merge reads only as deep as
   * the page needs). `close()` it when done.
   */
  openAuthorRange(did: string, before: TimeCursor | null): AuthorRange {
    const { limit: _, ...range } = pageRange(did, before, 0)
    const iterator = this.#subs.author.iterator(range)
    return {
      async read(n) {
        const entries = await iterator.nextv(n)
        return entries.map(([key, value]) => ({ time: Number(key.split(SEP)[1]), uri: lastPart(key), repostOf: isPresenceValue(value) ? null : value }))
      },
      close: () => iterator.close(),
    }
  }

  /** Which of `dids` are not active (taken down, deactivated, deleted, …): DID → status. */
  async inactiveAmong(dids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    if (dids.length === 0) return out
    const unique = [...new Set(dids)]
    const statuses = await this.#subs.account.getMany(unique)
    statuses.forEach((status, i) => status !== undefined && out.set(unique[i]!, status))
    return out
  }

  /** The likes with sort time >= sinceMs, newest first, at most `max`: who liked (a DID) what (an at-uri). */
  async likedSince(sinceMs: number, max: number): Promise<Array<{ liker: string; subject: string }>> {
    const entries = await this.#subs.liketime.iterator({ gte: timeKey(Math.max(0, sinceMs)), reverse: true, limit: max }).all()
    return entries.map(([key, subject]) => ({ liker: authorOf(lastPart(key)), subject }))
  }

  /** Whom `did` follows (distinct DIDs), at most `max`. */
  async follows(did: string, max: number): Promise<string[]> {
    const subjects = await this.#subs.follows.values({ ...prefixRange(did), limit: max }).all()
    return [...new Set(subjects)]
  }

  /** `follows(did, FEEDGEN_FOLLOWS_SCAN_MAX)` through the cache (read-only: do not modify the array). */
  async followsCached(did: string): Promise<readonly string[]> {
    return await this.followsCache.get(did, () => this.follows(did, FEEDGEN_FOLLOWS_SCAN_MAX))
  }

  /** Keys of a repo's rows in a uri-keyed sublevel, at most `max` (account deletion works in chunks). */
  async repoRowKeys(name: 'post' | 'like' | 'repost' | 'follow', did: string, max: number): Promise<Array<[string, string]>> {
    return await this.#subs[name].iterator({ ...repoRowRange(did), limit: max }).all()
  }

  /** Entries in a sublevel (diagnostics and tests; walks the whole sublevel). */
  async count(name: SublevelName): Promise<number> {
    let n = 0
    for await (const _ of this.#subs[name].keys()) n++
    return n
  }
}

function pageRange(prefix: string, before: TimeCursor | null, limit: number): { gt: string; lt: string; reverse: true; limit: number } {
  const range = prefixRange(prefix)
  const lt = before === null ? range.lt : joinKey(prefix, timeKey(before.time), before.uri)
  return { gt: range.gt, lt, reverse: true, limit }
}
