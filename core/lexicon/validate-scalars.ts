/**
 * Checks for the lexicon leaf types against in-memory data-model values:
 * boolean, integer, string (lengths, graphemes, formats), bytes, cid-link,
 * blob. Each throws the context's error name with a message naming the path.
 *
 * Tricky bits:
 * - `minLength`/`maxLength` on strings count UTF-8 bytes, graphemes count
 *   extended grapheme clusters (Intl.Segmenter). Both have fast paths: a JS
 *   string of n UTF-16 units is at most 3n UTF-8 bytes and at most n graphemes.
 * - Integers must be safe integers; a bigint (what a CBOR decoder makes of
 *   a value past 2^53) fails, as in the reference.
 * - Formats use the most expansive syntax (spec: "Lexicon", "String
 *   Formats"): handles and AT-URIs in any letter case, well-formed (not
 *   necessarily valid) language tags.
 * - A blob is `{$type:'blob', ref: CID, mimeType, size}`; the legacy
 *   `{cid, mimeType}` form is refused. Its `ref` codec is not checked here
 *   (the interop vectors use dag-cbor CIDs in valid blobs).
 */
import { CID } from 'multiformats/cid'
import { AtfedError } from '../errors.ts'
import { isAtUriSyntax } from '../syntax/at-uri.ts'
import { isCidString } from '../syntax/cid-string.ts'
import { isDatetime } from '../syntax/datetime.ts'
import { isDid } from '../syntax/did.ts'
import { isHandleSyntax } from '../syntax/handle.ts'
import { isLanguageSyntax } from '../syntax/language.ts'
import { isNsidSyntax } from '../syntax/nsid.ts'
import { isRecordKey } from '../syntax/record-key.ts'
import { isTid } from '../syntax/tid.ts'
import { isUri } from '../syntax/uri.ts'
import type { LexBlob, LexBoolean, LexBytes, LexInteger, LexString, LexStringFormat } from './schema.ts'

export type ValidationErrorName = 'InvalidRecord' | 'InvalidRequest' | 'InvalidResponse'

export function invalidValue(errorName: ValidationErrorName, path: string, message: string): never {
  throw new AtfedError(errorName, `${path} ${message}`)
}

const FORMAT_CHECKS: { readonly [F in LexStringFormat]: (s: string) => boolean } = {
  'at-identifier': (s) => isDid(s) || isHandleSyntax(s),
  'at-uri': isAtUriSyntax,
  cid: isCidString,
  datetime: isDatetime,
  did: isDid,
  handle: isHandleSyntax,
  language: isLanguageSyntax,
  nsid: isNsidSyntax,
  'record-key': isRecordKey,
  tid: isTid,
  uri: isUri,
}

export function checkBoolean(err: ValidationErrorName, path: string, def: LexBoolean, value: unknown): void {
  if (typeof value !== 'boolean') invalidValue(err, path, 'must be a boolean')
  if (def.const !== undefined && value !== def.const) invalidValue(err, path, `must be ${def.const}`)
}

export function checkInteger(err: ValidationErrorName, path: string, def: LexInteger, value: unknown): void {
  if (!Number.isSafeInteger(value)) invalidValue(err, path, 'must be an integer')
  const n = value as number
  if (def.const !== undefined && n !== def.const) invalidValue(err, path, `must be ${def.const}`)
  if (def.enum !== undefined && !def.enum.includes(n)) invalidValue(err, path, `must be one of (${def.enum.join('|')})`)
  if (def.maximum !== undefined && n > def.maximum) invalidValue(err, path, `must not be greater than ${def.maximum}`)
  if (def.minimum !== undefined && n < def.minimum) invalidValue(err, path, `must not be less than ${def.minimum}`)
}

