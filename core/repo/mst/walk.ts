/**
 * In-order walks over an MST: leaves within a key range, and every node.
 *
 * A node's slots and entries interleave as
 *   left, e0, e0.right, e1, e1.right, ...
 * and slot i holds the keys between entries i-1 and i. The range walk skips
 * slots that lie wholly outside the range, so a lookup such as "the first key
 * after K" reads only the nodes on K's search path. Walks are lazy
 * generators: stop iterating and no further node is read.
 */
import { lowerBound, slotAt } from './node.ts'
import type { Entry, MstNode } from './node.ts'

export type KeyRange = {
  /** Lowest key, inclusive. */
  from?: string
  /** Keys strictly greater than this (a pagination cursor). */
  after?: string
  /** Upper bound, exclusive. */
  to?: string
  /** Only keys starting with this. */
  prefix?: string
  reverse?: boolean
  /** At most this many leaves. */
  limit?: number
}

type Bounds = { lo: string | undefined; hi: string | undefined }

export function* walkEntries(root: MstNode, range: KeyRange = {}): Generator<Entry, void, undefined> {
  const { lo, hi } = boundsOf(range)
  if (lo !== undefined && hi !== undefined && lo >= hi) return
  let left = range.limit ?? Infinity
  if (left <= 0) return
  const walk = range.reverse === true ? walkBackward(root, lo, hi) : walkForward(root, lo, hi)
  for (const entry of walk) {
    yield entry
    if (--left <= 0) return
  }
}

/** Turns a range into [lo, hi): valid keys never contain NUL, so "after k" is "from k + NUL". */
function boundsOf(range: KeyRange): Bounds {
  let lo = range.from
  let hi = range.to
  const raise = (k: string): void => {
    if (lo === undefined || k > lo) lo = k
  }
  const lower = (k: string): void => {
    if (hi === undefined || k < hi) hi = k
  }
  if (range.after !== undefined) raise(range.after + '\u0000')
  if (range.prefix !== undefined && range.prefix.length > 0) {
    raise(range.prefix)
    const end = prefixEnd(range.prefix)
    if (end !== undefined) lower(end)
  }
  return { lo, hi }
}

/** The least string greater than every string starting with `prefix`. */
function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i)
    if (c < 0xffff) return prefix.slice(0, i) + String.fromCharCode(c + 1)
  }
  return undefined
}

function* walkForward(node: MstNode, lo: string | undefined, hi: string | undefined): Generator<Entry, void, undefined> {
  const entries = node.entries
  const start = lo === undefined ? 0 : lowerBound(entries, lo)
  for (let i = start; ; i++) {
    const slot = slotAt(node, i)
    if (slot !== null) yield* walkForward(slot, lo, hi)
    const entry = entries[i]
    if (entry === undefined) return
    if (hi !== undefined && entry.key >= hi) return
    yield entry
  }
}

function* walkBackward(node: MstNode, lo: string | undefined, hi: string | undefined): Generator<Entry, void, undefined> {
  const entries = node.entries
  const end = hi === undefined ? entries.length : lowerBound(entries, hi)
  for (let i = end; ; i--) {
    const slot = slotAt(node, i)
    if (slot !== null) yield* walkBackward(slot, lo, hi)
    if (i === 0) return
    const entry = entries[i - 1]!
    if (lo !== undefined && entry.key < lo) return
    yield entry
  }
}

/** Every node of the tree, parents before children, in key order. */
export function* walkNodes(root: MstNode): Generator<MstNode, void, undefined> {
  yield root
  const left = root.left
  if (left !== null) yield* walkNodes(left)
  for (const entry of root.entries) if (entry.right !== null) yield* walkNodes(entry.right)
}
