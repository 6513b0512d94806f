/**
 * `keyword`: posts containing the configured keyword (a word, or a
 * `#hashtag` for hashtags only; see indexer/terms.ts), newest first, minus
 * posts of accounts that are not active (fill-page.ts). Range reads of the
 * term index from the cursor on; the cursor is `<time>::<uri>` of the last
 * item looked at. Not personalised: anonymous requests are served.
 */
import type { TimeCursor, TimeItem } from '../indexer/store.ts'
import { formatTimeCursor, parseTimeCursor } from './cursor.ts'
import type { FeedModule } from './feed.ts'
import { fillPage, inactiveAuthors } from './fill-page.ts'

export const feed: FeedModule = {
  name: 'keyword',
  description: 'Posts containing the configured keyword or hashtag, newest first.',
  requiresAuth: false,
  async handler({ db, limit, cursor, params }) {
    let position: TimeCursor | null = parseTimeCursor(cursor)
    const source = async (n: number): Promise<TimeItem[]> => {
      const items = await db.termPage(params.keyword, position, n)
      position = items.at(-1) ?? position
      return items
    }
    const page = await fillPage(source, (items) => inactiveAuthors(db, items.map((i) => i.uri)), limit)
    return {
      feed: page.items.map((item) => ({ post: item.uri })),
      ...(page.cursorAt === null ? {} : { cursor: formatTimeCursor(page.cursorAt) }),
    }
  },
}
