/**
 * THE pure repo write: from the current head, a batch of writes and the
 * signing key, build the next signed commit and everything that must be
 * stored and broadcast with it. No I/O beyond the synchronous block reader,
 * no clock beyond the TID clock; the caller stores `newBlocks`/`removedCids`/
 * `head` in one atomic batch (LevelRepoStore.applyCommit) together with the
 * `#commit` event built from `ops`, `eventCarBytes`, `since` and `prevData`.
 *
 * Rules (sync 1.1):
 * - create on an existing path is 'RecordAlreadyExists'; update or delete of
 *   a missing path is 'RecordNotFound';
 * - an update to the record already stored (same CID) is dropped: no op, no
 *   change (an op with prev == cid is invalid on the firehose). If every
 *   write is dropped the result is still a valid empty commit; callers that
 *   want to skip it check `ops.length === 0`;
 * - rev = clock.nextAfter(previous rev): strictly increasing even if the
 *   wall clock went back;
 * - `eventBlocks`: the commit, every MST node the commit built, the record
 *   block of every create/update (even if that CID was already stored), the
 *   covering proof of every op's path in the new tree, and the root node
 *   (so a zero-op commit can still be loaded); never the blocks of deleted
 *   or replaced records. Its CAR must fit COMMIT_BLOCKS_BYTES_MAX
 *   ('CommitTooLarge'), checked here, before anything is stored.
 * - `removedCids`: MST nodes no longer reachable, the previous commit, and
 *   the records this commit deleted or replaced — unless this commit writes
 *   the same CID again, or `keepRecordBlock(cid)` says another record still
 *   uses it (identical records at two paths share one block; only an index
 *   of records by CID can tell, so the PDS passes that check in).
 */
