/**
 * Full check of a whole repo given its commit CID and a reader over blocks
 * that already hash to their CIDs (the CAR reader re-hashes every block):
 * - the commit block is present ('MissingBlock') and decodes ('InvalidCommit');
 * - `commit.did` is the expected DID, when one is given ('DidMismatch');
 * - the signature, when a key is given ('BadCommitSignature');
 * - the MST is complete and canonical (mst/verify-tree.ts: 'MissingBlock',
 *   'NonCanonicalMst', 'InvalidMstNode', 'MstTooDeep');
 * - every leaf's key ends in a valid record key ('InvalidMstKey': the MST
 *   allows `.` and `..`, which the record key spec forbids);
 * - every leaf's record block is present ('MissingBlock'). Records are not
 *   decoded: their bytes are pinned by their CIDs, and what they contain is a
 *   lexicon question.
 *
 * `verifyRepoCarBytes` does it for a CAR in memory (exactly one root, at most
 * `blocksMax` blocks: 'TooManyBlocks'); big CARs go through import.ts, which
 * streams them into a level store first.
 */
import { AtfedError } from '../errors.ts'
import { CAR_BLOCKS_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { PublicKey } from '../crypto/key-types.ts'
import type { Did } from '../syntax/did.ts'
import { isRecordKey } from '../syntax/record-key.ts'
import { MemoryBlockMap } from './block-reader.ts'
import type { BlockReader } from './block-reader.ts'
import { iterateCarBytes } from './car/decode.ts'
import { singleRoot } from './car/header.ts'
import type { ReadCarOptions } from './car/section.ts'
import { decodeCommit, verifyCommitSignature } from './commit.ts'
import type { SignedCommit } from './commit.ts'
import { verifyTree } from './mst/verify-tree.ts'
import { walkRepoLeaves } from './repo-walk.ts'

export type RepoCheckOptions = {
  /** The DID the repo must belong to. */
  did?: Did
  /** When given, the commit must be signed by it. */
  key?: PublicKey | string
}

export type VerifiedRepo = {
  commit: SignedCommit
  commitCid: CID
  /** The MST root (`commit.data`). */
  root: CID
  records: number
}

/** The repo's size on the wire: blocks in the CAR (duplicates counted) and bytes. */
export type CarStats = { blocks: number; bytes: number }

export function verifyRepoBlocks(reader: BlockReader, commitCid: CID, options: RepoCheckOptions = {}): VerifiedRepo {
  const bytes = reader.get(commitCid)
  if (bytes === undefined) throw new AtfedError('MissingBlock', `the commit block ${commitCid.toString()} is missing`)
  const commit = decodeCommit(bytes)
  if (options.did !== undefined && commit.did !== options.did) {
    throw new AtfedError('DidMismatch', `repo belongs to ${commit.did}, not ${options.did}`)
  }
  if (options.key !== undefined && !verifyCommitSignature(commit, options.key)) {
    throw new AtfedError('BadCommitSignature', `commit ${commitCid.toString()} is not signed by the given key`)
  }
  const { keys } = verifyTree(commit.data, reader)
  for (const leaf of walkRepoLeaves(reader, commit.data)) {
    if (!isRecordKey(leaf.key.slice(leaf.key.indexOf('/') + 1))) {
      throw new AtfedError('InvalidMstKey', `${JSON.stringify(leaf.key.slice(0, 80))} does not end in a valid record key`)
    }
    if (reader.get(leaf.cid) === undefined) {
      throw new AtfedError('MissingBlock', `the record block of ${leaf.key} (${leaf.cid.toString()}) is missing`)
    }
  }
  return { commit, commitCid, root: commit.data, records: keys }
}

export function verifyRepoCarBytes(
  car: Uint8Array,
  options: RepoCheckOptions & ReadCarOptions & { blocksMax?: number } = {},
): VerifiedRepo & CarStats & { blockMap: MemoryBlockMap } {
  const blocksMax = options.blocksMax ?? CAR_BLOCKS_MAX
  const { roots, sections } = iterateCarBytes(car, options)
  const commitCid = singleRoot(roots)
  const blockMap = new MemoryBlockMap()
  let blocks = 0
  for (const block of sections) {
    if (++blocks > blocksMax) throw new AtfedError('TooManyBlocks', `CAR has more than ${blocksMax} blocks`)
    blockMap.set(block.cid, block.bytes)
  }
  const verified = verifyRepoBlocks(blockMap, commitCid, options)
  return { ...verified, blocks, bytes: car.length, blockMap }
}
