/**
 * One small interface per curve, so keypairs and the verifier never branch on
 * the backend: P-256 → node:crypto; secp256k1 → native libsecp256k1, or
 * node:crypto when the binding did not load (see secp256k1-native.ts).
 *
 * Contract for every backend:
 * - signers take the message (SHA-256 is applied inside, exactly once) and
 *   return a 64-byte compact low-S signature;
 * - verifiers take the message and a 64-byte signature that verify.ts has
 *   already shape-checked and normalized to low-S, and return a boolean
 *   (never throw);
 * - `makeVerifier` throws a plain Error when the point is not on the curve
 *   (callers turn it into `InvalidDidKey`).
 */
import { sha256 } from '../data/cid.ts'
import type { KeyType } from './key-types.ts'
import { makeNodeSigner, makeNodeVerifier, nodePointIsValid, nodePublicFromPrivate } from './ec-node.ts'
import { nativeSecp256k1, type NativeSecp256k1 } from './secp256k1-native.ts'

export type Signer = (message: Uint8Array) => Uint8Array
export type Verifier = (message: Uint8Array, lowSSignature: Uint8Array) => boolean

export type CurveOps = {
  /** For 33-byte compressed points whose prefix byte the caller checked. */
  pointIsValid(compressed: Uint8Array): boolean
  /** For private scalars the caller range-checked; returns 33 bytes. */
  publicFromPrivate(privateKey: Uint8Array): Uint8Array
  makeSigner(privateKey: Uint8Array): Signer
  makeVerifier(compressed: Uint8Array): Verifier
}

function nodeOps(type: KeyType): CurveOps {
  return {
    pointIsValid: (compressed) => nodePointIsValid(type, compressed),
    publicFromPrivate: (privateKey) => nodePublicFromPrivate(type, privateKey),
    makeSigner: (privateKey) => makeNodeSigner(type, privateKey),
    makeVerifier: (compressed) => makeNodeVerifier(type, compressed),
  }
}

function nativeOps(native: NativeSecp256k1): CurveOps {
  return {
    pointIsValid: (compressed) => native.publicKeyVerify(compressed),
    publicFromPrivate: (privateKey) => native.publicKeyCreate(privateKey, true),
    makeSigner: (privateKey) => {
      const key = Uint8Array.from(privateKey)
      return (message) => native.ecdsaSign(sha256(message), key).signature
    },
    makeVerifier: (compressed) => {
      if (!native.publicKeyVerify(compressed)) throw new Error('not a secp256k1 point')
      const key = Uint8Array.from(compressed)
      return (message, sig) => {
        try {
          return native.ecdsaVerify(sig, sha256(message), key)
        } catch {
          return false
        }
      }
    },
  }
}

export const P256_NODE_OPS: CurveOps = nodeOps('p256')
/** secp256k1 through node:crypto, whatever the active backend (tests cross-check with it). */
export const K256_NODE_OPS: CurveOps = nodeOps('k256')

let k256Ops: CurveOps | null = null

/** secp256k1 on the native binding; null when it is not loaded. */
export function k256NativeOps(): CurveOps | null {
  const native = nativeSecp256k1()
  return native === null ? null : nativeOps(native)
}

export function curveOps(type: KeyType): CurveOps {
  switch (type) {
    case 'p256':
      return P256_NODE_OPS
    case 'k256':
      k256Ops ??= k256NativeOps() ?? K256_NODE_OPS
      return k256Ops
  }
}
