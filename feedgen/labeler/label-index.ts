/**
 * Keys of the labeler's "current label" index: one entry per
 * (uri, src, val), holding the latest label for that triple (a negation
 * included), so queryLabels can answer a uri pattern with one range scan.
 *
 *   key = utf8(uri) 0x00 utf8(src) 0x00 utf8(val)
 *
 * None of the three may contain 0x00 (DIDs, at-uris and label values are
 * printable ASCII), and UTF-8 never contains 0xff, so:
 * - an exact uri `U` is the range [U 0x00, U 0x01);
 * - a prefix `P*` is [P, P 0xff): every key whose uri starts with P.
 * Keys sort by uri first, which is the order queryLabels pages in; its
 * cursor is the last key examined (base64url), so paging is stable under
 * concurrent writes (a label written behind the cursor is simply not seen).
 */
import { AtfedError } from '../../core/errors.ts'
import { LABEL_QUERY_CURSOR_LENGTH_MAX } from '../../core/limits.ts'

export type KeyRange = { readonly gte: Uint8Array; readonly lt: Uint8Array }

const SEP = 0x00
const encoder = new TextEncoder()

export function indexKey(uri: string, src: string, val: string): Uint8Array {
  return Buffer.concat([encoder.encode(uri), Uint8Array.of(SEP), encoder.encode(src), Uint8Array.of(SEP), encoder.encode(val)])
}

export function exactRange(uri: string): KeyRange {
  const bytes = encoder.encode(uri)
  return { gte: Buffer.concat([bytes, Uint8Array.of(0x00)]), lt: Buffer.concat([bytes, Uint8Array.of(0x01)]) }
}

export function prefixRange(prefix: string): KeyRange {
  const bytes = encoder.encode(prefix)
  return { gte: bytes, lt: Buffer.concat([bytes, Uint8Array.of(0xff)]) }
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** The `src` part of a key (for the sources filter without decoding the value). */
export function srcOfKey(key: Uint8Array): string {
  const first = key.indexOf(SEP)
  const second = key.indexOf(SEP, first + 1)
  return Buffer.from(key.buffer, key.byteOffset + first + 1, second - first - 1).toString('utf8')
}

export function encodeQueryCursor(key: Uint8Array): string {
  return Buffer.from(key).toString('base64url')
}

/** A cursor from a client: base64url of a key with two separators. Throws `InvalidRequest`. */
export function decodeQueryCursor(cursor: string): Uint8Array {
  const bad = (): AtfedError => new AtfedError('InvalidRequest', 'malformed cursor')
  if (cursor.length === 0 || cursor.length > LABEL_QUERY_CURSOR_LENGTH_MAX || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad()
  const key = Uint8Array.from(Buffer.from(cursor, 'base64url'))
  if (encodeQueryCursor(key) !== cursor) throw bad()
  const seps = key.reduce((n, b) => (b === SEP ? n + 1 : n), 0)
  if (seps !== 2) throw bad()
  return key
}
