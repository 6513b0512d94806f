/**
 * Signature verification, strict by default, with a bounded cache of parsed
 * keys so the hot path (relay commit checks) never re-decodes a did:key or
 * rebuilds an OpenSSL KeyObject.
 *
 * What `verifySignature` always checks: the signature is exactly 64 bytes
 * (compact r ‖ s; DER is rejected by length), 0 < r, s < n, and — unless
 * `allowMalleable` — low-S (s <= n/2). Then the backend verifies SHA-256 of
 * the message (hashed once, inside the backend). A bad signature returns
 * false; only an unparsable key string throws (`InvalidDidKey`).
 *
 * `allowMalleable` exists for JWTs, where the reference verifier accepts
 * high-S: a high-S signature is normalized to its low-S twin (equally valid
 * for the same key and message) and then verified. It never accepts DER.
 *
 * Cache: keyed by did:key text, at most VERIFY_KEY_CACHE_ENTRIES_MAX entries
 * (LRU). A `PublicKey` argument is looked up by its `didKey` and its bytes are
 * compared with the cached entry; on a miss the entry is stored under the
 * did:key re-derived from the bytes, so a hand-built inconsistent object can
 * neither borrow nor poison another key's verifier.
 */
import { AtfedError } from '../errors.ts'
import { VERIFY_KEY_CACHE_ENTRIES_MAX } from '../limits.ts'
import { curveOps, type Verifier } from './curves.ts'
import { decodeMultikeyUnchecked } from './did-key.ts'
import { BoundedLru } from './key-cache.ts'
import { DID_KEY_PREFIX, makePublicKey, type KeyType, type PublicKey } from './key-types.ts'
import { normalizeLowS, signatureShape } from './signature.ts'

export type VerifyOptions = {
  /** Accept high-S compact signatures (JWTs only; repo commits must stay strict). */
  allowMalleable?: boolean
}

type PreparedKey = { readonly publicKey: PublicKey; readonly verify: Verifier }

const cache = new BoundedLru<string, PreparedKey>(VERIFY_KEY_CACHE_ENTRIES_MAX)

function buildVerifier(type: KeyType, compressed: Uint8Array): Verifier {
  try {
    return curveOps(type).makeVerifier(compressed)
  } catch (err) {
    throw new AtfedError('InvalidDidKey', `not a point on ${type}`, { cause: err })
  }
}

function prepareFromString(didKey: string): PreparedKey {
  if (typeof didKey !== 'string' || !didKey.startsWith(DID_KEY_PREFIX)) {
    throw new AtfedError('InvalidDidKey', 'not a did:key')
  }
  const { type, compressed } = decodeMultikeyUnchecked(didKey.slice(DID_KEY_PREFIX.length))
  const verify = buildVerifier(type, compressed)
  return { publicKey: makePublicKey(type, compressed), verify }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function preparedKey(key: PublicKey | string): PreparedKey {
  const id = typeof key === 'string' ? key : key.didKey
  const hit = cache.get(id)
  if (typeof key === 'string') {
    if (hit !== undefined) return hit
    const prepared = prepareFromString(key)
    cache.set(id, prepared)
    return prepared
  }
  if (hit !== undefined && hit.publicKey.type === key.type && sameBytes(hit.publicKey.compressed, key.compressed)) {
    return hit
  }
  // Re-derive the did:key from the bytes so the cache key always matches them.
  const publicKey = makePublicKey(key.type, key.compressed)
  const prepared = { publicKey, verify: buildVerifier(key.type, key.compressed) }
  cache.set(publicKey.didKey, prepared)
  return prepared
}

/**
 * Verify `signature` over `message` (SHA-256 applied inside, once). Strict by
 * default; see the module header for exactly what is checked.
 */
export function verifySignature(
  key: PublicKey | string,
  message: Uint8Array,
  signature: Uint8Array,
  options?: VerifyOptions,
): boolean {
  const prepared = preparedKey(key)
  const type = prepared.publicKey.type
  if (!(signature instanceof Uint8Array)) return false
  const shape = signatureShape(type, signature)
  if (shape === 'invalid') return false
  if (shape === 'high-s') {
    if (options?.allowMalleable !== true) return false
    return prepared.verify(message, normalizeLowS(type, signature))
  }
  return prepared.verify(message, signature)
}

/** Parsed keys currently cached (for tests and metrics). */
export function verifyKeyCacheSize(): number {
  return cache.size
}

/** Drop every cached key (tests; or after a memory-pressure signal). */
export function clearVerifyKeyCache(): void {
  cache.clear()
}
