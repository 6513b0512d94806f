/**
 * did:plc operations: the closed union of op shapes, the strict JSON parser a
 * directory (or a client reading one) runs on every op, and the two hashes
 * everything else hangs on — the op CID (`prev` links) and the DID of a
 * genesis op.
 *
 * Shapes (did:plc spec v0.3):
 * - `plc_operation`: every field always present; `prev` is null only for a
 *   genesis op (the key must be there with value null).
 * - `plc_tombstone`: `{type, prev, sig}`; ends the DID.
 * - legacy `create`: genesis-only, read-only (`allowLegacy`); many old DIDs are
 *   the hash of one, so it is kept byte-for-byte and normalized on read.
 *
 * What `parsePlcOp` always checks: exact key sets (unknown fields are
 * rejected, where the reference strips them — a stripped op would no longer
 * match what was signed), string types, rotation keys are k256/p256 did:keys
 * on the curve, verification methods are syntactically valid did:keys of any
 * type, `prev` is a canonical base32 dag-cbor CID, the DAG-CBOR size and the
 * count/length limits of core/limits.ts. What it does not check: the
 * signature (op-builder.ts `verifyOpSignature`), the `sig` encoding (strictly
 * checked there, as an InvalidSignature), and anything that needs the log
 * (validate.ts).
 *
 * Tricky bits: the DID uses `base32.baseEncode` (no multibase `b` prefix) of
 * sha256 over the SIGNED genesis op, cut to 24 chars. Maps are rebuilt with
 * Object.fromEntries so a `__proto__` key stays a plain own property.
 */
import { base32 } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { parseDidKey } from '../../core/crypto/did-key.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import { CID, DAG_CBOR_CODEC, cidForCbor, parseCid, sha256 } from '../../core/data/cid.ts'
import { AtfedError } from '../../core/errors.ts'
import {
  PLC_ALSO_KNOWN_AS_LENGTH_MAX,
  PLC_ALSO_KNOWN_AS_MAX,
  PLC_DID_ID_LENGTH,
  PLC_DID_KEY_LENGTH_MAX,
  PLC_ID_LENGTH_MAX,
  PLC_OP_BYTES_MAX,
  PLC_ROTATION_KEYS_MAX,
  PLC_SERVICE_ENDPOINT_LENGTH_MAX,
  PLC_SERVICE_TYPE_LENGTH_MAX,
  PLC_SERVICES_MAX,
  PLC_VERIFICATION_METHODS_MAX,
} from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'

export type PlcService = { readonly type: string; readonly endpoint: string }

/** The identity state every regular op carries in full. */
export type PlcState = {
  readonly rotationKeys: readonly string[]
  readonly verificationMethods: { readonly [id: string]: string }
  readonly alsoKnownAs: readonly string[]
  readonly services: { readonly [id: string]: PlcService }
}

export type UnsignedPlcOperation = { readonly type: 'plc_operation' } & PlcState & { readonly prev: string | null }
export type UnsignedPlcTombstone = { readonly type: 'plc_tombstone'; readonly prev: string }
export type UnsignedLegacyCreate = {
  readonly type: 'create'
  readonly signingKey: string
  readonly recoveryKey: string
  readonly handle: string
  readonly service: string
  readonly prev: null
}
export type UnsignedPlcOp = UnsignedPlcOperation | UnsignedPlcTombstone | UnsignedLegacyCreate

export type PlcOperation = UnsignedPlcOperation & { readonly sig: string }
export type PlcTombstone = UnsignedPlcTombstone & { readonly sig: string }
export type LegacyCreate = UnsignedLegacyCreate & { readonly sig: string }
/** Any signed op a log may hold. */
export type PlcOp = PlcOperation | PlcTombstone | LegacyCreate
/** An op that carries identity state (not a tombstone). */
export type PlcStateOp = PlcOperation | LegacyCreate

export type ParseOpOptions = {
  /** Accept the legacy `create` genesis shape (reading logs; never for new submissions). */
  allowLegacy?: boolean
}

const OPERATION_KEYS = ['type', 'rotationKeys', 'verificationMethods', 'alsoKnownAs', 'services', 'prev', 'sig']
const TOMBSTONE_KEYS = ['type', 'prev', 'sig']
const LEGACY_KEYS = ['type', 'signingKey', 'recoveryKey', 'handle', 'service', 'prev', 'sig']
const SERVICE_KEYS = ['type', 'endpoint']

function invalid(message: string, cause?: unknown): AtfedError<'InvalidOperation'> {
  return new AtfedError('InvalidOperation', message, cause === undefined ? undefined : { cause })
}

