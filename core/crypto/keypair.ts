/**
 * Signing keypairs for both curves, and the text forms of private keys.
 *
 * `sign` takes the message (SHA-256 is applied inside, exactly once) and
 * returns a 64-byte compact low-S signature: libsecp256k1 always produces
 * low-S (RFC 6979 nonces, deterministic); node:crypto (P-256, and secp256k1
 * on the fallback) uses random nonces and is normalized afterwards.
 *
 * Private keys are 32-byte scalars with 0 < d < n. Text forms for key files:
 * 64 hex chars (`formatPrivateKeyHex`), or a private multikey, `z` +
 * base58btc(p256-priv 0x1306 `86 26` / secp256k1-priv 0x1301 `81 26` ‖ d),
 * which also records the curve. Bad private-key input is `InvalidPrivateKey`;
 * messages never include key bytes.
 */
import { randomBytes } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { AtfedError, assert } from '../errors.ts'
import { MULTIKEY_LENGTH_MAX } from '../limits.ts'
import { curveOps } from './curves.ts'
import { CURVES, KEY_TYPES, PRIVATE_KEY_BYTES, makePublicKey, type KeyType, type PublicKey } from './key-types.ts'
import { isValidPrivateScalar } from './signature.ts'

export interface Keypair {
  readonly type: KeyType
  readonly publicKey: PublicKey
  /** SHA-256 inside; 64-byte compact r ‖ s, low-S. */
  sign(message: Uint8Array): Uint8Array
  /** A copy of the 32-byte private scalar. */
  exportPrivateKey(): Uint8Array
}

/** Random scalars fall outside (0, n) with probability < 2^-32 per draw (P-256). */
const KEYGEN_DRAWS_MAX = 8

function invalidPrivateKey(message: string): AtfedError<'InvalidPrivateKey'> {
  return new AtfedError('InvalidPrivateKey', message)
}

function checkKeyType(type: KeyType): void {
  if (!KEY_TYPES.includes(type)) throw invalidPrivateKey(`unknown key type ${String(type)}`)
}

export function keypairFromPrivateKey(type: KeyType, privateKey: Uint8Array): Keypair {
  checkKeyType(type)
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== PRIVATE_KEY_BYTES) {
    throw invalidPrivateKey(`private key must be ${PRIVATE_KEY_BYTES} bytes`)
  }
  if (!isValidPrivateScalar(type, privateKey)) throw invalidPrivateKey(`private key is out of range for ${type}`)
  const secret = Uint8Array.from(privateKey)
  const ops = curveOps(type)
  const publicKey = makePublicKey(type, ops.publicFromPrivate(secret))
  const signer = ops.makeSigner(secret)
  return Object.freeze({
    type,
    publicKey,
    sign: (message: Uint8Array) => signer(message),
    exportPrivateKey: () => Uint8Array.from(secret),
  })
}

export function generateKeypair(type: KeyType): Keypair {
  checkKeyType(type)
  for (let draw = 0; draw < KEYGEN_DRAWS_MAX; draw++) {
    const candidate = randomBytes(PRIVATE_KEY_BYTES)
    if (isValidPrivateScalar(type, candidate)) return keypairFromPrivateKey(type, candidate)
  }
  assert(false, 'random number generator produced no valid private key')
}

export function formatPrivateKeyHex(privateKey: Uint8Array): string {
  if (privateKey.length !== PRIVATE_KEY_BYTES) throw invalidPrivateKey(`private key must be ${PRIVATE_KEY_BYTES} bytes`)
  return Buffer.from(privateKey).toString('hex')
}

/** Exactly 64 hex digits (either case); the range is checked by `keypairFromPrivateKey`. */
export function parsePrivateKeyHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw invalidPrivateKey(`private key hex must be ${PRIVATE_KEY_BYTES * 2} hex digits`)
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

export function exportPrivateMultikey(keypair: Keypair): string {
  const prefix = CURVES[keypair.type].privatePrefix
  const secret = keypair.exportPrivateKey()
  const bytes = new Uint8Array(prefix.length + secret.length)
  bytes.set(prefix, 0)
  bytes.set(secret, prefix.length)
  return base58btc.encode(bytes)
}

export function importPrivateMultikey(multibase: string): Keypair {
  if (typeof multibase !== 'string' || multibase.length > MULTIKEY_LENGTH_MAX || !multibase.startsWith('z')) {
    throw invalidPrivateKey('private multikey must be base58btc text (prefix "z")')
  }
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(multibase)
  } catch {
    throw invalidPrivateKey('private multikey is not valid base58btc')
  }
  for (const type of KEY_TYPES) {
    const prefix = CURVES[type].privatePrefix
    if (bytes[0] === prefix[0] && bytes[1] === prefix[1]) {
      if (bytes.length !== prefix.length + PRIVATE_KEY_BYTES) throw invalidPrivateKey('private multikey has the wrong length')
      return keypairFromPrivateKey(type, bytes.subarray(prefix.length))
    }
  }
  throw invalidPrivateKey('unsupported private-key multicodec (expected p256-priv or secp256k1-priv)')
}
