/**
 * `keyword`: posts containing the configured keyword (a word, or a
 * `#hashtag` for hashtags only; see indexer/terms.ts), newest first. One
 * range read of the term index per page; the cursor is `<time>::<uri>`.
 * Not personalised: anonymous requests are served.
 */
import { formatTimeCursor, parseTimeCursor } from './cursor.ts'
import type { FeedModule } from './feed.ts'

export const feed: FeedModule = {
  name: 'keyword',
  description: 'Posts containing the configured keyword or hashtag, newest first.',
  requiresAuth: false,
  async handler({ db, limit, cursor, params }) {
    const items = await db.termPage(params.keyword, parseTimeCursor(cursor), limit)
    const last = items.at(-1)
    return {
      feed: items.map((item) => ({ post: item.uri })),
      ...(items.length === limit && last !== undefined ? { cursor: formatTimeCursor(last) } : {}),
    }
  },
}
