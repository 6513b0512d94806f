/**
 * Checking a firehose `#commit` on its own, without the repo (sync 1.1):
 * what a relay or consumer does with every commit it receives. The steps, in
 * this order (first failure wins; see the spec digest §7.9):
 *
 * 1. syntax: `repo` a DID, `rev` a TID, `since` a TID below `rev` or null,
 *    at most COMMIT_OPS_MAX ops, `blocks` at most COMMIT_BLOCKS_BYTES_MAX
 *    ('InvalidEvent', 'RevNotIncreasing');
 * 2. `blocks` is a CAR with exactly one root, equal to `commit` (CAR errors
 *    pass through; 'CommitMismatch'), every block re-hashed by the decoder;
 *    the commit block is present ('MissingBlock') and decodes ('InvalidCommit');
 * 3. `commit.did == repo` ('DidMismatch'), `commit.rev == rev` ('RevMismatch');
 * 4. the signature by `key` ('BadCommitSignature'), then the rev is not too
 *    far in the future ('FutureRev');
 * 5. op shapes (operation.ts `checkOps`: 'InvalidOp', 'InvalidMstKey');
 * 6. each create/update's value in the new tree equals `op.cid` and its record
 *    block is in the CAR; each delete's path is absent ('InvalidOp',
 *    'MissingBlock');
 * 7. undo the ops on the partial tree and compare with `prevData`
 *    ('InversionMismatch'; 'MissingBlock' when the CAR lacks a node the undo
 *    needs). A first commit (`since` null) without `prevData` must invert to
 *    the empty tree. A later commit without `prevData` is 'MissingPrevData'
 *    unless `allowMissingPrevData` (legacy producers): then step 7 is skipped.
 *
 * Not checked here: `since`/`prevData` against the consumer's stored state
 * (a broken chain is a resync, not an invalid event) and `time`.
 */
import { AtfedError } from '../errors.ts'
import { COMMIT_BLOCKS_BYTES_MAX, COMMIT_OPS_MAX, SYNC_BLOCKS_BYTES_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { PublicKey } from '../crypto/key-types.ts'
import { isDid } from '../syntax/did.ts'
import { isTid } from '../syntax/tid.ts'
import type { MemoryBlockMap } from './block-reader.ts'
import { decodeCarWithSingleRoot } from './car/decode.ts'
import { checkRevAdvances, checkRevNotFuture, decodeCommit, verifyCommitSignature } from './commit.ts'
import type { SignedCommit } from './commit.ts'
import { applyOps } from './mst/apply-ops.ts'
import { Mst } from './mst/mst.ts'
import { checkOps, invertOp } from './operation.ts'
import type { RepoOp } from './operation.ts'

export type CommitEventInput = {
  repo: string
  rev: string
  since: string | null
  commit: CID
  blocks: Uint8Array
  ops: readonly RepoOp[]
  /** `data` of the previous commit; null or absent when the event omits it. */
  prevData?: CID | null
}

export type SyncEventInput = { did: string; rev: string; blocks: Uint8Array }

export type VerifyEventOptions = {
  /** The repo's current signing key (did:key string or parsed). */
  key: PublicKey | string
  /** Wall clock for the future-rev check, ms since the epoch (default Date.now()). */
  now?: number
  allowMissingPrevData?: boolean
}

export type VerifiedEvent = { commit: SignedCommit; commitCid: CID; blocks: MemoryBlockMap }

const EMPTY_TREE_ROOT = Mst.create().getPointer()

export function verifyCommitEvent(event: CommitEventInput, options: VerifyEventOptions): VerifiedEvent {
  if (!Array.isArray(event.ops) || event.ops.length > COMMIT_OPS_MAX) {
    throw new AtfedError('InvalidEvent', `ops must be an array of at most ${COMMIT_OPS_MAX}`)
  }
  if (event.since !== null && !isTid(event.since)) throw new AtfedError('InvalidEvent', 'since must be a TID or null')
  const verified = verifyCommitCar(
    { did: event.repo, rev: event.rev, blocks: event.blocks, commit: event.commit },
    { ...options, blocksBytesMax: COMMIT_BLOCKS_BYTES_MAX },
  )
  if (event.since !== null) checkRevAdvances(event.since, verified.commit.rev)
  checkOps(event.ops)
  const { commit, blocks } = verified
  const tree = Mst.load(blocks, commit.data)
  for (const op of event.ops) checkOpAgainstTree(tree, op, blocks)

  let expected = event.prevData ?? null
  if (expected === null) {
    if (event.since === null) expected = EMPTY_TREE_ROOT
    else if (options.allowMissingPrevData === true) return verified
    else throw new AtfedError('MissingPrevData', 'a commit after the first must carry prevData')
  }
  const inverted = applyOps(tree, event.ops.map(invertOp)).getPointer()
  if (!expected.equals(inverted)) {
    throw new AtfedError('InversionMismatch', `undoing the ops gives ${String(inverted)}, not ${expected.toString()}`)
  }
  return verified
}

/** A `#sync` event: a CAR holding the signed commit (extra blocks are ignored). */
export function verifySyncEvent(event: SyncEventInput, options: VerifyEventOptions): VerifiedEvent {
  return verifyCommitCar(event, { ...options, blocksBytesMax: SYNC_BLOCKS_BYTES_MAX })
}

function verifyCommitCar(
  event: SyncEventInput & { commit?: CID },
  options: VerifyEventOptions & { blocksBytesMax: number },
): VerifiedEvent {
  if (!isDid(event.did)) throw new AtfedError('InvalidEvent', 'repo must be a DID')
  if (!isTid(event.rev)) throw new AtfedError('InvalidEvent', 'rev must be a TID')
  if (!(event.blocks instanceof Uint8Array) || event.blocks.length > options.blocksBytesMax) {
    throw new AtfedError('InvalidEvent', `blocks must be a CAR of at most ${options.blocksBytesMax} bytes`)
  }
  const { root, blocks } = decodeCarWithSingleRoot(event.blocks)
  if (event.commit !== undefined && !root.equals(event.commit)) {
    throw new AtfedError('CommitMismatch', `CAR root ${root.toString()} is not the event's commit`)
  }
  const bytes = blocks.get(root)
  if (bytes === undefined) throw new AtfedError('MissingBlock', `CAR lacks the commit block ${root.toString()}`)
  const commit = decodeCommit(bytes)
  if (commit.did !== event.did) throw new AtfedError('DidMismatch', `commit is for ${commit.did}, not ${event.did}`)
  if (commit.rev !== event.rev) throw new AtfedError('RevMismatch', `commit rev ${commit.rev} is not ${event.rev}`)
  if (!verifyCommitSignature(commit, options.key)) {
    throw new AtfedError('BadCommitSignature', `commit ${root.toString()} is not signed by the repo's key`)
  }
  checkRevNotFuture(commit.rev, options.now ?? Date.now())
  return { commit, commitCid: root, blocks }
}

function checkOpAgainstTree(tree: Mst, op: RepoOp, blocks: MemoryBlockMap): void {
  const value = tree.get(op.path)
  if (op.cid === null) {
    if (value !== null) throw new AtfedError('InvalidOp', `delete ${op.path}: the path is still in the tree`)
    return
  }
  if (value === null || !value.equals(op.cid)) {
    throw new AtfedError('InvalidOp', `${op.action} ${op.path}: the tree does not hold op.cid`)
  }
  if (!blocks.has(op.cid)) throw new AtfedError('MissingBlock', `CAR lacks the record block of ${op.path}`)
}
