/**
 * FeedIndexer: the consumer handler that keeps the feed index (keys.ts) in
 * step with the firehose. Posts, likes, reposts and follows are indexed;
 * deletes (and updates) remove what the old record put there.
 *
 * Account status: an `#account` event with `active: false` (taken down,
 * suspended, deactivated, deleted, …) records the DID in the `account`
 * sublevel; the feeds hide that author's posts (and reposts of them) while
 * it is there. `active: true` removes it, so a reactivated account's posts
 * show again: their rows were kept. A deleted account (`status: deleted`)
 * also has all its rows removed; it stays recorded as deleted.
 *
 * Idempotent, as at-least-once delivery requires: every row is keyed by its
 * at-uri and every other entry is derived from the row, so an op applied
 * twice finds its row (same CID: nothing to do) and a delete of something
 * absent is a no-op. Counts (likes of a post in a window) are computed from
 * like rows, never kept as counters, so a replayed like is never counted
 * twice.
 *
 * After a write that adds or removes a post or repost, the author's cached
 * head (author-heads.ts) is invalidated; after a follow write, the
 * account's cached follow list (store.ts).
 *
 * Atomic: one event's writes, together with the consumer's cursor when it is
 * safe (`ctx.cursorIfDone()`), go in one `level` batch. Events without any
 * indexed op write nothing here; the consumer stores their cursor itself.
 * Reads before the batch are safe because a repo's events run one at a time
 * and a row belongs to the repo in its uri.
 *
 * Malformed records (records.ts) are skipped and counted per collection; an
 * update to a malformed record still removes the old version.
 */
import type { AbstractBatchOperation } from 'abstract-level'
import { isAtfedError } from '../../core/errors.ts'
import { FEEDGEN_AUTHOR_HEADS_MAX } from '../../core/limits.ts'
import { PRESENCE_TEXT } from '../../core/presence-value.ts'
import { datetimeToMs } from '../../core/syntax/datetime.ts'
import type { ConsumerAccount, ConsumerCommit, ConsumerEvent, ConsumerHandler, ConsumerOp, HandlerContext } from '../consumer/events.ts'
import { joinKey, timeKey } from './keys.ts'
import type { FollowRow, PostRow, SubjectRow } from './keys.ts'
import { parseFollow, parsePost, parseSubjectRecord } from './records.ts'
import type { FeedDb, FeedStore } from './store.ts'
import { postTerms } from './terms.ts'

/** Collections indexed (the consumer's `collections` filter). */
export const INDEXED_COLLECTIONS = ['app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.feed.repost', 'app.bsky.graph.follow'] as const
type Kind = 'post' | 'like' | 'repost' | 'follow'
const KIND_OF: { readonly [collection: string]: Kind } = {
  'app.bsky.feed.post': 'post',
  'app.bsky.feed.like': 'like',
  'app.bsky.feed.repost': 'repost',
  'app.bsky.graph.follow': 'follow',
}
/** Rows removed per batch when an account is deleted. */
const PURGE_CHUNK = 500

type BatchOp = AbstractBatchOperation<FeedDb, string, string>
type Counts = { post: number; like: number; repost: number; follow: number }

export type IndexerStats = {
  indexed: Counts
  removed: Counts
  /** Ops that changed nothing (a replay, or a delete of something never indexed). */
  unchanged: number
  malformed: { [collection: string]: number }
  accountsPurged: number
  /** `#account` events that hid (active: false) or showed again (active: true) an account. */
  accountsHidden: number
  accountsShown: number
}

const zero = (): Counts => ({ post: 0, like: 0, repost: 0, follow: 0 })

export class FeedIndexer {
  readonly #store: FeedStore
  /** The highest author bound already put in a batch being built (one commit may hold several posts). */
  readonly #boundInBatch = new WeakMap<BatchOp[], number>()
  /** DID → the `authorlast` stored for it (what the store holds once the pending batch lands). */
  readonly #bounds = new Map<string, number>()
  readonly #stats: IndexerStats = { indexed: zero(), removed: zero(), unchanged: 0, malformed: {}, accountsPurged: 0, accountsHidden: 0, accountsShown: 0 }

  constructor(store: FeedStore) {
    this.#store = store
  }

  /** The handler to give a FirehoseConsumer. */
  readonly handle: ConsumerHandler = async (event: ConsumerEvent, ctx: HandlerContext) => {
    if (event.type === 'commit') return await this.#commit(event, ctx)
    if (event.type === 'account') return await this.#account(event, ctx)
    return undefined
  }

