/**
 * Sync 1.1 commit checking by inversion, and the blocks that make it work.
 *
 * `invertOps` (relay / consumer side): from the post-commit root and only the
 * blocks a `#commit` carries, undo every op (delete creates, restore the
 * `prev` of updates, re-insert the `prev` of deletes) and return the root
 * this gives; the caller compares it with the event's `prevData`. Ops are
 * undone in the order given; the result is the same for every order.
 * Errors: 'InvalidOp' for an op that contradicts the tree (a create whose
 * path is absent or holds another CID, an update whose current value is not
 * `op.cid`, a delete whose path exists) or a malformed op; 'MissingBlock' when
 * undoing needs a node the event lacks (its covering proofs were incomplete).
 *
 * `coveringProofBlocks` (PDS side): the MST node blocks a `#commit` must
 * carry: the nodes built by the commit plus the covering proof, in the new
 * tree, of every written path (the reference producer's rule; see proofs.ts).
 */
import type { CID } from '../../data/cid.ts'
import { MemoryBlockMap } from '../block-reader.ts'
import type { BlockReader } from '../block-reader.ts'
import { checkOps, invertOp } from '../operation.ts'
import type { RepoOp } from '../operation.ts'
import { applyOps } from './apply-ops.ts'
import { Mst } from './mst.ts'
import { coveringProof } from './proofs.ts'

export function invertOps(root: CID, ops: readonly RepoOp[], blocks: BlockReader): CID {
  checkOps(ops)
  const after = Mst.load(blocks, root)
  return applyOps(after, ops.map(invertOp)).getPointer()
}

/**
 * Node blocks for a `#commit`: `after` must descend (by insert, update,
 * delete) from the stored pre-commit tree, so that its `collectNewBlocks()`
 * are the nodes the commit built (pass them in if already collected).
 * Record blocks are not included.
 */
export function coveringProofBlocks(
  after: Mst,
  ops: readonly RepoOp[],
  options: { newBlocks?: MemoryBlockMap } = {},
): MemoryBlockMap {
  const newBlocks = options.newBlocks ?? after.collectNewBlocks().newBlocks
  const blocks = new MemoryBlockMap().addAll(newBlocks)
  for (const op of ops) blocks.addAll(coveringProof(after, op.path))
  return blocks
}
