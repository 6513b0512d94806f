/**
 * Paging through an account's blob references (the `refs` table, layout.ts),
 * in ascending CID-string order as the reference (its cursor is the last
 * CID of the page):
 *
 * - `listBlobs`: the distinct CIDs current records reference, whether or
 *   not they were uploaded (the reference lists `record_blob`); never temp
 *   uploads. `since` keeps the CIDs some record written after that rev uses.
 * - `listMissingBlobs`: referenced CIDs with no uploaded blob, or whose file
 *   is gone (the reference only knows the first kind), each with one record
 *   that uses it; what a migration still has to copy.
 * - `countBlobs`: checkAccountStatus's expectedBlobs (distinct referenced
 *   CIDs) and importedBlobs (uploaded blobs).
 *
 * A page reads at most PDS_LIST_BLOBS_SCAN_ROWS_MAX reference rows; when it
 * stops early it ends with a cursor and fewer CIDs than asked (a client
 * simply continues). Rows of one CID are skipped with an iterator seek once
 * it is decided.
 */
import { PDS_LIST_BLOBS_SCAN_ROWS_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { accountRange, parseRefKey } from './layout.ts'
import type { BlobStore } from './store.ts'

export type BlobPage<T> = { items: T[]; cursor?: string }

type CidGroupVisitor = (cid: string, row: { path: string; rev: string }) => Promise<'take' | 'skip' | 'undecided'>

/** Walk distinct CIDs after `cursor`, letting `visit` decide each from its rows. */
async function pageCids<T>(
  store: BlobStore,
  did: Did,
  options: { limit: number; cursor?: string | undefined },
  visit: CidGroupVisitor,
  item: (cid: string, path: string) => T,
): Promise<BlobPage<T>> {
  const range = accountRange(did)
  const gt = options.cursor === undefined ? range.gt : `${did} ${options.cursor}!`
  const iterator = store.tables.refs.iterator({ gt, lt: range.lt })
  const items: T[] = []
  let scanned = 0
  let lastCid: string | undefined
  try {
    for (;;) {
      const entry = await iterator.next()
      if (entry === undefined) return { items }
      const [key, rev] = entry
      const { cid, path } = parseRefKey(key)
      if (cid !== lastCid && scanned >= PDS_LIST_BLOBS_SCAN_ROWS_MAX && lastCid !== undefined) return { items, cursor: lastCid }
      lastCid = cid
      scanned++
      const verdict = await visit(cid, { path, rev })
      if (verdict === 'undecided') continue
      if (verdict === 'take') items.push(item(cid, path))
      if (items.length >= options.limit) return { items, cursor: cid }
      iterator.seek(`${did} ${cid}!`)
    }
  } finally {
    await iterator.close()
  }
}

export function listBlobs(store: BlobStore, did: Did, options: { limit: number; cursor?: string; since?: string }): Promise<BlobPage<string>> {
  const since = options.since
  return pageCids(
    store,
    did,
    options,
    async (_cid, row) => (since === undefined || row.rev > since ? 'take' : 'undecided'),
    (cid) => cid,
  )
}

export type MissingBlob = { cid: string; recordUri: string }

export function listMissingBlobs(store: BlobStore, did: Did, options: { limit: number; cursor?: string }): Promise<BlobPage<MissingBlob>> {
  return pageCids(
    store,
    did,
    options,
    async (cid) => {
      const meta = await store.getMeta(did, cid)
      if (meta === null) return 'take'
      const size = await store.files.size(did, cid)
      return size === meta.size ? 'skip' : 'take'
    },
    (cid, path) => ({ cid, recordUri: `at://${did}/${path}` }),
  )
}

/** expectedBlobs: distinct referenced CIDs; importedBlobs: uploaded blobs (any state). */
export async function countBlobs(store: BlobStore, did: Did): Promise<{ expectedBlobs: number; importedBlobs: number }> {
  let expectedBlobs = 0
  let last: string | undefined
  for await (const key of store.tables.refs.keys(accountRange(did))) {
    const { cid } = parseRefKey(key)
    if (cid !== last) expectedBlobs++
    last = cid
  }
  let importedBlobs = 0
  for await (const _key of store.tables.meta.keys(accountRange(did))) importedBlobs++
  return { expectedBlobs, importedBlobs }
}