  stats(): IndexerStats {
    const s = this.#stats
    return { ...s, indexed: { ...s.indexed }, removed: { ...s.removed }, malformed: { ...s.malformed } }
  }

  async #commit(event: ConsumerCommit, ctx: HandlerContext): Promise<{ cursorPersisted: number } | undefined> {
    const batch: BatchOp[] = []
    const eventMs = datetimeToMs(event.time)
    for (const op of event.ops) {
      const kind = KIND_OF[op.collection]
      if (kind !== undefined) await this.#apply(kind, op, { did: event.did, eventMs }, batch)
    }
    const written = await this.#write(batch, ctx)
    const bound = this.#boundInBatch.get(batch)
    if (bound !== undefined) this.#rememberBound(event.did, bound)
    if (event.ops.some((op) => op.collection === 'app.bsky.feed.post' || op.collection === 'app.bsky.feed.repost')) this.#store.heads.invalidate(event.did)
    if (event.ops.some((op) => op.collection === 'app.bsky.graph.follow')) this.#store.followsCache.invalidate(event.did)
    return written
  }

  async #write(batch: BatchOp[], ctx: HandlerContext): Promise<{ cursorPersisted: number } | undefined> {
    if (batch.length === 0) return undefined
    const cursor = ctx.cursorIfDone()
    if (cursor !== null) batch.push(this.#store.cursor.putOp(cursor) as unknown as BatchOp)
    await this.#store.db.batch(batch)
    return cursor === null ? undefined : { cursorPersisted: cursor }
  }

  async #apply(kind: Kind, op: ConsumerOp, at: { did: string; eventMs: number }, batch: BatchOp[]): Promise<void> {
    const existing = this.#store.getRow(kind, op.uri)
    if (op.action !== 'delete' && existing?.cid === op.cid.toString()) {
      this.#stats.unchanged++
      return
    }
    if (existing !== undefined) {
      this.#remove(kind, op.uri, at.did, existing, batch)
      this.#stats.removed[kind]++
    } else if (op.action === 'delete') {
      this.#stats.unchanged++
    }
    if (op.action === 'delete') return
    let authorTime: number | null
    try {
      authorTime = this.#add(kind, op, at, batch)
      this.#stats.indexed[kind]++
    } catch (err) {
      if (!isAtfedError(err, 'MalformedRecord')) throw err
      this.#stats.malformed[op.collection] = (this.#stats.malformed[op.collection] ?? 0) + 1
      return
    }
    if (authorTime !== null) await this.#raiseAuthorBound(at.did, authorTime, batch)
  }

  /**
   * Keep `authorlast` an upper bound of the repo's author entries (keys.ts).
   * The bounds this indexer wrote are remembered (bounded; a purge forgets
   * its DID), so a repo that posts again costs no read.
   */
  async #raiseAuthorBound(did: string, time: number, batch: BatchOp[]): Promise<void> {
    const known = this.#bounds.get(did) ?? (await this.#store.authorBounds([did]))[0]
    const highest = Math.max(known ?? -1, this.#boundInBatch.get(batch) ?? -1)
    if (time <= highest) {
      if (known !== undefined) this.#rememberBound(did, known)
      return
    }
    this.#boundInBatch.set(batch, time) // remembered once the batch is written (#commit)
    batch.push({ type: 'put', sublevel: this.#store.sub('authorlast'), key: did, value: timeKey(time) } as unknown as BatchOp)
  }

  #rememberBound(did: string, time: number): void {
    if (this.#bounds.size >= FEEDGEN_AUTHOR_HEADS_MAX && !this.#bounds.has(did)) this.#bounds.clear()
    this.#bounds.set(did, time)
  }

  /**
   * Row and entries for a create/update; throws MalformedRecord before
   * touching `batch`. Returns the sort time of a new author entry (post or
   * repost), else null.
   */
  #add(kind: Kind, op: Extract<ConsumerOp, { record: object }>, at: { did: string; eventMs: number }, batch: BatchOp[]): number | null {
    const cid = op.cid.toString()
    const put = (sub: Parameters<FeedStore['sub']>[0], key: string, value: string): void => {
      batch.push({ type: 'put', sublevel: this.#store.sub(sub), key, value } as unknown as BatchOp)
    }
    switch (kind) {
      case 'post': {
        const post = parsePost(op.record)
        const sortAt = sortTime(post.createdAtMs, at.eventMs)
        const terms = postTerms(post.text, post.tags)
        const row: PostRow = {
          cid, text: post.text, langs: post.langs, createdAt: post.createdAt, sortAt, terms,
          replyRoot: post.reply?.root.uri ?? null, replyParent: post.reply?.parent.uri ?? null,
        }
        put('post', op.uri, JSON.stringify(row))
        put('author', joinKey(at.did, timeKey(sortAt), op.uri), PRESENCE_TEXT)
        for (const term of terms) put('term', joinKey(term, timeKey(sortAt), op.uri), PRESENCE_TEXT)
        return sortAt
      }
      case 'like':
      case 'repost': {
        const parsed = parseSubjectRecord(op.record, op.collection)
        const row: SubjectRow = { cid, subject: parsed.subject.uri, subjectCid: parsed.subject.cid, sortAt: sortTime(parsed.createdAtMs, at.eventMs) }
        put(kind, op.uri, JSON.stringify(row))
        if (kind === 'like') {
          put('liketime', joinKey(timeKey(row.sortAt), op.uri), row.subject)
          return null
        }
        put('author', joinKey(at.did, timeKey(row.sortAt), op.uri), row.subject)
        return row.sortAt
      }
      case 'follow': {
        const follow = parseFollow(op.record)
        const row: FollowRow = { cid, subject: follow.subject, createdAt: follow.createdAt }
        put('follow', op.uri, JSON.stringify(row))
        put('follows', joinKey(at.did, op.uri), follow.subject)
        return null
      }
    }
  }

  /** Delete ops for a row and everything derived from it. */
  #remove(kind: Kind, uri: string, did: string, row: PostRow | SubjectRow | FollowRow, batch: BatchOp[]): void {
    const del = (sub: Parameters<FeedStore['sub']>[0], key: string): void => {
      batch.push({ type: 'del', sublevel: this.#store.sub(sub), key } as unknown as BatchOp)
    }
    del(kind, uri)
    switch (kind) {
      case 'post': {
        const post = row as PostRow
        del('author', joinKey(did, timeKey(post.sortAt), uri))
        for (const term of post.terms) del('term', joinKey(term, timeKey(post.sortAt), uri))
        return
      }
      case 'like':
        return del('liketime', joinKey(timeKey((row as SubjectRow).sortAt), uri))
      case 'repost':
        return del('author', joinKey(did, timeKey((row as SubjectRow).sortAt), uri))
      case 'follow':
        return del('follows', joinKey(did, uri))
    }
  }

  /** Record (or clear) the account's status with the cursor; a deletion purges its rows first. */
  async #account(event: ConsumerAccount, ctx: HandlerContext): Promise<{ cursorPersisted: number } | undefined> {
    const sublevel = this.#store.sub('account')
    if (event.active) {
      this.#stats.accountsShown++
      return await this.#write([{ type: 'del', sublevel, key: event.did } as unknown as BatchOp], ctx)
    }
    if (event.status === 'deleted') await this.#purge(event.did)
    this.#stats.accountsHidden++
    return await this.#write([{ type: 'put', sublevel, key: event.did, value: event.status ?? 'inactive' } as unknown as BatchOp], ctx)
  }

  /** An account deleted upstream: remove all its rows, in bounded batches (a replay just finds fewer). */
  async #purge(did: string): Promise<void> {
    for (const kind of ['post', 'like', 'repost', 'follow'] as const) {
      for (;;) {
        const rows = await this.#store.repoRowKeys(kind, did, PURGE_CHUNK)
        if (rows.length === 0) break
        const batch: BatchOp[] = []
        for (const [uri, text] of rows) this.#remove(kind, uri, did, JSON.parse(text) as PostRow, batch)
        await this.#store.db.batch(batch)
        this.#stats.removed[kind] += rows.length
      }
    }
    await this.#store.sub('authorlast').del(did)
    this.#bounds.delete(did)
    this.#store.heads.invalidate(did)
    this.#store.followsCache.invalidate(did)
    this.#stats.accountsPurged++
  }
}

/** Where an item sorts: its claimed creation time, but never later than when the network saw it. */
function sortTime(createdAtMs: number, eventMs: number): number {
  return Math.max(0, Math.min(createdAtMs, eventMs))
}
