/**
 * Compact ECDSA signatures (64 bytes, r ‖ s, big-endian) and the low-S rule.
 *
 * atproto requires low-S on both curves (s <= n/2), so a signature has one
 * valid form and cannot be re-encoded by a third party. Signers normalize
 * (s → n − s); strict verifiers reject high-S. OpenSSL accepts high-S, so the
 * check lives here, before any backend is called.
 *
 * The checks compare big-endian bytes against precomputed n and n/2, so the
 * strict hot path allocates nothing and does no bigint work; only
 * `normalizeLowS` (signers, and `allowMalleable` verifies) uses bigints.
 */
import { CURVES, SIGNATURE_BYTES, type KeyType } from './key-types.ts'

const SCALAR_BYTES = 32

function scalarToBytes(value: bigint): Uint8Array {
  const hex = value.toString(16).padStart(SCALAR_BYTES * 2, '0')
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

const ORDER_BYTES: { readonly [T in KeyType]: Uint8Array } = {
  p256: scalarToBytes(CURVES.p256.order),
  k256: scalarToBytes(CURVES.k256.order),
}
const HALF_ORDER_BYTES: { readonly [T in KeyType]: Uint8Array } = {
  p256: scalarToBytes(CURVES.p256.halfOrder),
  k256: scalarToBytes(CURVES.k256.halfOrder),
}

/** Compare the 32-byte big-endian scalar at `sig[offset..]` with `bound`: −1, 0 or 1. */
function compareScalar(sig: Uint8Array, offset: number, bound: Uint8Array): number {
  for (let i = 0; i < SCALAR_BYTES; i++) {
    const a = sig[offset + i]!
    const b = bound[i]!
    if (a !== b) return a < b ? -1 : 1
  }
  return 0
}

function isZeroScalar(sig: Uint8Array, offset: number): boolean {
  for (let i = 0; i < SCALAR_BYTES; i++) if (sig[offset + i] !== 0) return false
  return true
}

export type SignatureShape = 'low-s' | 'high-s' | 'invalid'

/**
 * Classify a signature without verifying it: 'invalid' unless it is exactly
 * 64 bytes with 0 < r < n and 0 < s < n; then 'low-s' when s <= n/2.
 * DER signatures (70–72 bytes) are 'invalid' by length.
 */
export function signatureShape(type: KeyType, sig: Uint8Array): SignatureShape {
  if (sig.length !== SIGNATURE_BYTES) return 'invalid'
  const order = ORDER_BYTES[type]
  if (isZeroScalar(sig, 0) || compareScalar(sig, 0, order) >= 0) return 'invalid'
  if (isZeroScalar(sig, SCALAR_BYTES) || compareScalar(sig, SCALAR_BYTES, order) >= 0) return 'invalid'
  return compareScalar(sig, SCALAR_BYTES, HALF_ORDER_BYTES[type]) <= 0 ? 'low-s' : 'high-s'
}

export function isLowS(type: KeyType, sig: Uint8Array): boolean {
  return signatureShape(type, sig) === 'low-s'
}

/**
 * Return a signature with s replaced by n − s when s > n/2; the input is not
 * modified. The caller has checked the shape is not 'invalid'.
 */
export function normalizeLowS(type: KeyType, sig: Uint8Array): Uint8Array {
  const out = Uint8Array.from(sig)
  if (compareScalar(sig, SCALAR_BYTES, HALF_ORDER_BYTES[type]) <= 0) return out
  const s = BigInt('0x' + Buffer.from(sig.subarray(SCALAR_BYTES)).toString('hex'))
  out.set(scalarToBytes(CURVES[type].order - s), SCALAR_BYTES)
  return out
}

/** True when 0 < d < n for a 32-byte private scalar. */
export function isValidPrivateScalar(type: KeyType, d: Uint8Array): boolean {
  if (d.length !== SCALAR_BYTES) return false
  return !isZeroScalar(d, 0) && compareScalar(d, 0, ORDER_BYTES[type]) < 0
}
