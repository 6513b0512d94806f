/**
 * The stored head of one repo: the current commit's CID, its rev and its
 * MST root (`data`), so `getLatestCommit`, `listRepos`, the next write's rev
 * check and `prevData` need no block reads. Stored as a small DAG-CBOR map
 * `{commit, data, rev}`; we wrote it, so a malformed one is our bug (assert).
 */
import { assert } from '../../errors.ts'
import { decodeCbor, encodeCbor } from '../../data/cbor.ts'
import { asCid } from '../../data/cid.ts'
import type { CID } from '../../data/cid.ts'
import { isTid } from '../../syntax/tid.ts'
import type { Tid } from '../../syntax/tid.ts'

export type RepoHead = { commitCid: CID; rev: Tid; dataCid: CID }

export function encodeRepoHead(head: RepoHead): Uint8Array {
  return encodeCbor({ commit: head.commitCid, data: head.dataCid, rev: head.rev })
}

export function decodeRepoHead(bytes: Uint8Array): RepoHead {
  const value = decodeCbor(bytes) as { commit?: unknown; data?: unknown; rev?: unknown } | null
  const commitCid = asCid(value?.commit)
  const dataCid = asCid(value?.data)
  const rev = value?.rev
  assert(commitCid !== null && dataCid !== null && isTid(rev), 'stored repo head is malformed')
  return { commitCid, rev, dataCid }
}
