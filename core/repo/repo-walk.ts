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
import type { EntryData } from './mst/node-codec.ts'

export type RepoWalkItem =
  | { type: 'node'; cid: CID; bytes: Uint8Array }
  | { type: 'leaf'; key: string; cid: CID }

export function* walkRepoTree(reader: BlockReader, root: CID): Generator<RepoWalkItem, void, undefined> {
  // An explicit stack instead of recursive `yield*`: a delegated yield costs
  // one generator hop per level, for every item. Each frame is one decoded
  // node and the index of its next entry, so memory is one node per layer.
  const stack: Frame[] = []
  let next: CID | null = root
  for (;;) {
    if (next !== null) {
      const bytes = reader.get(next)
      if (bytes === undefined) throw new AtfedError('MissingBlock', `MST node ${next.toString()} is not available`)
      yield { type: 'node', cid: next, bytes }
      const { left, entries } = decodeNode(bytes)
      stack.push({ entries, index: 0 })
      next = left === null ? null : cidFromBytes(left)
      continue
    }
    const frame = stack[stack.length - 1]
    if (frame === undefined) return
    const entry = frame.entries[frame.index++]
    if (entry === undefined) {
      stack.pop()
      continue
    }
    yield { type: 'leaf', key: entry.key, cid: cidFromBytes(entry.value) }
    next = entry.right === null ? null : cidFromBytes(entry.right)
  }
}

type Frame = { entries: EntryData[]; index: number }

/** Leaves only, in key order. */
export function* walkRepoLeaves(reader: BlockReader, root: CID): Generator<{ key: string; cid: CID }, void, undefined> {
  for (const item of walkRepoTree(reader, root)) if (item.type === 'leaf') yield item
}
