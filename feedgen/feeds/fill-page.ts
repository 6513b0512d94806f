/**
 * Filling a feed page past hidden items. A feed reads its items in feed
 * order from a `PageSource` (stateful: each call gives the next items,
 * fewer than asked only at the end) and drops those `hidden` says to drop
 * (posts of accounts that are not active, indexer.ts). Dropped items still
 * move the page's position, so the cursor is the last item looked at,
 * kept or not, and the next page starts strictly after it.
 *
 * Bounded: a page looks at most `limit + FEEDGEN_HIDDEN_SCAN_MAX` items;
 * past that it ends early, short, with a cursor (a client asks again). A
 * page without a cursor is the end of the feed.
 */
import { FEEDGEN_HIDDEN_SCAN_MAX } from '../../core/limits.ts'
import { authorOf } from '../indexer/keys.ts'
import type { FeedStore } from '../indexer/store.ts'

export type PageSource<T> = (n: number) => Promise<T[]>

export type FilledPage<T> = { items: T[]; cursorAt: T | null }

export async function fillPage<T>(source: PageSource<T>, hidden: (items: T[]) => Promise<boolean[]>, limit: number): Promise<FilledPage<T>> {
  const items: T[] = []
  let looked = 0
  let last: T | null = null
  while (items.length < limit) {
    const want = limit - items.length
    const batch = await source(want)
    const drop = batch.length === 0 ? [] : await hidden(batch)
    batch.forEach((item, i) => drop[i] !== true && items.push(item))
    last = batch.at(-1) ?? last
    looked += batch.length
    if (batch.length < want) return { items, cursorAt: null }
    if (looked >= limit + FEEDGEN_HIDDEN_SCAN_MAX) break
  }
  return { items, cursorAt: last }
}

/** For each uri: is its author (the at-uri's DID) inactive? One batched read. */
export async function inactiveAuthors(db: FeedStore, uris: readonly (string | null)[]): Promise<boolean[]> {
  const dids = uris.filter((u): u is string => u !== null).map(authorOf)
  const inactive = await db.inactiveAmong(dids)
  if (inactive.size === 0) return uris.map(() => false)
  return uris.map((u) => u !== null && inactive.has(authorOf(u)))
}
