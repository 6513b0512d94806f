/**
 * Blob garbage collection: delete blobs nobody uses once their deadline
 * passed: temp uploads never referenced (PDS_BLOB_TEMP_GRACE_MS after their
 * last upload) and orphaned blobs whose last record went
 * (PDS_BLOB_DEREFERENCED_GRACE_MS after that).
 *
 * A pass reads at most PDS_BLOB_GC_BATCH_MAX due rows of the `gc` index
 * (layout.ts, ordered by deadline), then handles each under the account's
 * repo lock, re-reading the metadata first: a blob re-uploaded or attached
 * since the row was read has a new deadline or none, and is left alone.
 * The file goes before the metadata, so a crash in between leaves a row the
 * next pass finishes, never a file no row knows.
 *
 * `startBlobGc` runs a pass every PDS_BLOB_GC_INTERVAL_MS (timer unref'd,
 * one pass at a time); tests call `collectBlobGarbage` with their own `now`.
 */
import { PDS_BLOB_GC_BATCH_MAX, PDS_BLOB_GC_INTERVAL_MS } from '../../core/limits.ts'
import { isAtfedError } from '../../core/errors.ts'
import type { Did } from '../../core/syntax/did.ts'
import { gcDueBound, metaOps, parseGcKey } from './layout.ts'
import type { BlobStore } from './store.ts'

export type GcReport = { deleted: number; kept: number }

type Due = { key: string; deleteAfter: number; did: Did; cid: string }

async function dueRows(store: BlobStore, now: number, batchMax: number): Promise<Due[]> {
  const rows: Due[] = []
  for (const key of await store.tables.gc.keys({ lt: gcDueBound(now), limit: batchMax }).all()) {
    const parsed = parseGcKey(key)
    if (parsed === null) await store.tables.gc.del(key) // not ours; never matches again
    else rows.push({ key, ...parsed })
  }
  return rows
}

/** Handle one due row under its account's lock; true when the blob was deleted. */
async function collectOne(store: BlobStore, row: Due, now: number): Promise<boolean> {
  return store.withLock(row.did, async () => {
    const meta = await store.getMeta(row.did, row.cid)
    const due = meta !== null && meta.state !== 'permanent' && meta.deleteAfter === row.deleteAfter && row.deleteAfter <= now
    if (!due) {
      // Stale row: the blob was deleted, re-uploaded (new deadline) or attached since.
      if (meta?.deleteAfter !== row.deleteAfter) await store.tables.gc.del(row.key)
      return false
    }
    const at = { did: row.did, cid: row.cid }
    if (await store.isReferenced(row.did, row.cid)) {
      // Cannot happen through the write hook; repair instead of deleting a blob in use.
      await store.db.batch(metaOps(store.tables, at, meta, { ...meta, state: 'permanent', deleteAfter: null }), { sync: true })
      return false
    }
    await store.files.remove(row.did, row.cid)
    await store.db.batch(metaOps(store.tables, at, meta, null), { sync: true }) // drops the gc row too
    return true
  })
}

/** One GC pass at time `now` (default the store's clock). */
export async function collectBlobGarbage(store: BlobStore, options: { now?: number; batchMax?: number } = {}): Promise<GcReport> {
  const now = options.now ?? store.now()
  const report: GcReport = { deleted: 0, kept: 0 }
  for (const row of await dueRows(store, now, options.batchMax ?? PDS_BLOB_GC_BATCH_MAX)) {
    try {
      if (await collectOne(store, row, now)) report.deleted++
      else report.kept++
    } catch (err) {
      if (!isAtfedError(err, 'RepoBusy')) throw err
      report.kept++ // the account is busy writing; the next pass retries
    }
  }
  return report
}

/** Run GC passes on a timer; returns the stop function (for ctx.cleanups). */
export function startBlobGc(store: BlobStore, options: { intervalMs?: number } = {}): () => Promise<void> {
  let running: Promise<unknown> | null = null
  const timer = setInterval(() => {
    if (running !== null) return
    running = collectBlobGarbage(store)
      .catch((err: unknown) => console.error('pds: blob GC pass failed:', err))
      .finally(() => {
        running = null
      })
  }, options.intervalMs ?? PDS_BLOB_GC_INTERVAL_MS)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
