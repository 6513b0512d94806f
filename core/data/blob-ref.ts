/**
 * Blob references in the data model (lex form, `ref` already a CID).
 *
 * Typed form, the only one we write:
 *   { $type: 'blob', ref: CID (raw codec 0x55, sha2-256, 36 bytes), mimeType, size }
 * with exactly those four keys, `mimeType` a non-empty string containing '/',
 * `size` a safe integer >= 0 (zero-length blobs are allowed, as the reference
 * implementation does). CBOR key order: ref, size, $type, mimeType.
 *
 * Legacy form, read-only (old records): { cid: '<CID string>', mimeType }
 * with exactly those two keys. It has no size; it is returned as its own type
 * so nothing can re-serialise it as the typed form by accident.
 *
 * Errors: `InvalidDataModel` (stable name).
 */
import { AtfedError } from '../errors.ts'
import { asCid, isBlessedCid, parseCid, RAW_CODEC } from './cid.ts'
import type { CID } from './cid.ts'

export type BlobRef = { $type: 'blob'; ref: CID; mimeType: string; size: number }
export type LegacyBlobRef = { cid: string; mimeType: string }

/** True for a well-formed typed blob ref. */
export function isBlobRef(value: unknown): value is BlobRef {
  return blobRefProblem(value) === null
}

export function isLegacyBlobRef(value: unknown): value is LegacyBlobRef {
  return legacyBlobRefProblem(value) === null
}

/** Parse a typed blob ref, or a legacy one (read-only); throws `InvalidDataModel`. */
export function parseBlobRef(value: unknown): BlobRef | LegacyBlobRef {
  if (isPlainObject(value) && value.$type === undefined && 'cid' in value) {
    const legacyProblem = legacyBlobRefProblem(value)
    if (legacyProblem !== null) throw new AtfedError('InvalidDataModel', `legacy blob ref: ${legacyProblem}`)
    return value as LegacyBlobRef
  }
  const problem = blobRefProblem(value)
  if (problem !== null) throw new AtfedError('InvalidDataModel', `blob ref: ${problem}`)
  return value as BlobRef
}

/** The CID of either form. */
export function blobRefCid(blob: BlobRef | LegacyBlobRef): CID {
  return '$type' in blob ? blob.ref : parseCid(blob.cid)
}

/** Why `value` is not a typed blob ref, or null when it is one. */
export function blobRefProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'not an object'
  if (value.$type !== 'blob') return '$type is not "blob"'
  let keys = 0
  for (const key in value) {
    if (key !== '$type' && key !== 'ref' && key !== 'mimeType' && key !== 'size') return `unexpected key ${JSON.stringify(key)}`
    keys++
  }
  if (keys !== 4) return 'needs ref, mimeType and size'
  const ref = asCid(value.ref)
  if (ref === null) return 'ref is not a CID link'
  if (!isBlessedCid(ref) || ref.code !== RAW_CODEC) return 'ref is not a raw-codec sha2-256 CIDv1'
  if (!isMimeType(value.mimeType)) return 'mimeType is not a non-empty type/subtype string'
  const size = value.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return 'size is not an integer >= 0'
  return null
}

function legacyBlobRefProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'not an object'
  for (const key in value) if (key !== 'cid' && key !== 'mimeType') return `unexpected key ${JSON.stringify(key)}`
  if (typeof value.cid !== 'string') return 'cid is not a string'
  try {
    const cid = parseCid(value.cid)
    if (!isBlessedCid(cid)) return 'cid is not a sha2-256 CIDv1'
  } catch {
    return 'cid is not a valid CID string'
  }
  if (typeof value.mimeType !== 'string' || value.mimeType.length === 0) return 'mimeType is not a non-empty string'
  return null
}

function isMimeType(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.includes('/')
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
