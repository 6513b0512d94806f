/**
 * The blobs a record references: every `{$type: 'blob', ref, mimeType, size}`
 * anywhere in it (embeds, avatars, video captions, unknown lexicons alike),
 * found by walking the data-model value. With `legacy: true` the read-only
 * `{cid, mimeType}` form counts too (imported records); new writes only
 * count the typed form.
 *
 * The walk is bounded by the record itself (at most RECORD_BYTES_MAX of
 * DAG-CBOR, depth-limited by the decoder). CIDs and bytes are leaves.
 */
import { blobRefCid, isBlobRef, isLegacyBlobRef, type BlobRef } from '../../core/data/blob-ref.ts'
import { asCid, type CID } from '../../core/data/cid.ts'

export type FoundBlob = { cid: CID; mimeType: string; size: number | null }

function walk(value: unknown, out: Map<string, FoundBlob>, legacy: boolean): void {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return
  if (Array.isArray(value)) {
    for (const item of value) walk(item, out, legacy)
    return
  }
  if (asCid(value) !== null) return
  const map = value as { [key: string]: unknown }
  if (map['$type'] === 'blob' && isBlobRef(map)) {
    const blob = map as BlobRef
    const key = blob.ref.toString()
    if (!out.has(key)) out.set(key, { cid: blob.ref, mimeType: blob.mimeType, size: blob.size })
    return
  }
  if (legacy && isLegacyBlobRef(map)) {
    const cid = blobRefCid(map)
    if (!out.has(cid.toString())) out.set(cid.toString(), { cid, mimeType: map.mimeType, size: null })
    return
  }
  for (const key in map) walk(map[key], out, legacy)
}

/** The distinct blobs `record` references, by CID string, in first-seen order. */
export function findRecordBlobs(record: unknown, options: { legacy?: boolean } = {}): Map<string, FoundBlob> {
  const out = new Map<string, FoundBlob>()
  walk(record, out, options.legacy === true)
  return out
}