function tooMany(message: string): AtfedError<'LimitExceeded'> {
  return new AtfedError('LimitExceeded', message)
}

function isPlainObject(v: unknown): v is { [key: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function exactObject(v: unknown, keys: readonly string[], what: string): { [key: string]: unknown } {
  if (!isPlainObject(v)) throw invalid(`${what} must be a JSON object`)
  const own = Object.keys(v)
  for (const key of own) if (!keys.includes(key)) throw invalid(`${what} has an unknown field "${key.slice(0, 64)}"`)
  for (const key of keys) if (!own.includes(key)) throw invalid(`${what} is missing the field "${key}"`)
  return v
}

function str(v: unknown, field: string, lengthMax: number): string {
  if (typeof v !== 'string') throw invalid(`${field} must be a string`)
  if (v.length > lengthMax) throw tooMany(`${field} is longer than ${lengthMax} characters`)
  return v
}

function rotationKey(v: unknown, field: string): string {
  const key = str(v, field, PLC_DID_KEY_LENGTH_MAX)
  try {
    parseDidKey(key)
  } catch (err) {
    throw invalid(`${field} is not a k256 or p256 did:key: ${key.slice(0, 80)}`, err)
  }
  return key
}

/** Any key type, but `did:key:` + a base58btc multibase that decodes. */
function syntacticDidKey(v: unknown, field: string): string {
  const key = str(v, field, PLC_DID_KEY_LENGTH_MAX)
  const multibase = key.startsWith('did:key:') ? key.slice('did:key:'.length) : ''
  try {
    if (!multibase.startsWith('z') || base58btc.decode(multibase).length === 0) throw new Error('empty key')
  } catch (err) {
    throw invalid(`${field} is not a did:key (did:key:z + base58btc): ${key.slice(0, 80)}`, err)
  }
  return key
}

function prevCid(v: unknown): string {
  if (typeof v !== 'string') throw invalid('prev must be a CID string')
  let cid: CID
  try {
    cid = parseCid(v)
  } catch (err) {
    throw invalid(`prev is not a canonical CID: ${v.slice(0, 80)}`, err)
  }
  if (cid.code !== DAG_CBOR_CODEC) throw invalid('prev must be a dag-cbor CID')
  return v
}

function parseRotationKeys(v: unknown): string[] {
  if (!Array.isArray(v)) throw invalid('rotationKeys must be an array')
  if (v.length > PLC_ROTATION_KEYS_MAX) throw tooMany(`too many rotationKeys (max ${PLC_ROTATION_KEYS_MAX})`)
  return v.map((k, i) => rotationKey(k, `rotationKeys[${i}]`))
}

function parseVerificationMethods(v: unknown): { [id: string]: string } {
  if (!isPlainObject(v)) throw invalid('verificationMethods must be an object')
  const entries = Object.entries(v)
  if (entries.length > PLC_VERIFICATION_METHODS_MAX) {
    throw tooMany(`too many verificationMethods (max ${PLC_VERIFICATION_METHODS_MAX})`)
  }
  return Object.fromEntries(
    entries.map(([id, key]) => {
      if (id.length > PLC_ID_LENGTH_MAX) throw tooMany(`verificationMethods id longer than ${PLC_ID_LENGTH_MAX}`)
      return [id, syntacticDidKey(key, `verificationMethods.${id}`)]
    }),
  )
}

function parseAlsoKnownAs(v: unknown): string[] {
  if (!Array.isArray(v)) throw invalid('alsoKnownAs must be an array')
  if (v.length > PLC_ALSO_KNOWN_AS_MAX) throw tooMany(`too many alsoKnownAs entries (max ${PLC_ALSO_KNOWN_AS_MAX})`)
  const seen = new Set<string>()
  return v.map((aka, i) => {
    const s = str(aka, `alsoKnownAs[${i}]`, PLC_ALSO_KNOWN_AS_LENGTH_MAX)
    if (seen.has(s)) throw invalid(`duplicate alsoKnownAs entry: ${s}`)
    seen.add(s)
    return s
  })
}

function parseServices(v: unknown): { [id: string]: PlcService } {
  if (!isPlainObject(v)) throw invalid('services must be an object')
  const entries = Object.entries(v)
  if (entries.length > PLC_SERVICES_MAX) throw tooMany(`too many services (max ${PLC_SERVICES_MAX})`)
  return Object.fromEntries(
    entries.map(([id, raw]) => {
      if (id.length > PLC_ID_LENGTH_MAX) throw tooMany(`services id longer than ${PLC_ID_LENGTH_MAX}`)
      const service = exactObject(raw, SERVICE_KEYS, `services.${id}`)
      const type = str(service['type'], `services.${id}.type`, PLC_SERVICE_TYPE_LENGTH_MAX)
      const endpoint = str(service['endpoint'], `services.${id}.endpoint`, PLC_SERVICE_ENDPOINT_LENGTH_MAX)
      return [id, { type, endpoint }]
    }),
  )
}

function parseShape(input: unknown, options: ParseOpOptions): PlcOp {
  if (!isPlainObject(input)) throw invalid('operation must be a JSON object')
  const sig = (o: { [key: string]: unknown }) => str(o['sig'], 'sig', PLC_OP_BYTES_MAX)
  switch (input['type']) {
    case 'plc_operation': {
      const o = exactObject(input, OPERATION_KEYS, 'plc_operation')
      return {
        type: 'plc_operation',
        rotationKeys: parseRotationKeys(o['rotationKeys']),
        verificationMethods: parseVerificationMethods(o['verificationMethods']),
        alsoKnownAs: parseAlsoKnownAs(o['alsoKnownAs']),
        services: parseServices(o['services']),
        prev: o['prev'] === null ? null : prevCid(o['prev']),
        sig: sig(o),
      }
    }
    case 'plc_tombstone': {
      const o = exactObject(input, TOMBSTONE_KEYS, 'plc_tombstone')
      return { type: 'plc_tombstone', prev: prevCid(o['prev']), sig: sig(o) }
    }
    case 'create': {
      if (options.allowLegacy !== true) throw invalid('legacy "create" operations are no longer accepted')
      const o = exactObject(input, LEGACY_KEYS, 'create')
      if (o['prev'] !== null) throw invalid('a legacy create op must have prev: null')
      return {
        type: 'create',
        signingKey: rotationKey(o['signingKey'], 'signingKey'),
        recoveryKey: rotationKey(o['recoveryKey'], 'recoveryKey'),
        handle: str(o['handle'], 'handle', PLC_ALSO_KNOWN_AS_LENGTH_MAX),
        service: str(o['service'], 'service', PLC_SERVICE_ENDPOINT_LENGTH_MAX),
        prev: null,
        sig: sig(o),
      }
    }
    default:
      throw invalid('type must be "plc_operation" or "plc_tombstone"')
  }
}

/** Strictly parse a JSON op. Throws InvalidOperation, LimitExceeded or OperationTooLarge. */
export function parsePlcOp(input: unknown, options: ParseOpOptions = {}): PlcOp {
  const op = parseShape(input, options)
  const bytes = encodeCbor(op).length
  if (bytes > PLC_OP_BYTES_MAX) {
    throw new AtfedError('OperationTooLarge', `operation is ${bytes} bytes of DAG-CBOR (max ${PLC_OP_BYTES_MAX})`)
  }
  return op
}

export function encodePlcOp(op: PlcOp | UnsignedPlcOp): Uint8Array {
  return encodeCbor(op)
}

/** CIDv1 dag-cbor sha2-256 of the signed op: what the next op's `prev` names. */
export function cidForOp(op: PlcOp): CID {
  return cidForCbor(encodeCbor(op))
}

/** `did:plc:` + the first 24 chars of base32(sha256(DAG-CBOR of the signed genesis op)). */
export function didForGenesis(op: PlcStateOp): Did {
  const id = base32.baseEncode(sha256(encodeCbor(op))).slice(0, PLC_DID_ID_LENGTH)
  return `did:plc:${id}` as Did
}

/** The op without its `sig` field: the bytes a rotation key signs. */
export function unsignedOp(op: PlcOp): UnsignedPlcOp {
  const { sig: _sig, ...rest } = op
  return rest
}

function withHttpPrefix(s: string): string {
  return s.startsWith('http://') || s.startsWith('https://') ? s : `https://${s}`
}

function withAtPrefix(s: string): string {
  return s.startsWith('at://') ? s : `at://${s.replace('http://', '').replace('https://', '')}`
}

/** Identity state of a regular or legacy op (legacy keys become [recovery, signing]). */
export function plcStateOf(op: PlcStateOp): PlcState {
  if (op.type === 'plc_operation') {
    const { rotationKeys, verificationMethods, alsoKnownAs, services } = op
    return { rotationKeys, verificationMethods, alsoKnownAs, services }
  }
  return {
    rotationKeys: [op.recoveryKey, op.signingKey],
    verificationMethods: { atproto: op.signingKey },
    alsoKnownAs: [withAtPrefix(op.handle)],
    services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: withHttpPrefix(op.service) } },
  }
}
