/**
 * ECDSA through node:crypto (OpenSSL), for either curve. This is the P-256
 * backend, and the secp256k1 fallback when the native libsecp256k1 binding
 * does not load (OpenSSL's secp256k1 is ~8x slower than libsecp256k1).
 *
 * How it works: a compressed point is decompressed by `ECDH.convertKey`
 * (which rejects points not on the curve) and imported as a JWK into a
 * `KeyObject`. Building a KeyObject costs ~150 µs, so callers build one per
 * key and keep it (the verify cache, the keypair closure).
 *
 * Tricky bits: `crypto.sign/verify('sha256', message)` hash the message
 * themselves; pass the message, never its digest. OpenSSL signs with a random
 * nonce and may return high-S, so signatures are normalized here; OpenSSL
 * also accepts high-S on verify, so strictness is enforced by the caller
 * (verify.ts) before this module is reached.
 */
import { ECDH, createECDH, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { CURVES, UNCOMPRESSED_KEY_BYTES, type KeyType } from './key-types.ts'
import { normalizeLowS } from './signature.ts'

const DSA_ENCODING = 'ieee-p1363'

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/** Decompress a 33-byte point; throws when it is not a point on the curve. */
export function nodeDecompress(type: KeyType, compressed: Uint8Array): Uint8Array {
  const out = ECDH.convertKey(compressed, CURVES[type].opensslCurve, undefined, undefined, 'uncompressed')
  return out as Buffer
}

/** Compress a 65-byte point; throws when it is not a point on the curve. */
export function nodeCompress(type: KeyType, uncompressed: Uint8Array): Uint8Array {
  const out = ECDH.convertKey(uncompressed, CURVES[type].opensslCurve, undefined, undefined, 'compressed')
  return out as Buffer
}

export function nodePointIsValid(type: KeyType, compressed: Uint8Array): boolean {
  try {
    nodeDecompress(type, compressed)
    return true
  } catch {
    return false
  }
}

function publicJwk(type: KeyType, uncompressed: Uint8Array) {
  return {
    kty: 'EC',
    crv: CURVES[type].jwkCrv,
    x: b64url(uncompressed.subarray(1, 33)),
    y: b64url(uncompressed.subarray(33, UNCOMPRESSED_KEY_BYTES)),
  }
}

/** A verifying KeyObject for a compressed point; throws when the point is invalid. */
export function nodePublicKeyObject(type: KeyType, compressed: Uint8Array): KeyObject {
  return createPublicKey({ key: publicJwk(type, nodeDecompress(type, compressed)), format: 'jwk' })
}

/** Compressed public key for a private scalar the caller has range-checked. */
export function nodePublicFromPrivate(type: KeyType, privateKey: Uint8Array): Uint8Array {
  const ecdh = createECDH(CURVES[type].opensslCurve)
  ecdh.setPrivateKey(privateKey)
  return Uint8Array.from(ecdh.getPublicKey(null, 'compressed'))
}

/** A signer: SHA-256 of the message inside, 64-byte compact, low-S. */
export function makeNodeSigner(type: KeyType, privateKey: Uint8Array): (message: Uint8Array) => Uint8Array {
  const ecdh = createECDH(CURVES[type].opensslCurve)
  ecdh.setPrivateKey(privateKey)
  const jwk = { ...publicJwk(type, ecdh.getPublicKey()), d: b64url(privateKey) }
  const key = createPrivateKey({ key: jwk, format: 'jwk' })
  return (message) => normalizeLowS(type, sign('sha256', message, { key, dsaEncoding: DSA_ENCODING }))
}

/**
 * A verifier for one key. Expects a 64-byte signature whose shape the caller
 * has checked; returns false (never throws) when OpenSSL rejects it.
 */
export function makeNodeVerifier(type: KeyType, compressed: Uint8Array): (message: Uint8Array, sig: Uint8Array) => boolean {
  const key = nodePublicKeyObject(type, compressed)
  return (message, sig) => {
    try {
      return verify('sha256', message, { key, dsaEncoding: DSA_ENCODING }, sig)
    } catch {
      return false
    }
  }
}
