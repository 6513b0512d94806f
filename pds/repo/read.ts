/**
 * Reading hosted repos for the public repo.* and sync.* queries: which
 * account a `repo` parameter names, the current tree, records by path,
 * record pages and the list of collections. All reads go through the
 * block store's synchronous reader from the current head; a concurrent
 * commit cannot tear a read because blocks a head points at are only
 * removed by the commit that replaces that head, and a read that started
 * on the old head already holds its root (a node removed mid-read surfaces
 * as `MissingBlock`, a 500, which a retry fixes).
 */
import { AtfedError } from '../../core/errors.ts'
import { decodeCbor, type LexValue } from '../../core/data/cbor.ts'
import type { CID } from '../../core/data/cid.ts'
import { lexToJson, type JsonValue } from '../../core/data/json.ts'
import { PDS_DESCRIBE_REPO_COLLECTIONS_MAX } from '../../core/limits.ts'
import type { LevelRepoStore, RepoHead } from '../../core/repo/block-store.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { isDidIdentifier, parseAtIdentifier } from '../../core/syntax/at-identifier.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Account } from '../accounts/account.ts'
import type { AccountStore } from '../accounts/store.ts'

/** The local account a `repo` (DID or handle) parameter names, or null. */
export async function findLocalAccount(accounts: AccountStore, repo: unknown): Promise<Account | null> {
  const id = parseAtIdentifier(String(repo))
  return isDidIdentifier(id) ? accounts.get(id) : accounts.getByHandle(id)
}

export type RepoView = { did: Did; head: RepoHead; tree: Mst }

export function loadRepo(repos: LevelRepoStore, did: Did): RepoView | null {
  const head = repos.getHead(did)
  return head === null ? null : { did, head, tree: Mst.load(repos.readerFor(did), head.dataCid) }
}

/** The record block at `cid` as JSON form. */
export function readRecordJson(repos: LevelRepoStore, did: Did, cid: CID): JsonValue {
  const bytes = repos.getBlockSync(did, cid)
  if (bytes === undefined) throw new AtfedError('MissingBlock', `record block ${cid.toString()} of ${did} is missing`)
  return lexToJson(decodeCbor(bytes) as LexValue)
}

export type RecordEntry = { uri: string; cid: string; value: JsonValue }

export function listRecordPage(
  repos: LevelRepoStore,
  view: RepoView,
  opts: { collection: string; limit: number; cursor?: string; reverse: boolean },
): { records: RecordEntry[]; cursor: string | undefined } {
  const prefix = `${opts.collection}/`
  // Newest first by default: rkey descending (TIDs sort by time).
  const range = opts.reverse
    ? { prefix, limit: opts.limit, ...(opts.cursor === undefined ? {} : { after: `${prefix}${opts.cursor}` }) }
    : { prefix, limit: opts.limit, reverse: true, ...(opts.cursor === undefined ? {} : { to: `${prefix}${opts.cursor}` }) }
  const records = view.tree.list(range).map((leaf) => ({
    uri: `at://${view.did}/${leaf.key}`,
    cid: leaf.cid.toString(),
    value: readRecordJson(repos, view.did, leaf.cid),
  }))
  const last = records.at(-1)
  const cursor = records.length === opts.limit && last !== undefined ? last.uri.slice(last.uri.lastIndexOf('/') + 1) : undefined
  return { records, cursor }
}

/**
 * Distinct collections, in order: one descent per collection (the next
 * collection starts at the first key after `<collection>/…`, i.e. from
 * `<collection>0`, '0' being the character after '/').
 */
export function listCollections(tree: Mst): string[] {
  const out: string[] = []
  let from: string | undefined
  while (out.length < PDS_DESCRIBE_REPO_COLLECTIONS_MAX) {
    const next = tree.list(from === undefined ? { limit: 1 } : { from, limit: 1 })[0]
    if (next === undefined) break
    const collection = next.key.slice(0, next.key.indexOf('/'))
    out.push(collection)
    from = `${collection}0`
  }
  return out
}
