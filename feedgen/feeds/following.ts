/**
 * `following`: posts and reposts by the accounts the viewer follows, newest
 * first. Personalised: it needs a viewer (a verified service JWT); without
 * one it is 401 `AuthRequired`.
 *
 * Fan-out on read: the viewer's follows (at most FEEDGEN_FOLLOWS_SCAN_MAX)
 * each give their newest `limit` items older than the cursor, merged by
 * (time, uri). So a page costs one small range read per followed account,
 * bounded by the two limits. A repost is served as the reposted post with a
 * `skeletonReasonRepost`. The cursor is `<time>::<uri>` of the last item
 * (the post's or the repost's own uri), which orders items of every author.
 */
import { FEEDGEN_FOLLOWS_SCAN_MAX } from '../../core/limits.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import type { AuthorItem } from '../indexer/store.ts'
import { formatTimeCursor, parseTimeCursor } from './cursor.ts'
import type { FeedModule, SkeletonItem } from './feed.ts'

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

export const feed: FeedModule = {
  name: 'following',
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
