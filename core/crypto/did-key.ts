/**
 * Parse and format public keys as multikey / did:key, and read the key of a
 * DID-document verification method.
 *
 * A multikey is `z` + base58btc(varint multicodec ‖ 33-byte compressed point):
 * p256-pub 0x1200 (`80 24`, text starts `zDnae`), secp256k1-pub 0xe7 (`e7 01`,
 * text starts `zQ3s`). Parsing checks, in order: text length (before the
 * quadratic base58 decode), the `z` prefix, the decode, the multicodec, the
 * 35-byte length, the 0x02/0x03 prefix byte, and that the point is on the
 * curve. Every failure is `InvalidDidKey`. Uncompressed keys are rejected in
 * multikeys and did:keys; they are accepted only in the legacy DID-document
 * forms (`EcdsaSecp256r1VerificationKey2019` / `EcdsaSecp256k1Verification
 * Key2019`: base58btc of the raw point with no multicodec), read-only.
 */
import { base58btc } from 'multiformats/bases/base58'
import { AtfedError } from '../errors.ts'
import { MULTIKEY_LENGTH_MAX } from '../limits.ts'
import { curveOps } from './curves.ts'
import { nodeCompress } from './ec-node.ts'
import {
  COMPRESSED_KEY_BYTES,
  CURVES,
  DID_KEY_PREFIX,
  KEY_TYPES,
  UNCOMPRESSED_KEY_BYTES,
  encodeMultikey,
  makePublicKey,
  type KeyType,
  type PublicKey,
} from './key-types.ts'

function invalid(message: string, cause?: unknown): AtfedError<'InvalidDidKey'> {
  return new AtfedError('InvalidDidKey', message, cause === undefined ? undefined : { cause })
}

function decodeBase58(multibase: string): Uint8Array {
  if (typeof multibase !== 'string') throw invalid('key is not a string')
  if (multibase.length > MULTIKEY_LENGTH_MAX) throw invalid(`multibase key longer than ${MULTIKEY_LENGTH_MAX} chars`)
  if (!multibase.startsWith('z')) throw invalid('multibase key must be base58btc (prefix "z")')
  try {
    return base58btc.decode(multibase)
  } catch (err) {
    throw invalid('multibase key is not valid base58btc', err)
  }
}

function hasPrefix(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b)
}

function isCompressedPoint(bytes: Uint8Array): boolean {
  return bytes.length === COMPRESSED_KEY_BYTES && (bytes[0] === 0x02 || bytes[0] === 0x03)
}

/**
 * Decode a multikey to its type and compressed point WITHOUT the on-curve
 * check (verify.ts does that while building its verifier). Prefer
 * `parseMultikey` everywhere else.
 */
export function decodeMultikeyUnchecked(multibase: string): { type: KeyType; compressed: Uint8Array } {
  const bytes = decodeBase58(multibase)
  const type = KEY_TYPES.find((t) => hasPrefix(bytes, CURVES[t].publicPrefix))
  if (type === undefined) throw invalid('unsupported multicodec (expected p256-pub or secp256k1-pub)')
  const compressed = bytes.subarray(CURVES[type].publicPrefix.length)
  if (compressed.length === UNCOMPRESSED_KEY_BYTES) throw invalid('uncompressed keys are not allowed in a multikey')
  if (!isCompressedPoint(compressed)) throw invalid(`key must be a ${COMPRESSED_KEY_BYTES}-byte compressed point`)
  return { type, compressed }
}

export function parseMultikey(multibase: string): PublicKey {
  const { type, compressed } = decodeMultikeyUnchecked(multibase)
  if (!curveOps(type).pointIsValid(compressed)) throw invalid(`not a point on ${type}`)
  return makePublicKey(type, compressed)
}

export function parseDidKey(didKey: string): PublicKey {
  if (typeof didKey !== 'string' || !didKey.startsWith(DID_KEY_PREFIX)) throw invalid('not a did:key')
  return parseMultikey(didKey.slice(DID_KEY_PREFIX.length))
}

/** Multikey text for a 33-byte compressed point (the point itself is not re-validated). */
export function formatMultikey(type: KeyType, compressed: Uint8Array): string {
  if (!KEY_TYPES.includes(type)) throw invalid(`unknown key type ${String(type)}`)
  if (!isCompressedPoint(compressed)) throw invalid(`key must be a ${COMPRESSED_KEY_BYTES}-byte compressed point`)
  return encodeMultikey(type, compressed)
}

export function formatDidKey(type: KeyType, compressed: Uint8Array): string {
  return DID_KEY_PREFIX + formatMultikey(type, compressed)
}

const LEGACY_TYPES: { readonly [name: string]: KeyType } = {
  EcdsaSecp256r1VerificationKey2019: 'p256',
  EcdsaSecp256k1VerificationKey2019: 'k256',
}

/** Legacy form: raw point, compressed or uncompressed, no multicodec. */
function parseLegacyKey(type: KeyType, multibase: string): PublicKey {
  const bytes = decodeBase58(multibase)
  if (isCompressedPoint(bytes)) {
    if (!curveOps(type).pointIsValid(bytes)) throw invalid(`not a point on ${type}`)
    return makePublicKey(type, bytes)
  }
  if (bytes.length !== UNCOMPRESSED_KEY_BYTES || bytes[0] !== 0x04) throw invalid('legacy key must be a 33- or 65-byte point')
  try {
    return makePublicKey(type, nodeCompress(type, bytes))
  } catch (err) {
    throw invalid(`not a point on ${type}`, err)
  }
}

/**
 * The public key of a DID-document verification method: `Multikey`, or one of
 * the two legacy 2019 suites (read-only). Other types are `InvalidDidKey`.
 */
export function parsePublicKeyFromDidDoc(method: { type: string; publicKeyMultibase: string }): PublicKey {
  if (method.type === 'Multikey') return parseMultikey(method.publicKeyMultibase)
  const legacyType = Object.hasOwn(LEGACY_TYPES, method.type) ? LEGACY_TYPES[method.type] : undefined
  if (legacyType === undefined) throw invalid(`unsupported verification method type ${JSON.stringify(method.type)}`)
  return parseLegacyKey(legacyType, method.publicKeyMultibase)
}
