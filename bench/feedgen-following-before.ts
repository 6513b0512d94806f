/**
 * The `following` feed's handler as it was before the k-way merge (commit
 * 4c312ff), kept for the bench's before/after row: each followed account's
 * newest `limit` items are read in full (`limit` × follows entries per page),
 * then everything is sorted and cut to `limit`. Served by the bench under the
 * feed name `following-before`; same answers, slower.
 */
import { FEEDGEN_FOLLOWS_SCAN_MAX } from '../core/limits.ts'
import { XrpcError } from '../core/xrpc/errors.ts'
import type { AuthorItem } from '../feedgen/indexer/store.ts'
import { formatTimeCursor, parseTimeCursor } from '../feedgen/feeds/cursor.ts'
import type { FeedModule, SkeletonItem } from '../feedgen/feeds/feed.ts'

/** Concurrent range reads per page. */
const READS_AT_ONCE = 64

function newerFirst(a: AuthorItem, b: AuthorItem): number {
  if (a.time !== b.time) return b.time - a.time
  return a.uri < b.uri ? 1 : a.uri > b.uri ? -1 : 0
}

function skeletonItem(item: AuthorItem): SkeletonItem {
  if (item.repostOf === null) return { post: item.uri }
  return { post: item.repostOf, reason: { $type: 'app.bsky.feed.defs#skeletonReasonRepost', repost: item.uri } }
}

export const previousFollowingFeed: FeedModule = {
  name: 'following-before',
  description: 'Posts and reposts from the accounts you follow, newest first.',
  requiresAuth: true,
  async handler({ db, viewer, limit, cursor }) {
    if (viewer === null) throw new XrpcError(401, 'AuthRequired', 'this feed is personalised: sign in')
    const beforeItem = parseTimeCursor(cursor)
    const authors = await db.follows(viewer, FEEDGEN_FOLLOWS_SCAN_MAX)
    const items: AuthorItem[] = []
    for (let i = 0; i < authors.length; i += READS_AT_ONCE) {
      const pages = await Promise.all(authors.slice(i, i + READS_AT_ONCE).map((did) => db.authorPage(did, beforeItem, limit)))
      for (const page of pages) items.push(...page)
    }
    const page = items.sort(newerFirst).slice(0, limit)
    const last = page.at(-1)
    return {
      feed: page.map(skeletonItem),
      ...(page.length === limit && last !== undefined ? { cursor: formatTimeCursor(last) } : {}),
    }
  },
}
