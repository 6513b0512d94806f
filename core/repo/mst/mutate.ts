/**
 * Insert, update and delete on immutable MST nodes, by path copying. The
 * result is the canonical tree for the new key set whatever the history, so
 * equal maps give equal roots (same algorithm family as the reference
 * implementations, written against the canonical-shape rules):
 *
 * - insert K of height h into a node at layer L: if h == L, place K and split
 *   the subtree it lands in around K; if h < L, recurse into that subtree
 *   (creating empty intermediate nodes if it is absent); at the root, h > L
 *   splits the whole tree and puts K in a new root at layer h, wrapping each
 *   half in single-link parents so links always go down one layer;
 * - delete K: drop the entry and merge the subtrees on its two sides (the
 *   right spine of the left one with the left spine of the right one); then
 *   trim root levels that are only a link.
 *
 * Callers check presence first: insert assumes K is absent, update/delete
 * assume it is present. Every node that a mutation replaces is passed to
 * `edit.retire`, which records stored nodes (for `collectNewBlocks`). Nodes
 * that are only read (stubs on other paths) are never loaded.
 */
import { AtfedError } from '../../errors.ts'
import { lowerBound, MstNode, slotAt } from './node.ts'
import type { Entry } from './node.ts'

/** One mutation's bookkeeping: its tree version and the stored nodes it replaced. */
export class Edit {
  readonly retired: Uint8Array[] = []
  constructor(
    readonly epoch: number,
    readonly entriesMax: number,
  ) {}

  node(layer: number, left: MstNode | null, entries: readonly Entry[]): MstNode {
    if (entries.length > this.entriesMax) {
      throw new AtfedError('MstNodeTooLarge', `MST node would hold ${entries.length} entries (max ${this.entriesMax})`)
    }
    return MstNode.fresh(layer, left, entries, this.epoch)
  }

  retire(node: MstNode): void {
    if (node.epoch !== this.epoch) this.retired.push(node.cid())
  }
}

export function insertKey(edit: Edit, root: MstNode, entry: Entry, height: number): MstNode {
  if (root.isEmpty) {
    edit.retire(root)
    return edit.node(height, null, [entry])
  }
  if (height > root.layer) {
    const [lo, hi] = split(edit, root, entry.key)
    const right = wrap(edit, hi, height - 1)
    return edit.node(height, wrap(edit, lo, height - 1), [{ key: entry.key, value: entry.value, right }])
  }
  return insertAt(edit, root, entry, height)
}

function insertAt(edit: Edit, node: MstNode, entry: Entry, height: number): MstNode {
  const entries = node.entries
  const i = lowerBound(entries, entry.key)
  edit.retire(node)
  if (node.layer > height) {
    const child = slotAt(node, i) ?? edit.node(node.layer - 1, null, [])
    return withSlot(edit, node, i, insertAt(edit, child, entry, height))
  }
  const slot = slotAt(node, i)
  const [lo, hi] = slot === null ? [null, null] : split(edit, slot, entry.key)
  const out = entries.slice(0, i)
  out.push({ key: entry.key, value: entry.value, right: hi })
  for (let j = i; j < entries.length; j++) out.push(entries[j]!)
  if (i === 0) return edit.node(node.layer, lo, out)
  out[i - 1] = withRight(out[i - 1]!, lo)
  return edit.node(node.layer, node.left, out)
}

/** Splits `node` around an absent key into the parts below and above it (same layer). */
function split(edit: Edit, node: MstNode, key: string): [MstNode | null, MstNode | null] {
  const entries = node.entries
  const i = lowerBound(entries, key)
  const slot = slotAt(node, i)
  if (slot === null && i === 0) return [null, node]
  if (slot === null && i === entries.length) return [node, null]
  edit.retire(node)
  const [lo, hi] = slot === null ? [null, null] : split(edit, slot, key)
  let below: MstNode | null
  if (i === 0) {
    below = lo === null ? null : edit.node(node.layer, lo, [])
  } else {
    const head = entries.slice(0, i)
    head[i - 1] = withRight(head[i - 1]!, lo)
    below = edit.node(node.layer, node.left, head)
  }
  const tail = entries.slice(i)
  const above = tail.length === 0 && hi === null ? null : edit.node(node.layer, hi, tail)
  return [below, above]
}

/** Adds single-link parents above `node` until it sits at `layer`. */
function wrap(edit: Edit, node: MstNode | null, layer: number): MstNode | null {
  let out = node
  while (out !== null && out.layer < layer) out = edit.node(out.layer + 1, out, [])
  return out
}

export function updateKey(edit: Edit, node: MstNode, key: string, value: Uint8Array): MstNode {
  const entries = node.entries
  const i = lowerBound(entries, key)
  edit.retire(node)
  const found = entries[i]
  if (found !== undefined && found.key === key) {
    const out = entries.slice()
    out[i] = { key, value, right: found.right }
    return edit.node(node.layer, node.left, out)
  }
  const child = slotAt(node, i)
  if (child === null) throw new Error('updateKey: key is absent')
  return withSlot(edit, node, i, updateKey(edit, child, key, value))
}

export function deleteKey(edit: Edit, root: MstNode, key: string): MstNode {
  let node = deleteAt(edit, root, key)
  while (node.entries.length === 0 && node.left !== null) {
    edit.retire(node)
    node = node.left
  }
  if (node.isEmpty) return edit.node(0, null, [])
  return node
}

/** Deletes a present key; the result may be empty (no entries, no link). */
function deleteAt(edit: Edit, node: MstNode, key: string): MstNode {
  const entries = node.entries
  const i = lowerBound(entries, key)
  edit.retire(node)
  const found = entries[i]
  if (found !== undefined && found.key === key) {
    const joined = merge(edit, slotAt(node, i), found.right)
    const out = entries.slice()
    out.splice(i, 1)
    if (i === 0) return edit.node(node.layer, joined, out)
    out[i - 1] = withRight(out[i - 1]!, joined)
    return edit.node(node.layer, node.left, out)
  }
  const child = slotAt(node, i)
  if (child === null) throw new Error('deleteKey: key is absent')
  const next = deleteAt(edit, child, key)
  return withSlot(edit, node, i, next.isEmpty ? null : next)
}

/** Joins two adjacent subtrees of the same layer (every key of a < every key of b). */
function merge(edit: Edit, a: MstNode | null, b: MstNode | null): MstNode | null {
  if (a === null) return b
  if (b === null) return a
  edit.retire(a)
  edit.retire(b)
  const head = a.entries
  const junction = merge(edit, slotAt(a, head.length), b.left)
  if (head.length === 0) return edit.node(a.layer, junction, b.entries)
  const out = head.slice()
  out[out.length - 1] = withRight(out[out.length - 1]!, junction)
  for (const entry of b.entries) out.push(entry)
  return edit.node(a.layer, a.left, out)
}

function withSlot(edit: Edit, node: MstNode, i: number, child: MstNode | null): MstNode {
  if (i === 0) return edit.node(node.layer, child, node.entries)
  const out = node.entries.slice()
  out[i - 1] = withRight(out[i - 1]!, child)
  return edit.node(node.layer, node.left, out)
}

function withRight(entry: Entry, right: MstNode | null): Entry {
  return { key: entry.key, value: entry.value, right }
}
