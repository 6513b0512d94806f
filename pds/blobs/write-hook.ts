/**
 * The blob side of every repo write (a `WriteHook`, writes.ts), run inside
 * the write path's repo lock:
 *
 * - `prepare`: each blob a created or updated record references must have
 *   been uploaded by this account: no metadata → 400 `BlobNotFound`. A blob
 *   not yet permanent must match what the upload stored: the record's
 *   `mimeType` → else `InvalidMimeType`, its `size` → else `InvalidSize`
 *   (reference `verifyBlob`), and its file must be intact. Permanent blobs
 *   are not re-checked, as the reference (records imported from another PDS
 *   may quote that PDS's sniffed type). Lexicon `accept`/`maxSize` checks
 *   already ran in repo/prepare.ts.
 * - `batchOps`: for the ops the commit really made (a no-op update made
 *   none), replace each changed record's reference rows, then move every
 *   blob whose use changed: now referenced → `permanent`; last reference
 *   gone → `orphaned`, deleted by GC after PDS_BLOB_DEREFERENCED_GRACE_MS.
 *   All of it goes into the commit's own batch, so references and the repo
 *   never disagree after a crash.
 * - `pipelineSafe`: only for creates without blobs (see below).
 */
import { AtfedError, assert } from '../../core/errors.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import { PDS_BLOB_DEREFERENCED_GRACE_MS } from '../../core/limits.ts'
import type { StoreBatchOp } from '../../core/repo/block-store.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PdsWrite, ResolvedWrite, WriteHook } from '../writes.ts'
import { blobRefRange, del, metaOps, parseRefKey, put, recordKey, refKey, type BlobMeta } from './layout.ts'
import { findRecordBlobs } from './record-blobs.ts'
import type { BlobStore } from './store.ts'

function writtenRecords(writes: readonly ResolvedWrite[]): Map<string, LexMap> {
  const records = new Map<string, LexMap>()
  for (const { write } of writes) {
    if (write !== null && write.action !== 'delete') records.set(`${write.collection}/${write.rkey}`, write.record)
  }
  return records
}

/** Throws unless every blob the written records reference is usable by `did`. */
export async function checkRecordBlobs(store: BlobStore, did: Did, writes: readonly ResolvedWrite[]): Promise<void> {
  const metas = new Map<string, BlobMeta | null>()
  for (const record of writtenRecords(writes).values()) {
    for (const [cid, blob] of findRecordBlobs(record)) {
      if (!metas.has(cid)) metas.set(cid, await store.getMeta(did, cid))
      const meta = metas.get(cid) ?? null
      if (meta === null) throw new AtfedError('BlobNotFound', `Could not find blob: ${cid}`)
      if (meta.state === 'permanent') continue
      if (blob.mimeType !== meta.mimeType) {
        throw new AtfedError('InvalidMimeType', `Referenced Mimetype does not match stored blob. Expected: ${meta.mimeType}, Got: ${blob.mimeType}`)
      }
      if (blob.size !== meta.size) {
        throw new AtfedError('InvalidSize', `Referenced Size does not match stored blob. Expected: ${meta.size}, Got: ${String(blob.size)}`)
      }
      if ((await store.files.size(did, blob.cid)) !== meta.size) throw new AtfedError('BlobNotFound', `Could not find blob: ${cid}`)
    }
  }
}

type Uses = { added: Map<string, Set<string>>; removed: Map<string, Set<string>> }

function note(map: Map<string, Set<string>>, cid: string, path: string): void {
  const paths = map.get(cid) ?? new Set<string>()
  paths.add(path)
  map.set(cid, paths)
}

