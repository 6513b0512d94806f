/**
 * Building and signing did:plc ops (what a PDS does), and the signature check
 * the directory runs on every op.
 *
 * Signing: DAG-CBOR of the op WITHOUT its `sig` key, ECDSA-SHA256 by a
 * rotation key (the keypair hashes inside), 64-byte compact low-S, base64url
 * with no padding. Verification is strict (spec v0.2.1): exactly 86 base64url
 * characters whose trailing bits are zero (padding, newlines, DER and high-S
 * all fail), then the first rotation key, in priority order, that verifies.
 *
 * The builder checks what the directory would: every op it returns has been
 * through `parsePlcOp` (so size and count limits hold), its signer is one of
 * the rotation keys that may sign it, and it keeps to the spec's tighter
 * bounds for new ops (1–PLC_ROTATION_KEYS_BUILD_MAX distinct rotation keys, a
 * valid handle, an http(s) PDS origin).
 */
import { parseDidKey } from '../../core/crypto/did-key.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { verifySignature } from '../../core/crypto/verify.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import type { CID } from '../../core/data/cid.ts'
import { AtfedError } from '../../core/errors.ts'
import { PLC_ROTATION_KEYS_BUILD_MAX, PLC_SIG_LENGTH } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseHandle } from '../../core/syntax/handle.ts'
import {
  cidForOp,
  didForGenesis,
  parsePlcOp,
  plcStateOf,
  unsignedOp,
  type PlcOp,
  type PlcOperation,
  type PlcService,
  type PlcStateOp,
  type PlcTombstone,
  type UnsignedPlcOp,
  type UnsignedPlcOperation,
} from './operation.ts'

/** What signing needs from a keypair (core/crypto `Keypair` fits). */
export type OpSigner = Pick<Keypair, 'sign' | 'publicKey'>

export type GenesisOptions = {
  /** The account's atproto signing key, as a did:key. */
  signingKey: string
  /** Rotation keys, highest priority first (a user-held recovery key goes before the PDS key). */
  rotationKeys: readonly string[]
  handle: string
  /** PDS origin, e.g. `https://pds.example.com`. */
  pds: string
  /** One of `rotationKeys`. */
  signer: OpSigner
}

export type UpdateOptions = {
  /** A rotation key of `prev` (for a recovery fork: one of higher priority than the op being nullified). */
  signer: OpSigner
  signingKey?: string
  handle?: string
  pds?: string
  rotationKeys?: readonly string[]
  /** Set or (with null) remove other verification methods, e.g. `atproto_label`. */
  verificationMethods?: { readonly [id: string]: string | null }
  /** Set or (with null) remove other services, e.g. `atproto_labeler`. */
  services?: { readonly [id: string]: PlcService | null }
}

export type BuiltOp<T extends PlcOp> = { op: T; cid: CID }

function invalidInput(message: string, cause?: unknown): AtfedError<'InvalidPlcInput'> {
  return new AtfedError('InvalidPlcInput', message, cause === undefined ? undefined : { cause })
}

function encodeSig(sig: Uint8Array): string {
  return Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('base64url')
}

