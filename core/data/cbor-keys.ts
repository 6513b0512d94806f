/**
 * DAG-CBOR map-key order: shorter UTF-8 byte length first, then bytewise on
 * the UTF-8 bytes (RFC 7049 "canonical"). So "t" < "op" and "did" < "data".
 *
 * Tricky bits:
 * - Key length is the UTF-8 length, not the UTF-16 `.length`; the two agree
 *   only for ASCII, which is the fast path (almost every key on the network).
 * - Bytewise UTF-8 order equals code-point order, which differs from JS's
 *   UTF-16 code-unit order (`<`) only between surrogates (U+D800-DFFF units)
 *   and U+E000-FFFF; `compareCodePoints` applies the usual fix-up.
 * - Properties whose value is `undefined` are dropped here (see cbor-encode.ts).
 * - Keys that arrive already sorted (most objects we build) are not re-sorted.
 */

/** Own enumerable string keys of `obj` with a defined value, in canonical order. */
export function sortedMapKeys(obj: Record<string, unknown>): string[] {
  let keys = Object.keys(obj)
  for (let i = 0; i < keys.length; i++) {
    if (obj[keys[i]!] === undefined) {
      keys = keys.filter((k) => obj[k] !== undefined)
      break
    }
  }
  let ascii = true
  for (let i = 0; i < keys.length && ascii; i++) ascii = isAscii(keys[i]!)
  const compare = ascii ? compareAsciiKeys : compareUtf8Keys
  for (let i = 1; i < keys.length; i++) {
    if (compare(keys[i - 1]!, keys[i]!) > 0) return keys.sort(compare)
  }
  return keys
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

function compareAsciiKeys(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

function compareUtf8Keys(a: string, b: string): number {
  const la = utf8Length(a)
  const lb = utf8Length(b)
  if (la !== lb) return la - lb
  return compareCodePoints(a, b)
}

/** UTF-8 byte length; each half of a surrogate pair counts 2 (pair = 4). */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3
  }
  return n
}

function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i)
    const cb = b.charCodeAt(i)
    if (ca !== cb) return fixup(ca) - fixup(cb)
  }
  return a.length - b.length
}

/** Move surrogates above U+E000-FFFF so code-unit order becomes code-point order. */
function fixup(c: number): number {
  if (c < 0xd800) return c
  return c >= 0xe000 ? c - 0x800 : c + 0x2000
}
