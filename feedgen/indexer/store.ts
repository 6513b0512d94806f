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
import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { LevelCursorStore } from '../consumer/cursor-store.ts'
import { joinKey, lastPart, prefixRange, repoRowRange, SEP, SUBLEVELS, timeKey } from './keys.ts'
import type { FollowRow, PostRow, SublevelName, SubjectRow } from './keys.ts'

export type FeedDb = Level<string, string>
export type FeedSublevel = AbstractSublevel<FeedDb, string | Buffer | Uint8Array, string, string>

export type TimeCursor = { time: number; uri: string }
export type TimeItem = { time: number; uri: string }
/** An author's post (`repostOf` null) or repost (`uri` is the repost, `repostOf` the post). */
export type AuthorItem = TimeItem & { repostOf: string | null }
export type RowByName = { post: PostRow; like: SubjectRow; repost: SubjectRow; follow: FollowRow }

const UTF8 = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const

export class FeedStore {
  readonly db: FeedDb
  readonly cursor: LevelCursorStore
  readonly #subs: { [name in SublevelName]: FeedSublevel }

  private constructor(db: FeedDb) {
    this.db = db
    this.cursor = new LevelCursorStore(db, 'consumer')
    const subs = {} as { [name in SublevelName]: FeedSublevel }
    for (const name of SUBLEVELS) subs[name] = db.sublevel<string, string>(name, UTF8)
    this.#subs = subs
  }

  /** Open (creating if needed) the store in directory `path`. */
  static async open(path: string): Promise<FeedStore> {
    const db = new Level<string, string>(path, UTF8)
    await db.open()
    return new FeedStore(db)
  }

  sub(name: SublevelName): FeedSublevel {
    return this.#subs[name]
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  async getRow<N extends keyof RowByName>(name: N, uri: string): Promise<RowByName[N] | undefined> {
    const text = await this.#subs[name].get(uri)
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
    return entries.map(([key, value]) => ({ time: Number(key.split(SEP)[1]), uri: lastPart(key), repostOf: value === '' ? null : value }))
  }

  /** Subjects of the likes with sort time >= sinceMs, newest first, at most `max`. */
  async likedSince(sinceMs: number, max: number): Promise<string[]> {
    return await this.#subs.liketime.values({ gte: timeKey(Math.max(0, sinceMs)), reverse: true, limit: max }).all()
  }

  /** Whom `did` follows (distinct DIDs), at most `max`. */
  async follows(did: string, max: number): Promise<string[]> {
    const subjects = await this.#subs.follows.values({ ...prefixRange(did), limit: max }).all()
    return [...new Set(subjects)]
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
