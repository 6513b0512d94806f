/**
 * `popular`: posts ranked by the likes they got in the last N hours
 * (`params.popularWindowMs`), most liked first, ties by uri.
 *
 * A ranking counts the like rows whose sort time is in the window (newest
 * first, at most FEEDGEN_POPULAR_LIKES_SCAN_MAX), keeps posts that are in the
 * index (a deleted post drops out) and whose author is active (a taken-down
 * or deactivated account's posts drop out, and come back with the account:
 * indexer.ts); likes given by accounts that are not active do not count.
 * It keeps the top
 * FEEDGEN_POPULAR_RANKED_MAX. Counts come from like rows, so a replayed or
 * deleted like is counted right. One ranking is shared by all requests for
 * `params.popularCacheMs`. The cursor is `<likes>::<uri>` of the last item:
 * the next page starts after it in (likes desc, uri desc) order, so a page
 * boundary holds even when the ranking is recomputed between pages (an item
 * whose count changed may move across the boundary: shown twice or skipped,
 * as in any live ranking).
 */
import { FEEDGEN_POPULAR_LIKES_SCAN_MAX, FEEDGEN_POPULAR_RANKED_MAX } from '../../core/limits.ts'
import type { FeedStore } from '../indexer/store.ts'
import { formatScoreCursor, parseScoreCursor } from './cursor.ts'
import type { FeedModule } from './feed.ts'
import { inactiveAuthors } from './fill-page.ts'

type Ranked = { score: number; uri: string }
/** Likers looked up per status read (getMany). */
const LIKERS_PER_READ = 1_000

/** (score desc, uri desc): true when a comes before b. */
function before(a: Ranked, b: Ranked): boolean {
  return a.score !== b.score ? a.score > b.score : a.uri > b.uri
}

export async function rankByLikes(db: FeedStore, sinceMs: number): Promise<Ranked[]> {
  const likes = await db.likedSince(sinceMs, FEEDGEN_POPULAR_LIKES_SCAN_MAX)
  const hiddenLikers = new Set<string>()
  const likers = [...new Set(likes.map((l) => l.liker))]
  for (let i = 0; i < likers.length; i += LIKERS_PER_READ) {
    for (const did of (await db.inactiveAmong(likers.slice(i, i + LIKERS_PER_READ))).keys()) hiddenLikers.add(did)
  }
  const counts = new Map<string, number>()
  for (const { liker, subject } of likes) {
    if (!hiddenLikers.has(liker)) counts.set(subject, (counts.get(subject) ?? 0) + 1)
  }
  const ranked = [...counts].map(([uri, score]) => ({ uri, score })).sort((a, b) => (before(a, b) ? -1 : 1))
  const out: Ranked[] = []
  // Keep indexed posts only; check in slices so a long tail of unknown subjects costs bounded reads.
  for (let i = 0; i < ranked.length && out.length < FEEDGEN_POPULAR_RANKED_MAX; i += 256) {
    const slice = ranked.slice(i, i + 256)
    const present = await db.hasPosts(slice.map((r) => r.uri))
    const hidden = await inactiveAuthors(db, slice.map((r) => r.uri))
    slice.forEach((r, j) => present[j] === true && hidden[j] !== true && out.length < FEEDGEN_POPULAR_RANKED_MAX && out.push(r))
  }
  return out
}

export const feed: FeedModule = {
  name: 'popular',
  description: 'The most liked posts of the last hours.',
  requiresAuth: false,
  async handler({ db, limit, cursor, params, memo }) {
    const after = parseScoreCursor(cursor)
    const ranking = await memo('popular', params.popularCacheMs, () => rankByLikes(db, params.now() - params.popularWindowMs))
    const start = after === null ? 0 : firstAfter(ranking, after)
    const page = ranking.slice(start, start + limit)
    const last = page.at(-1)
    return {
      feed: page.map((r) => ({ post: r.uri })),
      ...(page.length === limit && last !== undefined ? { cursor: formatScoreCursor(last) } : {}),
    }
  },
}

/** Index of the first ranked item after `cursor` (binary search: the ranking is sorted). */
function firstAfter(ranking: readonly Ranked[], cursor: Ranked): number {
  let lo = 0
  let hi = ranking.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (before(cursor, ranking[mid] as Ranked)) hi = mid
    else lo = mid + 1
  }
  return lo
}
