/**
 * Loads the native libsecp256k1 binding (npm `secp256k1@5`, N-API prebuild)
 * and reports which secp256k1 backend is in use.
 *
 * Why load `secp256k1/bindings` directly: the package's `index.js` silently
 * falls back to pure-JS `elliptic` (~50x slower) when the native addon does not
 * load. Requiring the bindings entry throws instead, so we know, and fall back
 * to node:crypto (OpenSSL, ~8x slower) with one explicit warning.
 *
 * Strict mode: services that must not run on the slow path call
 * `assertNativeSecp256k1()` at startup; it throws `NativeCryptoUnavailable`.
 * `ATFED_SECP256K1_BACKEND=node` forces the fallback (tests, comparisons).
 *
 * Contract of the binding used here (checked in its lib/index.js): inputs are
 * Uint8Arrays of exact lengths; `ecdsaSign` hashes nothing (32-byte digest in)
 * and always returns a low-S signature; `ecdsaVerify` rejects high-S and throws
 * on unparsable r/s or points; `signatureNormalize` mutates its argument.
 */
import { createRequire } from 'node:module'
import { AtfedError } from '../errors.ts'

export type NativeSecp256k1 = {
  privateKeyVerify(privateKey: Uint8Array): boolean
  publicKeyCreate(privateKey: Uint8Array, compressed: boolean): Uint8Array
  publicKeyVerify(publicKey: Uint8Array): boolean
  publicKeyConvert(publicKey: Uint8Array, compressed: boolean): Uint8Array
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number }
  ecdsaVerify(sig: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean
}

export type Secp256k1BackendName = 'libsecp256k1-native' | 'node-crypto-fallback'

export type CryptoBackend = {
  readonly k256: Secp256k1BackendName
  readonly p256: 'node-crypto'
  readonly openssl: string
  /** Why the native binding is not in use; null when it is. */
  readonly nativeUnavailableReason: string | null
}

export const SECP256K1_BACKEND_ENV = 'ATFED_SECP256K1_BACKEND'

function loadNative(): { native: NativeSecp256k1 | null; reason: string | null } {
  if (process.env[SECP256K1_BACKEND_ENV] === 'node') {
    return { native: null, reason: `disabled by ${SECP256K1_BACKEND_ENV}=node` }
  }
  try {
    const require = createRequire(import.meta.url)
    return { native: require('secp256k1/bindings') as NativeSecp256k1, reason: null }
  } catch (err) {
    return { native: null, reason: `secp256k1/bindings failed to load: ${(err as Error).message}` }
  }
}

const loaded = loadNative()
let warned = false

/**
 * The native binding, or null when running on the fallback. The first call on
 * the fallback emits one process warning (code ATFED_SECP256K1_FALLBACK).
 */
export function nativeSecp256k1(): NativeSecp256k1 | null {
  if (loaded.native === null && !warned) {
    warned = true
    process.emitWarning(
      `secp256k1 is running on node:crypto, about 8x slower than libsecp256k1 (${loaded.reason})`,
      { code: 'ATFED_SECP256K1_FALLBACK' },
    )
  }
  return loaded.native
}

export function cryptoBackend(): CryptoBackend {
  return {
    k256: loaded.native === null ? 'node-crypto-fallback' : 'libsecp256k1-native',
    p256: 'node-crypto',
    openssl: process.versions.openssl ?? 'unknown',
    nativeUnavailableReason: loaded.reason,
  }
}

/** Throws `NativeCryptoUnavailable` unless secp256k1 runs on the native binding. */
export function assertNativeSecp256k1(): void {
  if (loaded.native === null) {
    throw new AtfedError('NativeCryptoUnavailable', `native libsecp256k1 is not in use: ${loaded.reason}`)
  }
}
