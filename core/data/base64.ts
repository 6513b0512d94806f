/**
 * Standard base64 (RFC 4648 §4, `+` and `/`) for the atproto JSON `$bytes`
 * form. Decoding is strict about the alphabet and padding: padding is
 * optional, but when present it must complete the last 4-character group,
 * and a group of one character is never valid. Non-zero unused bits in the
 * last character are accepted (like the reference implementation), so such a
 * string does not round-trip byte-for-byte. Encoding never pads.
 */
import { Buffer } from 'node:buffer'

const BASE64_CHARS = /^[A-Za-z0-9+/]*(={1,2})?$/

/** The bytes of `s`, or null when `s` is not standard base64. */
export function decodeBase64(s: string): Uint8Array | null {
  if (!BASE64_CHARS.test(s)) return null
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  const body = s.length - pad
  if (body % 4 === 1) return null
  if (pad > 0 && s.length % 4 !== 0) return null
  return new Uint8Array(Buffer.from(s, 'base64'))
}

/** Standard base64 without padding. */
export function encodeBase64(bytes: Uint8Array): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  return pad === 0 ? s : s.slice(0, s.length - pad)
}
