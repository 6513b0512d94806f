/**
 * A small fixed-size cache of decoded map keys for the CBOR decoder.
 *
 * Map keys repeat endlessly ("$type", "text", "e", "k", "p", "t", "v"...).
 * Building each from bytes costs a string allocation and, worse, V8 then has
 * to internalize it for the property store. The cache hands back the same
 * (already internalized) string for the same bytes.
 *
 * Direct-mapped: slot = FNV-1a hash of the bytes, masked; a hit needs the
 * stored bytes to match exactly; a miss overwrites the slot. Only ASCII keys
 * of at most KEY_CACHE_KEY_BYTES_MAX bytes are cached, so memory is bounded
 * by CBOR_KEY_CACHE_SLOTS x that. Non-ASCII keys return null: the caller
 * decodes (and validates) them the normal way.
 */
import { CBOR_KEY_CACHE_SLOTS } from '../limits.ts'

const KEY_CACHE_KEY_BYTES_MAX = 32
const MASK = CBOR_KEY_CACHE_SLOTS - 1

const slotBytes: (Uint8Array | undefined)[] = new Array(CBOR_KEY_CACHE_SLOTS).fill(undefined)
const slotStrings: string[] = new Array(CBOR_KEY_CACHE_SLOTS).fill('')

/** The ASCII key in b[start, end), from the cache when possible; null when not cacheable. */
export function cachedAsciiKey(b: Uint8Array, start: number, end: number): string | null {
  const len = end - start
  if (len > KEY_CACHE_KEY_BYTES_MAX) return null
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) {
    const c = b[i]!
    if (c >= 0x80) return null
    h = Math.imul(h ^ c, 0x01000193)
  }
  const slot = (h ^ (h >>> 15)) & MASK
  const known = slotBytes[slot]
  if (known !== undefined && known.length === len) {
    let i = 0
    while (i < len && known[i] === b[start + i]) i++
    if (i === len) return slotStrings[slot]!
  }
  let s = ''
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!)
  slotBytes[slot] = b.slice(start, end)
  slotStrings[slot] = s
  return s
}
