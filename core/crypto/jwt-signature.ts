/**
 * The signature of a service JWT as compact 64-byte r ‖ s.
 *
 * JWS (RFC 7518 §3.4) says ES256/ES256K signatures are compact r ‖ s, and
 * that is all we produce. The reference verifier is lenient for service JWTs:
 * it also accepts DER (`30 len 02 rlen r 02 slen s`) and high-S. We accept DER
 * too, for interop with issuers that emit it, but parse it strictly: definite
 * short-form lengths that add up exactly, positive minimal integers (a leading
 * 00 only before a byte >= 0x80), each at most 32 bytes of value, no trailing
 * bytes. Anything else is null and the caller rejects the token. Range checks
 * (0 < r, s < n) are verify.ts's job.
 */
import { SIGNATURE_BYTES } from './key-types.ts'

const SCALAR_BYTES = 32
/** 2 + 2 × (2 + 33): the longest DER form of two 256-bit scalars. */
const DER_BYTES_MAX = 72

function readDerInteger(der: Uint8Array, offset: number): { value: Uint8Array; next: number } | null {
  if (der[offset] !== 0x02) return null
  const length = der[offset + 1]
  if (length === undefined || length === 0 || length > SCALAR_BYTES + 1) return null
  const start = offset + 2
  const end = start + length
  if (end > der.length) return null
  const first = der[start]!
  if (first & 0x80) return null // negative
  if (first === 0x00) {
    // A leading zero is only allowed to keep a high-bit value positive.
    if (length === 1 || (der[start + 1]! & 0x80) === 0) return null
    return { value: der.subarray(start + 1, end), next: end }
  }
  if (length > SCALAR_BYTES) return null
  return { value: der.subarray(start, end), next: end }
}

/** r ‖ s from a strict DER ECDSA signature, or null. */
export function derToCompact(der: Uint8Array): Uint8Array | null {
  if (der.length < 8 || der.length > DER_BYTES_MAX) return null
  if (der[0] !== 0x30 || der[1] !== der.length - 2) return null
  const r = readDerInteger(der, 2)
  if (r === null) return null
  const s = readDerInteger(der, r.next)
  if (s === null || s.next !== der.length) return null
  const out = new Uint8Array(SIGNATURE_BYTES)
  out.set(r.value, SCALAR_BYTES - r.value.length)
  out.set(s.value, SIGNATURE_BYTES - s.value.length)
  return out
}

/** A JWT signature in compact form: 64 bytes as given, else strict DER, else null. */
export function jwtSignatureToCompact(signature: Uint8Array): Uint8Array | null {
  if (signature.length === SIGNATURE_BYTES) return signature
  return derToCompact(signature)
}
