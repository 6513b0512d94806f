/**
 * Fuzz target: whole-repo verification of a CAR in memory
 * (core/repo/verify-repo.ts `verifyRepoCarBytes`): header and sections,
 * commit decoding, the MST walk (completeness, canonical shape, depth,
 * node codec) and record keys — what importRepo and a relay's resync run on
 * a CAR from a peer.
 *
 * Run with `verifyCids: false` so mutated blocks get past the hash check and
 * reach the commit and MST code. That is not a weaker harness than the
 * network: a hostile peer chooses block bytes and computes their CIDs, so
 * every block content is reachable in production too (only "this CID names
 * those bytes" is skipped, and the map is consistent by construction). No
 * key is given, so the signature is not checked (the CAR target and the
 * commit tests cover it). Documented errors: the CAR reader's, plus
 * TooManyBlocks, MissingBlock, InvalidCommit, NonCanonicalMst,
 * InvalidMstNode, MstNodeTooLarge, MstTooDeep, InvalidMstKey.
 */
import { verifyRepoCarBytes } from '../../core/repo/verify-repo.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { tokens } from '../engine/target.ts'
import { repoSeeds } from '../seeds/repo.ts'

export const target: FuzzTarget = {
  name: 'repo',
  expectedErrors: [
    'TruncatedCar', 'InvalidCar', 'BlockTooLarge', 'InvalidCarRoots', 'TooManyBlocks', 'MissingBlock',
    'InvalidCommit', 'NonCanonicalMst', 'InvalidMstNode', 'MstNodeTooLarge', 'MstTooDeep', 'InvalidMstKey',
  ],
  coverageDirs: ['core/repo/', 'core/data/', 'core/syntax/'],
  maxBytes: 16 * 1024,
  seeds: () => {
    const repo = repoSeeds()
    return [repo.repoCar, ...repo.eventCars]
  },
  dictionary: tokens('app.bsky.feed.post/', 'app.bsky.graph.follow/3kabc', '/self', '..', 'did', 'rev', 'sig', 'data', 'prev', 'version'),
  run(bytes) {
    verifyRepoCarBytes(bytes, { verifyCids: false })
  },
}
