/**
 * The one operation shape used end to end: a PDS write, the MST change, the
 * firehose `ops` entry, the relay's inversion check and the feed indexer all
 * carry `{ action, path, cid, prev }`.
 *
 * - create: `cid` set, `prev` null (the path was absent);
 * - update: `cid` and `prev` both set and different;
 * - delete: `cid` null, `prev` set (the value that was removed).
 *
 * `invertOp` turns an op into the op that undoes it, so inverting a commit is
 * applying the inverted ops to the new tree (see mst/invert.ts).
 */
import { AtfedError } from '../errors.ts'
import type { CID } from '../data/cid.ts'
import { isValidMstKey } from './mst/key-height.ts'
import { isNodeValueCid } from './mst/cid-bytes.ts'

export type RepoOpAction = 'create' | 'update' | 'delete'

export type RepoOp = {
  action: RepoOpAction
  /** `<collection>/<rkey>`, the MST key. */
  path: string
  /** The value after the op; null for delete. */
  cid: CID | null
  /** The value before the op; null for create. */
  prev: CID | null
}

/**
 * Checks op shapes (see the module comment), CID forms, paths and that no
 * path appears twice. Throws 'InvalidOp' (or 'InvalidMstKey' for a bad path).
 */
export function checkOps(ops: readonly RepoOp[]): void {
  const seen = new Set<string>()
  for (const op of ops) {
    checkOpShape(op)
    if (seen.has(op.path)) throw new AtfedError('InvalidOp', `path appears twice: ${op.path}`)
    seen.add(op.path)
  }
}

function checkOpShape(op: RepoOp): void {
  if (!isValidMstKey(op.path)) throw new AtfedError('InvalidMstKey', `not a valid repo path: ${JSON.stringify(op.path)}`)
  for (const cid of [op.cid, op.prev]) {
    if (cid !== null && !isNodeValueCid(cid)) throw new AtfedError('InvalidOp', `${op.path}: not a blessed 36-byte CID`)
  }
  switch (op.action) {
    case 'create':
      if (op.cid === null || op.prev !== null) throw new AtfedError('InvalidOp', `${op.path}: create needs cid and no prev`)
      return
    case 'update':
      if (op.cid === null || op.prev === null) throw new AtfedError('InvalidOp', `${op.path}: update needs cid and prev`)
      if (op.cid.equals(op.prev)) throw new AtfedError('InvalidOp', `${op.path}: update with prev equal to cid`)
      return
    case 'delete':
      if (op.cid !== null || op.prev === null) throw new AtfedError('InvalidOp', `${op.path}: delete needs prev and no cid`)
      return
    default:
      throw new AtfedError('InvalidOp', `unknown action ${JSON.stringify((op as { action: unknown }).action)}`)
  }
}

/** The op that undoes `op` (create ↔ delete, update swaps cid and prev). */
export function invertOp(op: RepoOp): RepoOp {
  switch (op.action) {
    case 'create':
      return { action: 'delete', path: op.path, cid: null, prev: op.cid }
    case 'update':
      return { action: 'update', path: op.path, cid: op.prev, prev: op.cid }
    case 'delete':
      return { action: 'create', path: op.path, cid: op.prev, prev: null }
  }
}
