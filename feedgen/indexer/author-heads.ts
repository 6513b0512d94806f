/**
 * AuthorHeads: an in-memory cache of each author's newest items (posts and
 * reposts, newest first, at most FEEDGEN_AUTHOR_HEAD_ITEMS), so the
 * following feed's first pages need no index range per followed account: a
 * popular account followed by many viewers is read from the index once.
 *
 * Bounded: at most FEEDGEN_AUTHOR_HEADS_MAX authors, least recently used
 * dropped first (a Map in insertion order; a hit moves the entry to the end).
 *
 * Consistency: the indexer calls `invalidate(did)` after every write that
 * adds or removes an author entry of that DID (indexer.ts). A load races
 * with writes, so each DID has a generation, bumped by `invalidate`; a load
 * stores its result only if the generation did not change while it read
 * (the generations are bounded too: clearing them bumps an epoch that every
 * load in flight also checks).
 * Between a write and its invalidate a reader may see the previous head
 * (the same as reading just before the write).
 */
import { FEEDGEN_AUTHOR_HEAD_ITEMS, FEEDGEN_AUTHOR_HEADS_MAX } from '../../core/limits.ts'
import type { AuthorItem } from './store.ts'

/** The author's newest items; `complete` when they are all the author has. */
export type AuthorHead = { readonly items: readonly AuthorItem[]; readonly complete: boolean }

export class AuthorHeads {
  readonly #entries = new Map<string, AuthorHead>()
  readonly #generations = new Map<string, number>()
  /** Bumped when the generation map is cleared (its bound): loads begun before do not store. */
  #epoch = 0
  readonly #load: (did: string, n: number) => Promise<AuthorItem[]>
  readonly #stats = { hits: 0, loads: 0, invalidations: 0 }

  /** `load(did, n)`: the author's newest n items from the index. */
  constructor(load: (did: string, n: number) => Promise<AuthorItem[]>) {
    this.#load = load
  }

  async get(did: string): Promise<AuthorHead> {
    const hit = this.#entries.get(did)
    if (hit !== undefined) {
      this.#stats.hits++
      this.#entries.delete(did)
      this.#entries.set(did, hit)
      return hit
    }
    this.#stats.loads++
    const [epoch, generation] = [this.#epoch, this.#generations.get(did)]
    const items = await this.#load(did, FEEDGEN_AUTHOR_HEAD_ITEMS)
    const head: AuthorHead = { items, complete: items.length < FEEDGEN_AUTHOR_HEAD_ITEMS }
    if (this.#epoch === epoch && this.#generations.get(did) === generation) this.#store(did, head)
    return head
  }

  invalidate(did: string): void {
    this.#stats.invalidations++
    this.#entries.delete(did)
    if (this.#generations.size >= FEEDGEN_AUTHOR_HEADS_MAX) {
      this.#generations.clear()
      this.#epoch++
    }
    this.#generations.set(did, (this.#generations.get(did) ?? 0) + 1)
  }

  stats(): { hits: number; loads: number; invalidations: number; entries: number } {
    return { ...this.#stats, entries: this.#entries.size }
  }

  #store(did: string, head: AuthorHead): void {
    if (this.#entries.size >= FEEDGEN_AUTHOR_HEADS_MAX) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(did, head)
  }
}
