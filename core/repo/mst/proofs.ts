/**
 * MST proofs: sets of node blocks that let someone holding only those blocks
 * (and a trusted root CID) answer questions about a key.
 *
 * - `proofForKey`: the nodes on the search path from the root to the node
 *   holding the key, or to where the search ends if it is absent (an entry
 *   pair with no subtree between them, or an edge). Proves presence with its
 *   value, or absence.
 * - `coveringProof`: that path plus the paths to the key's nearest existing
 *   neighbours on each side. These are the nodes that inserting or deleting
 *   the key (and so undoing that) splits or merges; a `#commit` carries the
 *   covering proof, in the new tree, of every key it writes.
 * - `verifyProof`: walks from a root through untrusted blocks, re-hashing
 *   each ('CidMismatch'); 'MissingBlock' if the path is incomplete.
 */
import { AtfedError } from '../../errors.ts'
import { MST_DEPTH_MAX } from '../../limits.ts'
import { blockMatchesCid } from '../../data/cid.ts'
import type { CID } from '../../data/cid.ts'
import { MemoryBlockMap } from '../block-reader.ts'
import type { BlockReader } from '../block-reader.ts'
import { cidFromBytes } from './cid-bytes.ts'
import { ensureValidMstKey } from './key-height.ts'
import { decodeNode } from './node-codec.ts'
import type { Mst } from './mst.ts'
import { lowerBound, slotAt } from './node.ts'
import type { MstNode } from './node.ts'
import { walkEntries } from './walk.ts'

/** Nodes visited when looking `key` up, root first. */
export function searchPath(root: MstNode, key: string): MstNode[] {
  const path: MstNode[] = []
  let node: MstNode | null = root
  while (node !== null) {
    path.push(node)
    const entries = node.entries
    const i = lowerBound(entries, key)
    if (entries[i]?.key === key) break
    node = slotAt(node, i)
  }
  return path
}

export function proofForKey(tree: Mst, key: string): MemoryBlockMap {
  ensureValidMstKey(key)
  const blocks = new MemoryBlockMap()
  addPath(blocks, tree.root, key)
  return blocks
}

/** Search path of `key` plus the search paths of its nearest neighbours. */
export function coveringProof(tree: Mst, key: string): MemoryBlockMap {
  ensureValidMstKey(key)
  const blocks = new MemoryBlockMap()
  addPath(blocks, tree.root, key)
  for (const entry of walkEntries(tree.root, { to: key, reverse: true, limit: 1 })) addPath(blocks, tree.root, entry.key)
  for (const entry of walkEntries(tree.root, { after: key, limit: 1 })) addPath(blocks, tree.root, entry.key)
  return blocks
}

function addPath(blocks: MemoryBlockMap, root: MstNode, key: string): void {
  for (const node of searchPath(root, key)) blocks.set(cidFromBytes(node.cid()), node.bytes())
}

/**
 * The value of `key` under `root` (null: proven absent), using only `blocks`.
 * Each block is re-hashed against its CID.
 */
export function verifyProof(root: CID, key: string, blocks: BlockReader): CID | null {
  ensureValidMstKey(key)
  let cid: CID | null = root
  for (let depth = 0; cid !== null; depth++) {
    if (depth > MST_DEPTH_MAX) throw new AtfedError('MstTooDeep', `proof path is deeper than ${MST_DEPTH_MAX}`)
    const bytes = blocks.get(cid)
    if (bytes === undefined) throw new AtfedError('MissingBlock', `proof lacks MST node ${cid.toString()}`)
    if (!blockMatchesCid(cid, bytes)) throw new AtfedError('CidMismatch', `block does not hash to ${cid.toString()}`)
    const { left, entries } = decodeNode(bytes)
    const i = lowerBound(entries, key)
    const entry = entries[i]
    if (entry !== undefined && entry.key === key) return cidFromBytes(entry.value)
    const next = i === 0 ? left : entries[i - 1]!.right
    cid = next === null ? null : cidFromBytes(next)
  }
  return null
}
