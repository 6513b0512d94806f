/**
 * What a feed is: a module exporting `feed = { name, description,
 * requiresAuth, handler }`. The server serves it as
 * `at://<publisher>/app.bsky.feed.generator/<name>`; `handler` gets the
 * index, the viewer (a DID from a verified service JWT, or null when
 * logged out), a page size 1..FEEDGEN_SKELETON_LIMIT_MAX, the cursor the
 * client sent back (opaque to clients, parsed by the feed), and the server's
 * feed parameters, and returns one skeleton page.
 *
 * A page has a `cursor` only when it is full: a short page is the end (the
 * AppView also stops on an empty page or a repeated cursor).
 */
import type { Did } from '../../core/syntax/did.ts'
import type { FeedStore } from '../indexer/store.ts'

export type FeedParams = {
  /** The keyword feed's term, as terms.ts `normalizeKeyword` gives it. */
  keyword: string
  /** The popular feed counts likes from the last this many ms. */
  popularWindowMs: number
  /** How long one popular ranking is reused. */
  popularCacheMs: number
  now: () => number
}

export type SkeletonItem = {
  post: string
  reason?: { $type: 'app.bsky.feed.defs#skeletonReasonRepost'; repost: string }
}

export type FeedPage = { feed: SkeletonItem[]; cursor?: string }

/** A per-server memo for expensive shared results (e.g. a ranking), with a time to live. */
export type FeedMemo = <T>(key: string, ttlMs: number, compute: () => Promise<T>) => Promise<T>

export type FeedRequest = {
  db: FeedStore
  viewer: Did | null
  limit: number
  cursor: string | null
  params: FeedParams
  memo: FeedMemo
}

export type FeedModule = {
  /** The generator record's key: the last segment of the feed's at-uri. */
  readonly name: string
  readonly description: string
  /** True when the feed depends on who asks: a request without a service JWT is 401 AuthRequired. */
  readonly requiresAuth: boolean
  handler(request: FeedRequest): Promise<FeedPage>
}

/** A memo backed by a Map; entries expire after their TTL, and concurrent callers share one computation. */
export function createFeedMemo(now: () => number): FeedMemo {
  const entries = new Map<string, { at: number; value: Promise<unknown> }>()
  return async <T>(key: string, ttlMs: number, compute: () => Promise<T>): Promise<T> => {
    const hit = entries.get(key)
    if (hit !== undefined && now() - hit.at < ttlMs) return (await hit.value) as T
    const value = compute()
    entries.set(key, { at: now(), value })
    value.catch(() => entries.delete(key))
    return await value
  }
}