import { AtfedError } from '../errors.ts'
import { COMMIT_BLOCKS_BYTES_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { Keypair } from '../crypto/keypair.ts'
import { isDid } from '../syntax/did.ts'
import type { Did } from '../syntax/did.ts'
import { TidClock } from '../syntax/tid.ts'
import type { Tid } from '../syntax/tid.ts'
import { cidKey, MemoryBlockMap } from './block-reader.ts'
import type { BlockReader } from './block-reader.ts'
import { encodeCarBytes } from './car/writer.ts'
import { signCommit } from './commit.ts'
import type { SignedCommit } from './commit.ts'
import { coveringProofBlocks } from './mst/invert.ts'
import { Mst } from './mst/mst.ts'
import type { RepoOp } from './operation.ts'
import { prepareWrites } from './repo-write.ts'
import type { PreparedWrite, RepoWrite } from './repo-write.ts'
import type { RepoHead } from './store/repo-head.ts'

/** The state a commit builds on: the stored head of the repo. */
export type RepoState = RepoHead

export type ApplyWritesOptions = {
  keypair: Keypair
  did: Did
  /** Blocks of the current repo (the MST nodes are read from here). */
  reader: BlockReader
  /** The head's tree, already loaded from `reader` (`Mst.load(reader, head.dataCid)`, e.g. to resolve the writes): used instead of loading it again. */
  tree?: Mst
  /** Rev source; default: a process-wide TidClock (or one over `now`). */
  clock?: TidClock
  now?: () => number
  /** True when a record block is still used by a path this commit does not touch. */
  keepRecordBlock?: (cid: CID) => boolean
}

export type CommitResult = {
  commit: SignedCommit
  commitCid: CID
  commitBytes: Uint8Array
  rev: Tid
  /** Rev of the previous commit; null for the first. */
  since: Tid | null
  /** MST root of the previous commit; null for the first. */
  prevData: CID | null
  /** The head to store with this commit. */
  head: RepoState
  /** Commit block, new MST nodes, create/update record blocks. */
  newBlocks: MemoryBlockMap
  removedCids: CID[]
  ops: RepoOp[]
  /** Exactly the blocks a `#commit` carries, and their CAR (root = commit). */
  eventBlocks: MemoryBlockMap
  eventCarBytes: Uint8Array
}

const defaultClock = new TidClock()

export function applyWrites(
  head: RepoState | null,
  writes: readonly RepoWrite[],
  options: ApplyWritesOptions,
): CommitResult {
  if (!isDid(options.did)) throw new AtfedError('InvalidWrite', `not a DID: ${JSON.stringify(options.did)}`)
  const prepared = prepareWrites(writes)
  const before = head === null ? Mst.create() : (options.tree ?? Mst.load(options.reader, head.dataCid))
  const { tree, ops, records } = applyToTree(before, prepared)
  const { root, newBlocks: nodeBlocks, removedCids: removedNodes } = tree.collectNewBlocks()

  const rev = nextRev(head, options)
  const signed = signCommit({ did: options.did, version: 3, data: root, rev, prev: null }, options.keypair)
  const newBlocks = new MemoryBlockMap().addAll(nodeBlocks).addAll(records).set(signed.cid, signed.bytes)

  const eventBlocks = coveringProofBlocks(tree, ops, { newBlocks: nodeBlocks }).addAll(records)
  eventBlocks.set(root, tree.root.bytes()).set(signed.cid, signed.bytes)
  const eventCarBytes = encodeCarBytes(signed.cid, eventBlocks)
  if (eventCarBytes.length > COMMIT_BLOCKS_BYTES_MAX) {
    throw new AtfedError('CommitTooLarge', `commit CAR is ${eventCarBytes.length} bytes (max ${COMMIT_BLOCKS_BYTES_MAX})`)
  }

  const removedCids = [...removedNodes, ...removedRecords(ops, records, options.keepRecordBlock)]
  if (head !== null) removedCids.push(head.commitCid)
  return {
    commit: signed.commit,
    commitCid: signed.cid,
    commitBytes: signed.bytes,
    rev,
    since: head?.rev ?? null,
    prevData: head?.dataCid ?? null,
    head: { commitCid: signed.cid, rev, dataCid: root },
    newBlocks,
    removedCids,
    ops,
    eventBlocks,
    eventCarBytes,
  }
}

/** The first commit of a new repo: an empty tree, no ops, since null. */
export function createInitialCommit(
  did: Did,
  keypair: Keypair,
  options: { clock?: TidClock; now?: () => number } = {},
): CommitResult {
  return applyWrites(null, [], { ...options, did, keypair, reader: new MemoryBlockMap() })
}

/**
 * Same data, new rev, signed by `options.keypair` (after a key rotation or an
 * import). A zero-op commit: its event carries the commit and the root node.
 */
export function resignCommit(head: RepoState, options: ApplyWritesOptions): CommitResult {
  return applyWrites(head, [], options)
}

function applyToTree(
  before: Mst,
  writes: readonly PreparedWrite[],
): { tree: Mst; ops: RepoOp[]; records: MemoryBlockMap } {
  let tree = before
  const ops: RepoOp[] = []
  const records = new MemoryBlockMap()
  for (const write of writes) {
    const { path } = write
    const current = tree.get(path)
    switch (write.action) {
      case 'create':
        if (current !== null) throw new AtfedError('RecordAlreadyExists', `${path} already exists`)
        tree = tree.insert(path, write.cid)
        ops.push({ action: 'create', path, cid: write.cid, prev: null })
        records.set(write.cid, write.bytes)
        break
      case 'update':
        if (current === null) throw new AtfedError('RecordNotFound', `cannot update ${path}: no such record`)
        if (current.equals(write.cid)) break // no-op update: dropped
        tree = tree.update(path, write.cid)
        ops.push({ action: 'update', path, cid: write.cid, prev: current })
        records.set(write.cid, write.bytes)
        break
      case 'delete':
        if (current === null) throw new AtfedError('RecordNotFound', `cannot delete ${path}: no such record`)
        tree = tree.delete(path)
        ops.push({ action: 'delete', path, cid: null, prev: current })
        break
    }
  }
  return { tree, ops, records }
}

function nextRev(head: RepoState | null, options: { clock?: TidClock; now?: () => number }): Tid {
  const clock = options.clock ?? (options.now === undefined ? defaultClock : new TidClock({ nowMs: options.now }))
  return head === null ? clock.next() : clock.nextAfter(head.rev)
}

function removedRecords(
  ops: readonly RepoOp[],
  written: MemoryBlockMap,
  keep: ((cid: CID) => boolean) | undefined,
): CID[] {
  const out = new Map<string, CID>()
  for (const op of ops) {
    const old = op.prev
    if (old === null || written.has(old) || out.has(cidKey(old))) continue
    if (keep !== undefined && keep(old)) continue
    out.set(cidKey(old), old)
  }
  return [...out.values()]
}
