/**
 * A streaming walk over a stored repo tree: each MST node, then its entries
 * in key order with their subtrees, so leaves come out in MST (key) order.
 * Nothing is cached: each node is decoded, walked and dropped, so memory is
 * one node per layer whatever the repo size (unlike `Mst`, which keeps the
 * nodes it has loaded). Used to check and copy imported repos and by
 * `atfed car ls/unpack`.
 *
 * Contract: the tree was checked first (`verifyTree`), so depth is bounded
 * and the shape canonical; a block missing here is still 'MissingBlock'.
 */
import { AtfedError } from '../errors.ts'
import type { CID } from '../data/cid.ts'
import type { BlockReader } from './block-reader.ts'
import { cidFromBytes } from './mst/cid-bytes.ts'
import { decodeNode } from './mst/node-codec.ts'

export type RepoWalkItem =
  | { type: 'node'; cid: CID; bytes: Uint8Array }
  | { type: 'leaf'; key: string; cid: CID }

export function* walkRepoTree(reader: BlockReader, root: CID): Generator<RepoWalkItem, void, undefined> {
  const bytes = reader.get(root)
  if (bytes === undefined) throw new AtfedError('MissingBlock', `MST node ${root.toString()} is not available`)
  yield { type: 'node', cid: root, bytes }
  const { left, entries } = decodeNode(bytes)
  if (left !== null) yield* walkRepoTree(reader, cidFromBytes(left))
  for (const entry of entries) {
    yield { type: 'leaf', key: entry.key, cid: cidFromBytes(entry.value) }
    if (entry.right !== null) yield* walkRepoTree(reader, cidFromBytes(entry.right))
  }
}

/** Leaves only, in key order. */
export function* walkRepoLeaves(reader: BlockReader, root: CID): Generator<{ key: string; cid: CID }, void, undefined> {
  for (const item of walkRepoTree(reader, root)) if (item.type === 'leaf') yield item
}
