/**
 * The sync reads beyond a full export: a record's proof (sync.getRecord),
 * blocks by CID (sync.getBlocks) and the diff since a rev (getRepo `since`).
 *
 * Consistency without a lock: each read takes the head, reads what it
 * needs, then reads the head again; if a commit landed in between (the
 * head moved, or a block it needed vanished) it starts over, at most
 * REPO_EXPORT_SNAPSHOT_TRIES_MAX times, then 503 `RepoBusy`. Heads only
 * move forward, so an unchanged head means every block read belongs to it.
 *
 * - Record proof: the commit block, the MST nodes on the key's search path
 *   (core/repo/mst/proofs.ts `proofForKey`) and the record block when the
 *   key exists. For a missing key the same path proves absence, so the
 *   answer is still a CAR (the lexicon's "existence or non-existence"; the
 *   reference does the same); @atproto/repo `verifyProofs` checks both.
 * - Diff since: the commit index (commit-index.ts) names the blocks written
 *   after `since`; the ones still stored are sent, commit first. When the
 *   index cannot answer, the full repo is sent instead (core export).
 */
import { AtfedError } from '../../core/errors.ts'
import type { CID } from '../../core/data/cid.ts'
import { REPO_EXPORT_SNAPSHOT_TRIES_MAX } from '../../core/limits.ts'
import type { LevelRepoStore, RepoHead } from '../../core/repo/block-store.ts'
import type { CarBlock } from '../../core/repo/car/section.ts'
import { writeCar } from '../../core/repo/car/writer.ts'
import { exportRepoCar } from '../../core/repo/export.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { proofForKey } from '../../core/repo/mst/proofs.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import type { CommitIndex } from './commit-index.ts'

function busy(did: Did): XrpcError {
  return new XrpcError(503, 'RepoBusy', `the repo of ${did} kept changing while it was read; try again`)
}

function sameHead(store: LevelRepoStore, did: Did, head: RepoHead): boolean {
  return store.getHead(did)?.commitCid.equals(head.commitCid) === true
}

/** Blocks proving `key`'s record (or its absence) at the current head; root = the commit. */
export function recordProofBlocks(store: LevelRepoStore, did: Did, key: string): { root: CID; blocks: CarBlock[] } {
  for (let attempt = 0; attempt < REPO_EXPORT_SNAPSHOT_TRIES_MAX; attempt++) {
    const head = store.getHead(did)
    if (head === null) throw new AtfedError('RepoNotFound', `Could not find repo for DID: ${did}`)
    try {
      const commitBytes = store.getBlockSync(did, head.commitCid)
      if (commitBytes === undefined) continue
      const tree = Mst.load(store.readerFor(did), head.dataCid)
      const blocks: CarBlock[] = [{ cid: head.commitCid, bytes: commitBytes }]
      for (const [cid, bytes] of proofForKey(tree, key)) blocks.push({ cid, bytes })
      const recordCid = tree.get(key)
      if (recordCid !== null) {
        const bytes = store.getBlockSync(did, recordCid)
        if (bytes === undefined) continue
        blocks.push({ cid: recordCid, bytes })
      }
      if (sameHead(store, did, head)) return { root: head.commitCid, blocks }
    } catch (err) {
      // A node removed by a concurrent commit: retry on the new head.
      if (!(err instanceof AtfedError && err.name === 'MissingBlock') || sameHead(store, did, head)) throw err
    }
  }
  throw busy(did)
}

/** The stored blocks for `cids` (each once, in the order asked); `BlockNotFound` names the missing ones. */
export async function blocksByCid(store: LevelRepoStore, did: Did, cids: readonly CID[]): Promise<CarBlock[]> {
  const unique = [...new Map(cids.map((cid) => [cid.toString(), cid])).values()]
  const found = await store.getBlocks(did, unique)
  const missing = unique.filter((_, i) => found[i] === undefined)
  if (missing.length > 0) throw new AtfedError('BlockNotFound', `Could not find cids: ${missing.map(String).join(',')}`)
  return unique.map((cid, i) => ({ cid, bytes: found[i] as Uint8Array }))
}

/** getRepo `since`: the CAR of blocks written after `since` (or the full repo when the index cannot tell). */
export async function exportRepoSince(
  store: LevelRepoStore,
  index: CommitIndex,
  options: { did: Did; since: Tid },
): Promise<AsyncIterable<Uint8Array>> {
  const { did, since } = options
  for (let attempt = 0; attempt < REPO_EXPORT_SNAPSHOT_TRIES_MAX; attempt++) {
    const head = store.getHead(did)
    if (head === null) throw new AtfedError('RepoNotFound', `Could not find repo for DID: ${did}`)
    const cids = await index.blocksSince(did, since, head.rev)
    if (cids === null) return exportRepoCar(store, did)
    const found = cids.length === 0 ? [] : await store.getBlocks(did, cids)
    if (!sameHead(store, did, head)) continue
    const blocks: CarBlock[] = []
    cids.forEach((cid, i) => {
      const bytes = found[i]
      if (bytes === undefined) return // removed by a later commit
      if (cid.equals(head.commitCid)) blocks.unshift({ cid, bytes })
      else blocks.push({ cid, bytes })
    })
    return writeCar(head.commitCid, blocks)
  }
  throw busy(did)
}