export function checkString(err: ValidationErrorName, path: string, def: LexString, value: unknown): void {
  if (typeof value !== 'string') invalidValue(err, path, 'must be a string')
  if (def.const !== undefined && value !== def.const) invalidValue(err, path, `must be ${JSON.stringify(def.const)}`)
  if (def.enum !== undefined && !def.enum.includes(value)) {
    invalidValue(err, path, `must be one of (${def.enum.join('|')})`)
  }
  const { minLength, maxLength } = def
  if (minLength !== undefined || (maxLength !== undefined && value.length * 3 > maxLength)) {
    const bytes = utf8Length(value)
    if (maxLength !== undefined && bytes > maxLength) invalidValue(err, path, `must not be longer than ${maxLength} bytes`)
    if (minLength !== undefined && bytes < minLength) invalidValue(err, path, `must not be shorter than ${minLength} bytes`)
  }
  const { minGraphemes, maxGraphemes } = def
  if (minGraphemes !== undefined || (maxGraphemes !== undefined && value.length > maxGraphemes)) {
    const limit = maxGraphemes === undefined ? Infinity : maxGraphemes
    const count = graphemeCount(value, limit + 1)
    if (count > limit) invalidValue(err, path, `must not be longer than ${maxGraphemes} graphemes`)
    if (minGraphemes !== undefined && count < minGraphemes) {
      invalidValue(err, path, `must not be shorter than ${minGraphemes} graphemes`)
    }
  }
  if (def.format !== undefined && !FORMAT_CHECKS[def.format](value)) {
    invalidValue(err, path, `must be a valid ${def.format}`)
  }
}

export function checkBytes(err: ValidationErrorName, path: string, def: LexBytes, value: unknown): void {
  if (!(value instanceof Uint8Array)) invalidValue(err, path, 'must be bytes')
  if (def.maxLength !== undefined && value.byteLength > def.maxLength) {
    invalidValue(err, path, `must not be larger than ${def.maxLength} bytes`)
  }
  if (def.minLength !== undefined && value.byteLength < def.minLength) {
    invalidValue(err, path, `must not be smaller than ${def.minLength} bytes`)
  }
}

export function checkCidLink(err: ValidationErrorName, path: string, value: unknown): void {
  if (CID.asCID(value) === null) invalidValue(err, path, 'must be a CID link')
}

/** True for the data-model blob shape (not the legacy `{cid, mimeType}` form). */
export function isBlobShape(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const blob = value as { [key: string]: unknown }
  return blob['$type'] === 'blob' && CID.asCID(blob['ref']) !== null && typeof blob['mimeType'] === 'string' &&
    Number.isSafeInteger(blob['size'])
}

export function checkBlob(err: ValidationErrorName, path: string, def: LexBlob, value: unknown): void {
  if (!isBlobShape(value)) invalidValue(err, path, 'must be a blob ({$type: "blob", ref, mimeType, size})')
  const { mimeType, size } = value as { mimeType: string; size: number }
  if (size < 0) invalidValue(err, `${path}/size`, 'must not be negative')
  if (mimeType.length === 0) invalidValue(err, `${path}/mimeType`, 'must not be empty')
  if (def.accept !== undefined && def.accept.length > 0 && !mimeAccepted(mimeType, def.accept)) {
    invalidValue(err, `${path}/mimeType`, `must be one of the accepted types (${def.accept.join(', ')})`)
  }
  if (def.maxSize !== undefined && size > def.maxSize) {
    invalidValue(err, `${path}/size`, `must not be larger than ${def.maxSize} bytes`)
  }
}

/** MIME matching: case-insensitive, parameters (`; charset=...`) ignored, `type/*` and `*\/*` globs. */
function mimeAccepted(mimeType: string, accept: readonly string[]): boolean {
  const mime = (mimeType.split(';')[0] ?? '').trim().toLowerCase()
  return accept.some((pattern) => {
    const p = pattern.toLowerCase()
    if (p === '*/*') return true
    return p.endsWith('/*') ? mime.startsWith(p.slice(0, -1)) : mime === p
  })
}

/** UTF-8 length of a JS string (a lone surrogate counts 3, as U+FFFD would). */
export function utf8Length(s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

let segmenter: Intl.Segmenter | undefined

/** Grapheme clusters in `s`, counting stops once `stopAt` is reached. */
export function graphemeCount(s: string, stopAt = Infinity): number {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })
  let n = 0
  for (const _ of segmenter.segment(s)) {
    if (++n >= stopAt) break
  }
  return n
}
