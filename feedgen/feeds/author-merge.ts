/**
 * The following feed's read path: a k-way merge of the followed accounts'
 * items (posts and reposts), newest first, strictly older than the page
 * cursor. A max-heap holds each opened account's next item; `take(n)` pops
 * the n newest across all of them, in (time desc, uri desc) order.
 *
 * Accounts open lazily. Each has a bound on its newest item's time (its
 * cached head's newest item, else its `authorlast` entry, keys.ts; read for
 * the rest in one getMany), capped by the cursor. Accounts wait, highest
 * bound first, and one is opened only once the heap's top is not newer than
 * its bound. An account without a bound has nothing indexed and is never
 * opened (a store from before the bounds builds them on open: store.ts). A
 * first page thus opens about as many accounts as it has distinct authors,
 * not one per follow.
 *
 * An opened account starts from its cached head (the store's AuthorHeads:
 * its newest items in memory), cut to the items older than the cursor; an
 * index range (store.ts `openAuthorRange`) is opened only when the page
 * needs more than the head holds: from the last item served, or from the
 * cursor when the whole head is newer than it. A range reads FIRST_CHUNK
 * entries, then chunks that double while the page keeps taking from it.
 * The previous handler read `limit` items from every followed account and
 * sorted them all: follows × limit entries per page.
 *
 * The order and the cursor are exactly those of a full sort, so pages are
 * the same as before (test/feedgen/following-merge.test.ts checks against
 * a model).
 */
import type { AuthorItem, AuthorRange, FeedStore, TimeCursor } from '../indexer/store.ts'

/** Entries read from each followed account before the first item is served. */
const FIRST_CHUNK = 2
const CHUNK_MAX = 100
/** Ranges opened (and their first chunk read) at once. */
const OPENS_AT_ONCE = 64

/** One account in the merge: a buffer of its next items; `range` is opened only when the buffer runs out. */
type Head = { did: string; items: readonly AuthorItem[]; at: number; range: AuthorRange | null; chunk: number; done: boolean }
type Waiting = { did: string; bound: number }

/** Strictly after the cursor in feed order (older, or as old with a smaller uri). */
function olderThan(item: AuthorItem, cursor: TimeCursor): boolean {
  return item.time !== cursor.time ? item.time < cursor.time : item.uri < cursor.uri
}

/** a sorts before b: newer first, then the larger uri. */
function newer(a: AuthorItem, b: AuthorItem): boolean {
  return a.time !== b.time ? a.time > b.time : a.uri > b.uri
}

/**
 * Each account's bound: from its cached head when there is one (the newest
 * item's time exactly; none when the head is empty and complete), else
 * `authorlast`, one getMany for the rest.
 */
async function authorBounds(db: FeedStore, dids: readonly string[]): Promise<Array<number | undefined>> {
  const out: Array<number | undefined> = new Array(dids.length)
  const unknown: number[] = []
  dids.forEach((did, i) => {
    const head = db.heads.peek(did)
    if (head === undefined) unknown.push(i)
    else out[i] = head.items[0]?.time
  })
  const read = await db.authorBounds(unknown.map((i) => dids[i]!))
  unknown.forEach((i, j) => (out[i] = read[j]))
  return out
}

export class AuthorMerge {
  readonly #db: FeedStore
  readonly #before: TimeCursor | null
  readonly #heap: Head[] = []
  readonly #open: Head[] = []
  /** Accounts not opened yet, highest bound first. */
  readonly #waiting: Waiting[]
  #next = 0

  private constructor(db: FeedStore, before: TimeCursor | null, waiting: Waiting[]) {
    this.#db = db
    this.#before = before
    this.#waiting = waiting
  }

