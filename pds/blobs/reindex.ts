/**
 * Rebuilding an account's blob references from its records, for code that
 * replaces a repo without going through the write path (importRepo):
 * forget the old reference rows, index every record's blobs (legacy
 * `{cid, mimeType}` refs included, as the reference's importer), then
 * settle each uploaded blob's state: referenced → permanent; permanent but
 * no longer referenced → orphaned (GC'd after the dereferenced grace);
 * temp stays temp. Referenced CIDs never uploaded are what
 * listMissingBlobs then reports.
 *
 * Not one atomic batch (an account can have millions of records): rows go
 * in batches of PDS_BLOB_REINDEX_BATCH_ROWS. Running it again converges, so
 * a caller that crashed midway re-runs it. Hold the account's repo lock.
 */
import { PDS_BLOB_DEREFERENCED_GRACE_MS, PDS_BLOB_REINDEX_BATCH_ROWS } from '../../core/limits.ts'
import type { StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import { accountRange, decodeMeta, metaOps, put, recordKey, refKey, type BlobMeta } from './layout.ts'
import { findRecordBlobs } from './record-blobs.ts'
import type { BlobStore } from './store.ts'

export type IndexedRecord = { readonly path: string; readonly record: unknown }

async function flush(store: BlobStore, ops: StoreBatchOp[], force: boolean): Promise<StoreBatchOp[]> {
  if (ops.length === 0 || (!force && ops.length < PDS_BLOB_REINDEX_BATCH_ROWS)) return ops
  await store.db.batch(ops, { sync: true })
  return []
}

async function settleStates(store: BlobStore, did: Did): Promise<void> {
  const now = store.now()
  let ops: StoreBatchOp[] = []
  for await (const [key, text] of store.tables.meta.iterator(accountRange(did))) {
    const cid = key.slice(did.length + 1)
    const meta = decodeMeta(text)
    const used = await store.isReferenced(did, cid)
    let next: BlobMeta | null = null
    if (used && meta.state !== 'permanent') next = { ...meta, state: 'permanent', deleteAfter: null }
    if (!used && meta.state === 'permanent') next = { ...meta, state: 'orphaned', deleteAfter: now + PDS_BLOB_DEREFERENCED_GRACE_MS }
    if (next !== null) ops.push(...metaOps(store.tables, { did, cid }, meta, next))
    ops = await flush(store, ops, false)
  }
  await flush(store, ops, true)
}

/**
 * Replace `did`'s blob references with those of `records` (all of the
 * account's records after an import), written at `rev`. Hold the repo lock.
 */
export async function reindexRecordBlobsLocked(
  store: BlobStore,
  did: Did,
  options: { records: Iterable<IndexedRecord> | AsyncIterable<IndexedRecord>; rev: string },
): Promise<{ records: number; references: number }> {
  const { refs, records } = store.tables
  await Promise.all([refs.clear(accountRange(did)), records.clear(accountRange(did))])
  let ops: StoreBatchOp[] = []
  let withBlobs = 0
  let references = 0
  for await (const { path, record } of options.records) {
    const cids = [...findRecordBlobs(record, { legacy: true }).keys()]
    if (cids.length === 0) continue
    withBlobs++
    references += cids.length
    for (const cid of cids) ops.push(put(refs, refKey(did, cid, path), options.rev))
    ops.push(put(records, recordKey(did, path), JSON.stringify(cids)))
    ops = await flush(store, ops, false)
  }
  await flush(store, ops, true)
  await settleStates(store, did)
  return { records: withBlobs, references }
}
