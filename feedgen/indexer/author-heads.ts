/**
 * AuthorHeads: each author's newest items (posts and reposts, newest
 * first, at most FEEDGEN_AUTHOR_HEAD_ITEMS) in memory, so the following
 * feed's first pages need no index range per followed account: a popular
 * account followed by many viewers is read from the index once. At most
 * FEEDGEN_AUTHOR_HEADS_MAX authors; the indexer invalidates an author after
 * every write that adds or removes one of its author entries (the race and
 * bound rules are KeyedCache's).
 */
import { FEEDGEN_AUTHOR_HEAD_ITEMS, FEEDGEN_AUTHOR_HEADS_MAX } from '../../core/limits.ts'
import { KeyedCache } from './keyed-cache.ts'
import type { AuthorItem } from './store.ts'

/** The author's newest items; `complete` when they are all the author has. */
export type AuthorHead = { readonly items: readonly AuthorItem[]; readonly complete: boolean }

export class AuthorHeads {
  readonly #cache = new KeyedCache<AuthorHead>(FEEDGEN_AUTHOR_HEADS_MAX)
  readonly #load: (did: string, n: number) => Promise<AuthorItem[]>

  /** `load(did, n)`: the author's newest n items from the index. */
  constructor(load: (did: string, n: number) => Promise<AuthorItem[]>) {
    this.#load = load
  }

  get(did: string): Promise<AuthorHead> {
    return this.#cache.get(did, async () => {
      const items = await this.#load(did, FEEDGEN_AUTHOR_HEAD_ITEMS)
      return { items, complete: items.length < FEEDGEN_AUTHOR_HEAD_ITEMS }
    })
  }

  /** The cached head, or undefined; no load. */
  peek(did: string): AuthorHead | undefined {
    return this.#cache.peek(did)
  }

  invalidate(did: string): void {
    this.#cache.invalidate(did)
  }

  stats(): { hits: number; loads: number; invalidations: number; entries: number } {
    return this.#cache.stats()
  }
}