/** Reference-row ops for the commit's ops; records which blobs gained or lost a user. */
async function referenceOps(store: BlobStore, did: Did, commit: CommitResult, writes: readonly ResolvedWrite[]): Promise<{ ops: StoreBatchOp[]; uses: Uses }> {
  const { refs, records } = store.tables
  const written = writtenRecords(writes)
  // Only a replaced or deleted record can have had blobs (creates, the hot path, read nothing).
  const previous: Array<string | undefined> = commit.ops.map((op) => (op.prev === null ? undefined : records.getSync(recordKey(did, op.path))))
  const ops: StoreBatchOp[] = []
  const uses: Uses = { added: new Map(), removed: new Map() }
  commit.ops.forEach((op, i) => {
    const oldCids: string[] = op.prev === null ? [] : (JSON.parse(previous[i] ?? '[]') as string[])
    let newCids: string[] = []
    if (op.cid !== null) {
      const record = written.get(op.path)
      assert(record !== undefined, `commit op ${op.path} has no written record`)
      newCids = [...findRecordBlobs(record).keys()]
    }
    for (const cid of oldCids) {
      if (newCids.includes(cid)) continue
      ops.push(del(refs, refKey(did, cid, op.path)))
      note(uses.removed, cid, op.path)
    }
    for (const cid of newCids) {
      ops.push(put(refs, refKey(did, cid, op.path), commit.rev))
      if (!oldCids.includes(cid)) note(uses.added, cid, op.path)
    }
    if (newCids.length > 0) ops.push(put(records, recordKey(did, op.path), JSON.stringify(newCids)))
    else if (oldCids.length > 0) ops.push(del(records, recordKey(did, op.path)))
  })
  return { ops, uses }
}

/** True when a record other than the `leaving` paths still references `cid`. */
async function stillReferenced(store: BlobStore, did: Did, cid: string, leaving: ReadonlySet<string>): Promise<boolean> {
  const keys = await store.tables.refs.keys({ ...blobRefRange(did, cid), limit: leaving.size + 1 }).all()
  return keys.some((key) => !leaving.has(parseRefKey(key).path))
}

/** Everything the blob tables must change with this commit, for its batch. */
export async function blobOpsForCommit(store: BlobStore, did: Did, commit: CommitResult, writes: readonly ResolvedWrite[]): Promise<StoreBatchOp[]> {
  const { ops, uses } = await referenceOps(store, did, commit, writes)
  const now = store.now()
  for (const cid of new Set([...uses.added.keys(), ...uses.removed.keys()])) {
    const meta = await store.getMeta(did, cid)
    if (meta === null) continue // referenced but never uploaded (imports): listMissingBlobs
    const used = uses.added.has(cid) || (await stillReferenced(store, did, cid, uses.removed.get(cid) ?? new Set()))
    if (used && meta.state !== 'permanent') {
      ops.push(...metaOps(store.tables, { did, cid }, meta, { ...meta, state: 'permanent', deleteAfter: null }))
    } else if (!used && meta.state === 'permanent') {
      const orphaned: BlobMeta = { ...meta, state: 'orphaned', deleteAfter: now + PDS_BLOB_DEREFERENCED_GRACE_MS }
      ops.push(...metaOps(store.tables, { did, cid }, meta, orphaned))
    }
  }
  return ops
}

/**
 * Creates of records without blobs read and write nothing of ours, so they
 * may be prepared while the DID's previous writes are not durable yet (the
 * writer's group-commit pipelining); anything else must see the store as
 * those writes leave it (record rows, reference rows, blob states).
 */
export function blobHookPipelineSafe(writes: readonly PdsWrite[]): boolean {
  return writes.every((w) => w.action === 'create' && findRecordBlobs(w.record).size === 0)
}

export function blobWriteHook(store: BlobStore): WriteHook {
  // A variable, not a returned literal: no excess-property check, so this
  // compiles against WriteHook with or without the `pipelineSafe` field.
  const hook = {
    pipelineSafe: blobHookPipelineSafe,
    prepare: (did: Did, writes: readonly ResolvedWrite[]) => checkRecordBlobs(store, did, writes),
    batchOps: (did: Did, commit: CommitResult, writes: readonly ResolvedWrite[]) => blobOpsForCommit(store, did, commit, writes),
  }
  return hook
}
