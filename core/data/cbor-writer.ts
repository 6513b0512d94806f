/**
 * A growable byte buffer that writes CBOR heads and UTF-8 text, used by
 * `cbor-encode.ts`. Heads are always written in their shortest form.
 *
 * Tricky bits:
 * - Text is written straight into the buffer, before its length is known.
 *   The head is first sized for the smallest possible length (UTF-16 length =
 *   minimum UTF-8 length); when the real byte length needs a longer head the
 *   text is moved right by the difference (rare: only non-ASCII text near a
 *   head-size boundary).
 * - A lone UTF-16 surrogate is not valid Unicode and has no UTF-8 form:
 *   `text` reports it (returns false) instead of writing U+FFFD like
 *   TextEncoder would, so a value never changes silently on its way to bytes.
 * - 8-byte arguments are split into two 32-bit halves; callers only pass
 *   safe integers, so the split is exact.
 */

const LONG_TEXT_UNITS_MIN = 64 // above this TextEncoder.encodeInto beats the JS loop
const INITIAL_BYTES = 4_096
const utf8Encoder = new TextEncoder()

export class CborWriter {
  buf: Uint8Array
  pos = 0

  constructor(initialBytes = INITIAL_BYTES) {
    this.buf = new Uint8Array(initialBytes)
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  /** Head of `major` type with argument `n` (a safe non-negative integer). */
  head(major: number, n: number): void {
    this.ensure(9)
    const buf = this.buf
    const m = major << 5
    let p = this.pos
    if (n < 24) {
      buf[p++] = m | n
    } else if (n < 0x100) {
      buf[p++] = m | 24
      buf[p++] = n
    } else if (n < 0x10000) {
      buf[p++] = m | 25
      buf[p++] = n >>> 8
      buf[p++] = n & 0xff
    } else if (n < 0x100000000) {
      buf[p++] = m | 26
      p = writeUint32(buf, p, n)
    } else {
      buf[p++] = m | 27
      p = writeUint32(buf, p, Math.floor(n / 0x100000000))
      p = writeUint32(buf, p, n >>> 0)
    }
    this.pos = p
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  /** Raw bytes, no head. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** A text string item (head + UTF-8); returns its UTF-8 byte length, or -1 (nothing written) on a lone surrogate. */
  text(s: string): number {
    const units = s.length
    this.ensure(units * 3 + 18)
    const headBytes = headSize(units)
    const start = this.pos + headBytes
    const end = units > LONG_TEXT_UNITS_MIN ? encodeLong(s, this.buf, start) : encodeShort(s, this.buf, start)
    if (end < 0) return -1
    const n = end - start
    const realHeadBytes = headSize(n)
    if (realHeadBytes !== headBytes) {
      this.buf.copyWithin(start + realHeadBytes - headBytes, start, end)
    }
    this.head(3, n)
    this.pos += n
    return n
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

function writeUint32(buf: Uint8Array, p: number, n: number): number {
  buf[p] = n >>> 24
  buf[p + 1] = (n >>> 16) & 0xff
  buf[p + 2] = (n >>> 8) & 0xff
  buf[p + 3] = n & 0xff
  return p + 4
}

export function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

/** UTF-8 encode `s` at `p`; returns the end position, or -1 on a lone surrogate. */
function encodeShort(s: string, buf: Uint8Array, p: number): number {
  const len = s.length
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) {
      buf[p++] = c
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6)
      buf[p++] = 0x80 | (c & 0x3f)
    } else if (c < 0xd800 || c > 0xdfff) {
      buf[p++] = 0xe0 | (c >> 12)
      buf[p++] = 0x80 | ((c >> 6) & 0x3f)
      buf[p++] = 0x80 | (c & 0x3f)
    } else {
      const d = i + 1 < len ? s.charCodeAt(i + 1) : 0
      if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) return -1
      i++
      const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
      buf[p++] = 0xf0 | (cp >> 18)
      buf[p++] = 0x80 | ((cp >> 12) & 0x3f)
      buf[p++] = 0x80 | ((cp >> 6) & 0x3f)
      buf[p++] = 0x80 | (cp & 0x3f)
    }
  }
  return p
}

type WellFormedString = string & { isWellFormed?: () => boolean }
const LONE_SURROGATE = /\p{Surrogate}/u

function encodeLong(s: string, buf: Uint8Array, p: number): number {
  const wellFormed = (s as WellFormedString).isWellFormed?.() ?? !LONE_SURROGATE.test(s)
  if (!wellFormed) return -1
  return p + utf8Encoder.encodeInto(s, buf.subarray(p)).written
}
