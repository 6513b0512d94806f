/**
 * Deterministic DAG-CBOR encoder for atproto data-model values.
 *
 * Output is byte-identical to @ipld/dag-cbor for every valid value: shortest
 * heads, map keys sorted length-first then bytewise on their UTF-8 bytes,
 * CIDs as tag 42 over a byte string 0x00 + binary CID, Uint8Array as a byte
 * string. Stricter than it on the way in (errors are `CborError`, name
 * `InvalidCbor`, see cbor-error.ts for the reasons):
 * - numbers must be integers within +-(2^53-1): no floats, NaN or Infinity;
 * - an object property whose value is `undefined` is DROPPED, like
 *   @atproto/lex-cbor does (@ipld/dag-cbor throws); `undefined` anywhere else
 *   (top level, array element) is rejected;
 * - only plain objects (prototype Object.prototype or null), arrays,
 *   Uint8Array and CIDs are containers/values: Map, Date, class instances,
 *   bigint, symbols and functions are rejected;
 * - the limits the decoder enforces (depth, container length, map-key bytes,
 *   CID bytes) are enforced here too, so we never write what we would refuse
 *   to read. The depth limit also stops cyclic values.
 *
 * One scratch writer is reused between calls (kept only while it is at most
 * CBOR_ENCODER_SCRATCH_BYTES_MAX); the result is always a fresh copy.
 */
import {
  CBOR_CONTAINER_LENGTH_MAX,
  CBOR_DEPTH_MAX,
  CBOR_ENCODER_SCRATCH_BYTES_MAX,
  CBOR_MAP_KEY_BYTES_MAX,
  CID_BYTES_MAX,
} from '../limits.ts'
import { CID } from './cid.ts'
import { CborError } from './cbor-error.ts'
import { CborWriter } from './cbor-writer.ts'
import { sortedMapKeys } from './cbor-keys.ts'

const CID_TAG_HEAD = [0xd8, 0x2a] as const // tag(42), shortest form

let spare: CborWriter | null = null

export function encodeCbor(value: unknown): Uint8Array {
  const w = spare ?? new CborWriter()
  spare = null // a getter calling encodeCbor re-entrantly gets its own writer
  w.pos = 0
  try {
    writeValue(w, value, 0)
    return w.finish()
  } finally {
    if (w.buf.length <= CBOR_ENCODER_SCRATCH_BYTES_MAX) spare = w
  }
}

/** `depth` = number of arrays/maps enclosing `value`. */
function writeValue(w: CborWriter, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      if (w.text(value) < 0) throw new CborError('InvalidString', 'string has a lone UTF-16 surrogate')
      return
    case 'number':
      return writeInteger(w, value)
    case 'boolean':
      return w.byte(value ? 0xf5 : 0xf4)
    case 'object':
      if (value === null) return w.byte(0xf6)
      return writeObject(w, value, depth)
    case 'undefined':
      throw new CborError('Undefined', 'undefined is not a data-model value')
    default:
      throw new CborError('UnsupportedType', `${typeof value} is not a data-model value`)
  }
}

function writeInteger(w: CborWriter, n: number): void {
  if (!Number.isInteger(n)) throw new CborError('NotInteger', `${n} is not an integer`)
  if (!Number.isSafeInteger(n)) throw new CborError('UnsafeInteger', `${n} is outside +-(2^53-1)`)
  if (n >= 0) w.head(0, n)
  else w.head(1, -1 - n)
}

function writeObject(w: CborWriter, value: object, depth: number): void {
  if (Array.isArray(value)) return writeArray(w, value, depth)
  if (value instanceof Uint8Array) {
    w.head(2, value.length)
    return w.raw(value)
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return writeMap(w, value as Record<string, unknown>, depth)
  const cid = value instanceof CID ? value : CID.asCID(value)
  if (cid !== null) return writeCid(w, cid)
  const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object'
  throw new CborError('UnsupportedType', `${kind} is not a data-model value`)
}

function enter(depth: number, length: number): number {
  if (depth + 1 > CBOR_DEPTH_MAX) throw new CborError('DepthExceeded', `nesting deeper than ${CBOR_DEPTH_MAX}`)
  if (length > CBOR_CONTAINER_LENGTH_MAX) {
    throw new CborError('ContainerTooLong', `${length} entries > ${CBOR_CONTAINER_LENGTH_MAX}`)
  }
  return depth + 1
}

function writeArray(w: CborWriter, arr: unknown[], depth: number): void {
  const inner = enter(depth, arr.length)
  w.head(4, arr.length)
  for (let i = 0; i < arr.length; i++) {
    const item = arr[i]
    if (item === undefined) throw new CborError('Undefined', `array element ${i} is undefined`)
    writeValue(w, item, inner)
  }
}

function writeMap(w: CborWriter, obj: Record<string, unknown>, depth: number): void {
  const keys = sortedMapKeys(obj)
  const inner = enter(depth, keys.length)
  w.head(5, keys.length)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const keyBytes = w.text(key)
    if (keyBytes < 0) throw new CborError('InvalidString', 'map key has a lone UTF-16 surrogate')
    if (keyBytes > CBOR_MAP_KEY_BYTES_MAX) {
      throw new CborError('MapKeyTooLong', `map key longer than ${CBOR_MAP_KEY_BYTES_MAX} bytes`)
    }
    writeValue(w, obj[key], inner)
  }
}

function writeCid(w: CborWriter, cid: CID): void {
  const bytes = cid.bytes
  if (bytes.length > CID_BYTES_MAX) throw new CborError('InvalidCidLink', `CID longer than ${CID_BYTES_MAX} bytes`)
  w.byte(CID_TAG_HEAD[0])
  w.byte(CID_TAG_HEAD[1])
  w.head(2, bytes.length + 1)
  w.byte(0x00)
  w.raw(bytes)
}