  static async open(db: FeedStore, dids: readonly string[], before: TimeCursor | null): Promise<AuthorMerge> {
    const bounds = await authorBounds(db, dids)
    const cap = before?.time ?? Infinity
    const waiting: Waiting[] = []
    dids.forEach((did, i) => {
      const bound = bounds[i]
      if (bound !== undefined) waiting.push({ did, bound: Math.min(bound, cap) })
    })
    waiting.sort((a, b) => b.bound - a.bound)
    return new AuthorMerge(db, before, waiting)
  }

  /** The next `n` items across all accounts (fewer only when every range is exhausted). */
  async take(n: number): Promise<AuthorItem[]> {
    const out: AuthorItem[] = []
    while (out.length < n) {
      await this.#openDue(n - out.length)
      if (this.#heap.length === 0) break
      const head = this.#pop()
      const item = head.items[head.at++] as AuthorItem
      out.push(item)
      if (head.at === head.items.length && !head.done) await this.#refill(head, item)
      if (head.at < head.items.length) this.#push(head)
    }
    return out
  }

  /** The next chunk of an account whose buffer ran out after `last`. */
  async #refill(head: Head, last: TimeCursor): Promise<void> {
    if (head.range === null) {
      head.range = this.#db.openAuthorRange(head.did, last)
      this.#open.push(head)
    } else {
      head.chunk = Math.min(CHUNK_MAX, head.chunk * 2)
    }
    head.items = await head.range.read(head.chunk)
    head.at = 0
    head.done = head.items.length < head.chunk
  }

  /**
   * Open every waiting account that could hold an item at least as new as
   * the heap's top. With the heap empty, open the next `wanted` accounts
   * (the page needs that many items; the highest bounds are the likeliest).
   */
  async #openDue(wanted: number): Promise<void> {
    while (this.#next < this.#waiting.length) {
      const empty = this.#heap.length === 0
      const top = empty ? -Infinity : this.#first(this.#heap[0]!).time
      const batch = Math.min(OPENS_AT_ONCE, empty ? wanted : Infinity)
      let end = this.#next
      while (end < this.#waiting.length && end - this.#next < batch && this.#waiting[end]!.bound >= top) end++
      if (end === this.#next) return
      const due = this.#waiting.slice(this.#next, end)
      this.#next = end
      const heads = await Promise.all(due.map((w) => this.#openAccount(w.did)))
      for (const head of heads) if (head.items.length > 0) this.#push(head)
    }
  }

  /** The account's cached head, cut to the items older than the cursor; a range only if that leaves nothing but more may exist. */
  async #openAccount(did: string): Promise<Head> {
    const cached = await this.#db.heads.get(did)
    const before = this.#before
    const items = before === null ? cached.items : cached.items.filter((item) => olderThan(item, before))
    const head: Head = { did, items, at: 0, range: null, chunk: FIRST_CHUNK, done: cached.complete }
    if (items.length === 0 && !cached.complete) {
      head.range = this.#db.openAuthorRange(did, before)
      this.#open.push(head)
      head.items = await head.range.read(FIRST_CHUNK)
      head.done = head.items.length < FIRST_CHUNK
    }
    return head
  }

  async close(): Promise<void> {
    await Promise.all(this.#open.map((head) => head.range?.close()))
  }

  #first(head: Head): AuthorItem {
    return head.items[head.at] as AuthorItem
  }

  #push(head: Head): void {
    const heap = this.#heap
    heap.push(head)
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1
      if (!newer(this.#first(heap[i]!), this.#first(heap[parent]!))) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  #pop(): Head {
    const heap = this.#heap
    const top = heap[0] as Head
    const last = heap.pop() as Head
    if (heap.length === 0) return top
    heap[0] = last
    for (let i = 0; ; ) {
      const l = 2 * i + 1
      const r = l + 1
      let best = i
      if (l < heap.length && newer(this.#first(heap[l]!), this.#first(heap[best]!))) best = l
      if (r < heap.length && newer(this.#first(heap[r]!), this.#first(heap[best]!))) best = r
      if (best === i) break
      ;[heap[i], heap[best]] = [heap[best]!, heap[i]!]
      i = best
    }
    return top
  }
}
