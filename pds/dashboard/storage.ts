/**
 * What the PDS stores, for the admin page: repo blocks (count and value
 * bytes in the `['repo','blocks']` key space), blobs (count and declared
 * sizes from the blob metadata rows) and the data directory on disk (the
 * level files, blob files and secrets, by file size).
 *
 * Bounded: each sum reads at most PDS_ADMIN_STORAGE_SCAN_ROWS_MAX rows (or
 * PDS_ADMIN_DISK_FILES_MAX files) and says `complete: false` past that,
 * and one result is reused for PDS_ADMIN_STORAGE_CACHE_MS (concurrent
 * callers share the scan in flight), so refreshing the admin page does not
 * turn into a full-database read per request. Level reads see a snapshot
 * per iterator, so a sum taken during writes is consistent per key space,
 * not across them.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { PDS_ADMIN_DISK_FILES_MAX, PDS_ADMIN_STORAGE_CACHE_MS, PDS_ADMIN_STORAGE_SCAN_ROWS_MAX } from '../../core/limits.ts'
import { blobStoreFor } from '../blobs/registry.ts'
import { decodeMeta } from '../blobs/layout.ts'
import type { PdsContext } from '../context.ts'

export type StorageSum = { count: number; bytes: number; complete: boolean }
export type StorageStats = { repoBlocks: StorageSum; blobs: StorageSum; disk: StorageSum; computedAt: string }

export type StorageScanLimits = { rowsMax: number; filesMax: number }

const SCAN_PAGE_ROWS = 1_000

type ValueIterator<V> = { nextv(size: number): Promise<V[]>; close(): Promise<void> }

/** Sum `sizeOf(value)` over at most `rowsMax` values; complete when the iterator ran out first. */
async function sumValues<V>(iterator: ValueIterator<V>, rowsMax: number, sizeOf: (value: V) => number): Promise<StorageSum> {
  const sum: StorageSum = { count: 0, bytes: 0, complete: false }
  try {
    while (sum.count < rowsMax) {
      const page = await iterator.nextv(Math.min(SCAN_PAGE_ROWS, rowsMax - sum.count))
      if (page.length === 0) return { ...sum, complete: true }
      for (const value of page) sum.bytes += sizeOf(value)
      sum.count += page.length
    }
    sum.complete = (await iterator.nextv(1)).length === 0
    return sum
  } finally {
    await iterator.close()
  }
}

/** Regular files under `dir` (not following links), at most `filesMax`. */
async function sumFiles(dir: string, filesMax: number): Promise<StorageSum> {
  const sum: StorageSum = { count: 0, bytes: 0, complete: true }
  const pending = [dir]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const entries = await readdir(next, { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      const path = join(next, entry.name)
      if (entry.isDirectory()) pending.push(path)
      if (!entry.isFile()) continue
      if (sum.count >= filesMax) return { ...sum, complete: false }
      sum.bytes += (await stat(path).catch(() => ({ size: 0 }))).size
      sum.count++
    }
  }
  return sum
}

export async function scanStorage(ctx: PdsContext, limits: StorageScanLimits): Promise<StorageStats> {
  const blocks = ctx.db.sublevel<Uint8Array, Uint8Array>(['repo', 'blocks'], { keyEncoding: 'view', valueEncoding: 'view' })
  const meta = blobStoreFor(ctx).tables.meta
  const [repoBlocks, blobs, disk] = await Promise.all([
    sumValues(blocks.values(), limits.rowsMax, (bytes: Uint8Array) => bytes.byteLength),
    sumValues(meta.values(), limits.rowsMax, (text: string) => decodeMeta(text).size),
    sumFiles(ctx.config.dataDir, limits.filesMax),
  ])
  return { repoBlocks, blobs, disk, computedAt: new Date().toISOString() }
}

type Cached = { at: number; result: Promise<StorageStats> }
const cache = new WeakMap<PdsContext, Cached>()

/** The storage sums, reused for PDS_ADMIN_STORAGE_CACHE_MS. */
export function storageStats(ctx: PdsContext, options: { now?: number } = {}): Promise<StorageStats> {
  const now = options.now ?? Date.now()
  const cached = cache.get(ctx)
  if (cached !== undefined && now - cached.at < PDS_ADMIN_STORAGE_CACHE_MS) return cached.result
  const result = scanStorage(ctx, { rowsMax: PDS_ADMIN_STORAGE_SCAN_ROWS_MAX, filesMax: PDS_ADMIN_DISK_FILES_MAX })
  cache.set(ctx, { at: now, result })
  result.catch(() => {
    if (cache.get(ctx)?.result === result) cache.delete(ctx)
  })
  return result
}
