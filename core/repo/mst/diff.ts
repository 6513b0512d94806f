/**
 * Diff of two MSTs: the record ops that turn `before` into `after`, the node
 * blocks of `after` that `before` lacks, and the nodes of `before` that
 * `after` lacks.
 *
 * How: each tree is a stream of items in key order, where an item is a leaf
 * or a whole subtree. While the heads of both streams are subtrees with the
 * same CID, they hold the same keys and values and are skipped together
 * (nothing below them is read). Otherwise the bigger subtree (higher layer;
 * both if equal; the subtree when facing a leaf) is opened into its items,
 * which keeps both leaf sequences intact, and two leaves are compared by key.
 * Opened nodes are new/removed candidates; a CID opened on both sides is in
 * both trees and cancels out. So only differing subtrees are read.
 */
import type { CID } from '../../data/cid.ts'
import { binaryKey, MemoryBlockMap } from '../block-reader.ts'
import type { BlockReader } from '../block-reader.ts'
import type { RepoOp } from '../operation.ts'
import { cidFromBytes, rawEquals } from './cid-bytes.ts'
import { Mst } from './mst.ts'
import { MstNode } from './node.ts'
import type { Entry } from './node.ts'

export type MstDiff = {
  /** Record ops in key order: create, update (with prev) and delete (with prev). */
  ops: RepoOp[]
  /** Blocks of `after`'s nodes that are not nodes of `before`. */
  newNodes: MemoryBlockMap
  /** Nodes of `before` that are not nodes of `after`. */
  removedNodes: CID[]
}

type Item = Entry | MstNode
type Stream = Item[]

/** `diffTrees` for two stored roots (null `before`: everything is new). */
export function diffRoots(before: CID | null, after: CID, blocks: BlockReader): MstDiff {
  return diffTrees(before === null ? null : Mst.load(blocks, before), Mst.load(blocks, after))
}

/** Diff from `before` (null: an empty history, every leaf is a create) to `after`. */
export function diffTrees(before: Mst | null, after: Mst): MstDiff {
  const opened = { before: new Map<string, MstNode>(), after: new Map<string, MstNode>() }
  const ops: RepoOp[] = []
  const a: Stream = before === null ? [] : [before.root]
  const b: Stream = [after.root]
  while (a.length > 0 || b.length > 0) {
    const x = a[a.length - 1]
    const y = b[b.length - 1]
    if (x === undefined) {
      if (isNode(y!)) open(b, opened.after)
      else ops.push(create(b.pop() as Entry))
    } else if (y === undefined) {
      if (isNode(x)) open(a, opened.before)
      else ops.push(remove(a.pop() as Entry))
    } else if (!isNode(x) && !isNode(y)) {
      compareLeaves(a, b, ops)
    } else if (isNode(x) && isNode(y)) {
      if (rawEquals(x.cid(), y.cid())) {
        a.pop()
        b.pop()
      } else {
        if (x.layer >= y.layer) open(a, opened.before)
        if (y.layer >= x.layer) open(b, opened.after)
      }
    } else if (isNode(x)) {
      open(a, opened.before)
    } else {
      open(b, opened.after)
    }
  }
  return summarize(ops, opened.before, opened.after)
}

function compareLeaves(a: Stream, b: Stream, ops: RepoOp[]): void {
  const x = a[a.length - 1] as Entry
  const y = b[b.length - 1] as Entry
  if (x.key === y.key) {
    a.pop()
    b.pop()
    if (!rawEquals(x.value, y.value)) {
      ops.push({ action: 'update', path: y.key, cid: cidFromBytes(y.value), prev: cidFromBytes(x.value) })
    }
  } else if (x.key < y.key) {
    ops.push(remove(a.pop() as Entry))
  } else {
    ops.push(create(b.pop() as Entry))
  }
}

function isNode(item: Item): item is MstNode {
  return item instanceof MstNode
}

/** Replaces the node on top of the stream by its items (pushed so the first is on top). */
function open(stream: Stream, seen: Map<string, MstNode>): void {
  const node = stream.pop() as MstNode
  seen.set(binaryKey(node.cid()), node)
  const entries = node.entries
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!
    if (entry.right !== null) stream.push(entry.right)
    stream.push(entry)
  }
  if (node.left !== null) stream.push(node.left)
}

function create(entry: Entry): RepoOp {
  return { action: 'create', path: entry.key, cid: cidFromBytes(entry.value), prev: null }
}

function remove(entry: Entry): RepoOp {
  return { action: 'delete', path: entry.key, cid: null, prev: cidFromBytes(entry.value) }
}

function summarize(ops: RepoOp[], before: Map<string, MstNode>, after: Map<string, MstNode>): MstDiff {
  const newNodes = new MemoryBlockMap()
  for (const [key, node] of after) {
    if (!before.has(key)) newNodes.set(cidFromBytes(node.cid()), node.bytes())
  }
  const removedNodes: CID[] = []
  for (const [key, node] of before) if (!after.has(key)) removedNodes.push(cidFromBytes(node.cid()))
  return { ops, newNodes, removedNodes }
}
