/**
 * The two atproto key types and their constants.
 *
 * atproto mandates exactly two curves: `p256` (NIST P-256, JWT alg ES256) and
 * `k256` (secp256k1, JWT alg ES256K). A public key always travels as the
 * 33-byte compressed point; its multikey is `z` + base58btc(multicodec varint
 * ‖ compressed point) and its did:key is `did:key:` + multikey.
 *
 * Tricky bits: `PublicKey.didKey` is the key's identity (callers compare and
 * cache by it), so build `PublicKey` values only through `makePublicKey` /
 * the parsers in did-key.ts, never as object literals, and never mutate
 * `compressed`. (verify.ts re-derives the did:key from the bytes on a cache
 * miss, so a bad literal cannot poison its cache.)
 */
import { base58btc } from 'multiformats/bases/base58'

export type KeyType = 'p256' | 'k256'

export type PublicKey = {
  readonly type: KeyType
  /** 33 bytes: 0x02/0x03 prefix + X. */
  readonly compressed: Uint8Array
  /** `z` + base58btc(multicodec ‖ compressed). */
  readonly multikey: string
  /** `did:key:` + multikey. */
  readonly didKey: string
}

export type JwtAlg = 'ES256' | 'ES256K'

export const KEY_TYPES: readonly KeyType[] = ['p256', 'k256']
export const DID_KEY_PREFIX = 'did:key:'
export const COMPRESSED_KEY_BYTES = 33
export const UNCOMPRESSED_KEY_BYTES = 65
export const PRIVATE_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

type CurveInfo = {
  readonly jwtAlg: JwtAlg
  /** OpenSSL curve name for node:crypto (ECDH, JWK import through `jwkCrv`). */
  readonly opensslCurve: string
  readonly jwkCrv: string
  /** Multicodec varints: p256-pub 0x1200, secp256k1-pub 0xe7, p256-priv 0x1306, secp256k1-priv 0x1301. */
  readonly publicPrefix: Uint8Array
  readonly privatePrefix: Uint8Array
  /** Group order n and n/2 (low-S bound: a signature is low-S when s <= n/2). */
  readonly order: bigint
  readonly halfOrder: bigint
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const K256_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

export const CURVES: { readonly [T in KeyType]: CurveInfo } = {
  p256: {
    jwtAlg: 'ES256',
    opensslCurve: 'prime256v1',
    jwkCrv: 'P-256',
    publicPrefix: Uint8Array.of(0x80, 0x24),
    privatePrefix: Uint8Array.of(0x86, 0x26),
    order: P256_ORDER,
    halfOrder: P256_ORDER >> 1n,
  },
  k256: {
    jwtAlg: 'ES256K',
    opensslCurve: 'secp256k1',
    jwkCrv: 'secp256k1',
    publicPrefix: Uint8Array.of(0xe7, 0x01),
    privatePrefix: Uint8Array.of(0x81, 0x26),
    order: K256_ORDER,
    halfOrder: K256_ORDER >> 1n,
  },
}

export function jwtAlgForKeyType(type: KeyType): JwtAlg {
  return CURVES[type].jwtAlg
}

export function keyTypeForJwtAlg(alg: string): KeyType | undefined {
  if (alg === 'ES256') return 'p256'
  if (alg === 'ES256K') return 'k256'
  return undefined
}

/** Multikey text for an already-validated compressed point (did-key.ts has the checked form). */
export function encodeMultikey(type: KeyType, compressed: Uint8Array): string {
  const prefix = CURVES[type].publicPrefix
  const bytes = new Uint8Array(prefix.length + compressed.length)
  bytes.set(prefix, 0)
  bytes.set(compressed, prefix.length)
  return base58btc.encode(bytes)
}

/**
 * Build a PublicKey from a compressed point the caller has already checked is
 * on the curve (the parsers and keypairs do). Copies the bytes.
 */
export function makePublicKey(type: KeyType, compressed: Uint8Array): PublicKey {
  const copy = Uint8Array.from(compressed)
  const multikey = encodeMultikey(type, copy)
  return Object.freeze({ type, compressed: copy, multikey, didKey: DID_KEY_PREFIX + multikey })
}