/** Strict base64url of a 64-byte signature, or null (padding, stray characters, non-zero trailing bits). */
export function decodeOpSig(sig: string): Uint8Array | null {
  if (sig.length !== PLC_SIG_LENGTH || !/^[A-Za-z0-9_-]+$/.test(sig)) return null
  const bytes = Buffer.from(sig, 'base64url')
  if (bytes.toString('base64url') !== sig) return null
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function signOp<T extends UnsignedPlcOp>(unsigned: T, keypair: OpSigner): T & { sig: string } {
  const sig = encodeSig(keypair.sign(encodeCbor(unsigned)))
  return { ...unsigned, sig }
}

/**
 * The first of `rotationKeys` (priority order) whose signature `op.sig` is,
 * or null. Unparsable keys are skipped.
 */
export function verifyOpSignature(op: PlcOp, rotationKeys: readonly string[]): string | null {
  const sig = decodeOpSig(op.sig)
  if (sig === null) return null
  const message = encodeCbor(unsignedOp(op))
  for (const key of rotationKeys) {
    try {
      if (verifySignature(key, message, sig)) return key
    } catch {
      // An unparsable key signs nothing.
    }
  }
  return null
}

function checkDidKey(key: string, what: string): string {
  try {
    return parseDidKey(key).didKey
  } catch (err) {
    throw invalidInput(`${what} is not a k256 or p256 did:key`, err)
  }
}

function checkRotationKeys(keys: readonly string[]): string[] {
  if (keys.length < 1 || keys.length > PLC_ROTATION_KEYS_BUILD_MAX) {
    throw invalidInput(`need 1 to ${PLC_ROTATION_KEYS_BUILD_MAX} rotation keys, got ${keys.length}`)
  }
  const checked = keys.map((k, i) => checkDidKey(k, `rotationKeys[${i}]`))
  if (new Set(checked).size !== checked.length) throw invalidInput('rotation keys must be distinct')
  return checked
}

/** An http(s) origin with no path, query or fragment; returned without a trailing slash. */
function checkPdsEndpoint(pds: string): string {
  let url: URL
  try {
    url = new URL(pds)
  } catch (err) {
    throw invalidInput(`PDS endpoint is not a URL: ${pds}`, err)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidInput('PDS endpoint must be http(s)')
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalidInput('PDS endpoint must be a bare origin (no path, query, fragment or credentials)')
  }
  return url.origin
}

function checkSigner(signer: OpSigner, allowed: readonly string[]): void {
  if (!allowed.includes(signer.publicKey.didKey)) throw invalidInput('the signer is not one of the allowed rotation keys')
}

/** Sign, then run the directory's own parser over the result (limits, shapes). */
function finish<T extends PlcOp>(unsigned: UnsignedPlcOp, signer: OpSigner): BuiltOp<T> {
  const op = parsePlcOp(signOp(unsigned, signer)) as T
  return { op, cid: cidForOp(op) }
}

export function createGenesisOp(options: GenesisOptions): BuiltOp<PlcOperation> & { did: Did } {
  const rotationKeys = checkRotationKeys(options.rotationKeys)
  checkSigner(options.signer, rotationKeys)
  const unsigned: UnsignedPlcOperation = {
    type: 'plc_operation',
    rotationKeys,
    verificationMethods: { atproto: checkDidKey(options.signingKey, 'signingKey') },
    alsoKnownAs: [`at://${parseHandle(options.handle)}`],
    services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: checkPdsEndpoint(options.pds) } },
    prev: null,
  }
  const built = finish<PlcOperation>(unsigned, options.signer)
  return { ...built, did: didForGenesis(built.op) }
}

function replaceHandle(alsoKnownAs: readonly string[], handle: string): string[] {
  const uri = `at://${parseHandle(handle)}`
  const at = alsoKnownAs.findIndex((aka) => aka.startsWith('at://'))
  if (at < 0) return [uri, ...alsoKnownAs]
  return alsoKnownAs.map((aka, i) => (i === at ? uri : aka)).filter((aka, i) => i === at || aka !== uri)
}

function mergeMap<V>(base: { readonly [id: string]: V }, changes?: { readonly [id: string]: V | null }) {
  const out = Object.fromEntries(Object.entries(base))
  for (const [id, value] of Object.entries(changes ?? {})) {
    if (value === null) delete out[id]
    else out[id] = value
  }
  return out
}

/** A new op with `prev` = CID of `prev`, carrying `prev`'s state with the changes applied. */
export function createUpdateOp(prev: PlcStateOp, options: UpdateOptions): BuiltOp<PlcOperation> {
  const state = plcStateOf(prev)
  checkSigner(options.signer, state.rotationKeys)
  const verificationMethods = mergeMap(state.verificationMethods, options.verificationMethods)
  if (options.signingKey !== undefined) verificationMethods['atproto'] = checkDidKey(options.signingKey, 'signingKey')
  const services = mergeMap(state.services, options.services)
  if (options.pds !== undefined) {
    services['atproto_pds'] = { type: 'AtprotoPersonalDataServer', endpoint: checkPdsEndpoint(options.pds) }
  }
  const unsigned: UnsignedPlcOperation = {
    type: 'plc_operation',
    rotationKeys: options.rotationKeys === undefined ? state.rotationKeys : checkRotationKeys(options.rotationKeys),
    verificationMethods,
    alsoKnownAs: options.handle === undefined ? state.alsoKnownAs : replaceHandle(state.alsoKnownAs, options.handle),
    services,
    prev: cidForOp(prev).toString(),
  }
  return finish<PlcOperation>(unsigned, options.signer)
}

/** A tombstone after `prev`, signed by one of `prev`'s rotation keys. */
export function createTombstone(prev: PlcStateOp, options: { signer: OpSigner }): BuiltOp<PlcTombstone> {
  checkSigner(options.signer, plcStateOf(prev).rotationKeys)
  return finish<PlcTombstone>({ type: 'plc_tombstone', prev: cidForOp(prev).toString() }, options.signer)
}
