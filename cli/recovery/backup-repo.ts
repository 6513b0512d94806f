/**
 * Repo CARs in a backup: checking a complete one, and turning the previous
 * snapshot plus a `getRepo?since=<rev>` diff into a new complete one.
 *
 * `checkRepoCar` is the full check (core/repo/verify-repo.ts): exactly one
 * root, every block re-hashed against its CID, the commit decodes, belongs
 * to `did` and (when a key is given) is signed by it, the MST is complete
 * and canonical, every record block is present; and here also every record
 * decodes as strict DAG-CBOR (the new PDS's importRepo would refuse one that
 * does not, after we had already created the account there).
 *
 * `mergeRepoDiff`: the blocks of the old CAR and of the diff go into one
 * map; the diff's root is the new commit; the new CAR is the commit, every
 * MST node reachable from it and every record block it names — nothing
 * else, so blocks of deleted records drop out. The result is then checked
 * with `checkRepoCar` over the NEW bytes (so the CAR on disk is
 * self-contained, not merely the map). A diff whose rev is older than the
 * snapshot's is refused (`RevWentBackwards`): a backup never goes back in
 * time. A server that answers `since` with the full repo works the same.
 */
import { AtfedError } from '../../core/errors.ts'
import type { PublicKey } from '../../core/crypto/key-types.ts'
import { decodeCbor } from '../../core/data/cbor.ts'
import { DAG_CBOR_CODEC, type CID } from '../../core/data/cid.ts'
import { cidKey, MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { iterateCarBytes } from '../../core/repo/car/decode.ts'
import { singleRoot } from '../../core/repo/car/header.ts'
import type { CarBlock } from '../../core/repo/car/section.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { decodeCommit } from '../../core/repo/commit.ts'
import { walkRepoTree } from '../../core/repo/repo-walk.ts'
import { verifyRepoBlocks, verifyRepoCarBytes } from '../../core/repo/verify-repo.ts'
import type { Did } from '../../core/syntax/did.ts'
import { compareTids, type Tid } from '../../core/syntax/tid.ts'

export type CheckedRepo = { car: Uint8Array; commitCid: CID; rev: Tid; records: number; blocks: number; blockMap: MemoryBlockMap }

export type RepoKeyOptions = { did: Did; key?: PublicKey | string }

function checkRecordsDecode(blockMap: MemoryBlockMap, root: CID): void {
  for (const item of walkRepoTree(blockMap, root)) {
    if (item.type !== 'leaf' || item.cid.code !== DAG_CBOR_CODEC) continue
    try {
      decodeCbor(blockMap.get(item.cid)!)
    } catch (err) {
      throw new AtfedError('InvalidRecord', `the record at ${item.key} is not valid DAG-CBOR: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** Full check of a complete repo CAR (see the module header). */
export function checkRepoCar(car: Uint8Array, options: RepoKeyOptions): CheckedRepo {
  const verified = verifyRepoCarBytes(car, options)
  checkRecordsDecode(verified.blockMap, verified.root)
  return {
    car,
    commitCid: verified.commitCid,
    rev: verified.commit.rev,
    records: verified.records,
    blocks: verified.blocks,
    blockMap: verified.blockMap,
  }
}

function addCarBlocks(into: MemoryBlockMap, car: Uint8Array): CID {
  const { roots, sections } = iterateCarBytes(car)
  const root = singleRoot(roots)
  for (const block of sections) into.set(block.cid, block.bytes)
  return root
}

/** The commit, its MST nodes and its records, each once. The tree was verified first. */
function reachableBlocks(blockMap: MemoryBlockMap, commitCid: CID, data: CID): CarBlock[] {
  const seen = new Set<string>()
  const out: CarBlock[] = []
  const add = (cid: CID) => {
    const key = cidKey(cid)
    if (seen.has(key)) return
    seen.add(key)
    out.push({ cid, bytes: blockMap.get(cid)! })
  }
  add(commitCid)
  for (const item of walkRepoTree(blockMap, data)) add(item.cid)
  return out
}

/** The new complete snapshot from the previous one (null: none) and a `since` diff. */
export function mergeRepoDiff(previous: CheckedRepo | null, diffCar: Uint8Array, options: RepoKeyOptions): CheckedRepo {
  if (previous === null) return checkRepoCar(diffCar, options)
  const blockMap = new MemoryBlockMap().addAll(previous.blockMap)
  const root = addCarBlocks(blockMap, diffCar)
  const verified = verifyRepoBlocks(blockMap, root, options)
  if (compareTids(verified.commit.rev, previous.rev) < 0) {
    throw new AtfedError('RevWentBackwards', `the server's repo is at rev ${verified.commit.rev}, older than the backup's ${previous.rev}`)
  }
  const car = encodeCarBytes(root, reachableBlocks(blockMap, root, decodeCommit(blockMap.get(root)!).data))
  return checkRepoCar(car, options)
}
