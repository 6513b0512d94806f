/**
 * Applies record ops to a tree, checking each against the current state:
 * create needs the path absent; update and delete need the current value to
 * equal `op.prev`. A mismatch is 'InvalidOp' (shape errors too, see
 * operation.ts). Ops touch distinct paths, so their order does not change the
 * resulting tree, only which nodes are read on the way.
 */
import { AtfedError } from '../../errors.ts'
import { checkOps } from '../operation.ts'
import type { RepoOp } from '../operation.ts'
import type { Mst } from './mst.ts'

export function applyOps(tree: Mst, ops: readonly RepoOp[]): Mst {
  checkOps(ops)
  let out = tree
  for (const op of ops) out = applyOp(out, op)
  return out
}

function applyOp(tree: Mst, op: RepoOp): Mst {
  const current = tree.get(op.path)
  switch (op.action) {
    case 'create':
      if (current !== null) throw new AtfedError('InvalidOp', `create ${op.path}: the path already exists`)
      return tree.insert(op.path, op.cid!)
    case 'update':
      if (current === null || !current.equals(op.prev!)) {
        throw new AtfedError('InvalidOp', `update ${op.path}: the current value is not prev`)
      }
      return tree.update(op.path, op.cid!)
    case 'delete':
      if (current === null || !current.equals(op.prev!)) {
        throw new AtfedError('InvalidOp', `delete ${op.path}: the current value is not prev`)
      }
      return tree.delete(op.path)
  }
}
