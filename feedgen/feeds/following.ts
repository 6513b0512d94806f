/**
 * `following`: posts and reposts by the accounts the viewer follows, newest
 * first. Personalised: it needs a viewer (a verified service JWT); without
 * one it is 401 `AuthRequired`.
 *
 * Fan-out on read: the viewer's follows (at most FEEDGEN_FOLLOWS_SCAN_MAX,
 * cached per viewer in memory, minus accounts that are not active) are merged newest first by a k-way
 * merge of their author ranges (author-merge.ts), which reads only as deep
 * into each account as the page needs. A repost is served as the reposted
 * post with a `skeletonReasonRepost`; a repost of an inactive account's
 * post is hidden (fill-page.ts). The cursor is `<time>::<uri>` of the last
 * item looked at (the post's or the repost's own uri), which orders items
 * of every author.
 */
import { XrpcError } from '../../core/xrpc/errors.ts'
import type { AuthorItem } from '../indexer/store.ts'
import { AuthorMerge } from './author-merge.ts'
import { formatTimeCursor, parseTimeCursor } from './cursor.ts'
import type { FeedModule, SkeletonItem } from './feed.ts'
import { fillPage, inactiveAuthors } from './fill-page.ts'

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
    const before = parseTimeCursor(cursor)
    const follows = await db.followsCached(viewer)
    const inactive = await db.inactiveAmong(follows)
    const merge = await AuthorMerge.open(db, inactive.size === 0 ? follows : follows.filter((did) => !inactive.has(did)), before)
    try {
      const page = await fillPage((n) => merge.take(n), (items) => inactiveAuthors(db, items.map((i) => i.repostOf)), limit)
      return {
        feed: page.items.map(skeletonItem),
        ...(page.cursorAt === null ? {} : { cursor: formatTimeCursor(page.cursorAt) }),
      }
    } finally {
      await merge.close()
    }
  },
}
