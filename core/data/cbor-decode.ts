/**
 * Strict DAG-CBOR decoder. Accepts exactly the bytes `encodeCbor` would
 * produce for some value, and nothing else; every rejection is a `CborError`
 * (name `InvalidCbor`) whose `reason` names the rule (see cbor-error.ts).
 *
 * Always checked: shortest heads; definite lengths only; integers within
 * +-(2^53-1); no floats; simple values false/true/null only; tag 42 only,
 * over a byte string 0x00 + a valid binary CID of at most CID_BYTES_MAX
 * bytes; map keys are text strings, unique, in canonical order (compared on
 * the raw bytes, before decoding); text is valid UTF-8 (a leading BOM is
 * kept, not stripped); depth <= CBOR_DEPTH_MAX containers, at most
 * CBOR_CONTAINER_LENGTH_MAX entries per array/map, map keys at most
 * CBOR_MAP_KEY_BYTES_MAX bytes; no trailing bytes (`decodeCbor`).
 * Not checked: empty map keys (valid DAG-CBOR), whether a CID is "blessed".
 *
 * Output: plain objects (a "__proto__" key becomes an own property, never the
 * prototype), arrays, numbers, strings, booleans, null, Uint8Array copies
 * (never views into the input) and multiformats `CID`s. Blessed CIDs
 * (v1, sha2-256, 36 bytes) are built without re-parsing varints, in a small
 * per-decode arena (see `cid`).
 *
 * A declared length is checked against the bytes left before anything is
 * allocated, so a 5-byte input cannot make us allocate a 100k-entry array.
 */
import { CBOR_CONTAINER_LENGTH_MAX, CBOR_DEPTH_MAX, CBOR_MAP_KEY_BYTES_MAX, CID_BYTES_MAX } from '../limits.ts'
import { Digest } from 'multiformats/hashes/digest'
import { CID, DAG_CBOR_CODEC, RAW_CODEC, SHA256_CODE } from './cid.ts'
import { CborError } from './cbor-error.ts'
import type { LexMap, LexValue } from './lex-value.ts'
import { decodeUtf8 } from './cbor-text.ts'
import { cachedAsciiKey } from './cbor-key-cache.ts'

const TAG_CID = 42
const TWO_POW_32 = 0x100000000
const CID_BLESSED_BYTES = 36
const CID_LINK_BYTES = 41 // d8 2a 58 25 00 + 36: the least input one more blessed CID needs
const ARENA_CIDS_MAX = 32 // a retained CID keeps at most this many CIDs' worth of memory alive

export function decodeCbor(bytes: Uint8Array): LexValue {
  const r = new CborReader(bytes)
  const value = r.value(0)
  if (r.p !== r.end) throw new CborError('TrailingBytes', `${r.end - r.p} bytes after the top-level item`)
  return value
}

/** Decode the first item of `bytes`; `end` is where it stops (firehose frames are two items back to back). */
export function decodeCborFirst(bytes: Uint8Array): { value: LexValue; end: number } {
  const r = new CborReader(bytes)
  const value = r.value(0)
  return { value, end: r.p }
}

class CborReader {
  readonly b: Uint8Array
  readonly end: number
  p = 0
  arena: Uint8Array | null = null
  arenaPos = 0

  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw new CborError('UnsupportedType', 'input is not a Uint8Array')
    // Buffer#slice returns views; normalise so every copy we hand out is a plain Uint8Array.
    this.b = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.end = this.b.length
  }

  /** Read a head's argument for additional info `ai` (< 28), checking the shortest form. */
  arg(ai: number): number {
    if (ai < 24) return ai
    const b = this.b
    const p = this.p
    if (ai === 24) {
      this.need(1)
      const n = b[p]!
      this.p = p + 1
      if (n < 24) throw notShortest(n)
      return n
    }
    if (ai === 25) {
      this.need(2)
      const n = (b[p]! << 8) | b[p + 1]!
      this.p = p + 2
      if (n < 0x100) throw notShortest(n)
      return n
    }
    if (ai === 26) {
      this.need(4)
      const n = uint32(b, p)
      this.p = p + 4
      if (n < 0x10000) throw notShortest(n)
      return n
    }
    this.need(8)
    const hi = uint32(b, p)
    const lo = uint32(b, p + 4)
    this.p = p + 8
    if (hi === 0) throw notShortest(lo)
    return hi * TWO_POW_32 + lo // inexact only above 2^53, where every caller rejects anyway
  }

  need(n: number): void {
    if (this.end - this.p < n) throw new CborError('Truncated', 'input ends inside an item')
  }

  value(depth: number): LexValue {
    if (this.p >= this.end) throw new CborError('Truncated', 'input ends where an item should start')
    const ib = this.b[this.p++]!
    const major = ib >> 5
    const ai = ib & 31
    if (major === 7) return simple(ai)
    if (ai >= 28) {
      if (ai === 31) throw new CborError('IndefiniteLength', 'indefinite lengths are not allowed')
      throw new CborError('Malformed', `reserved additional info ${ai}`)
    }
    const n = this.arg(ai)
    switch (major) {
      case 0:
        if (n > Number.MAX_SAFE_INTEGER) throw unsafeInteger()
        return n
      case 1:
        if (n >= Number.MAX_SAFE_INTEGER) throw unsafeInteger()
        return -1 - n
      case 2:
        return this.bytes(n)
      case 3:
        return this.text(n)
      case 4:
        return this.array(n, depth)
      case 5:
        return this.map(n, depth)
      default:
        return this.tag(n)
    }
  }

  bytes(n: number): Uint8Array {
    this.need(n)
    const start = this.p
    this.p = start + n
    return this.b.slice(start, start + n)
  }

  text(n: number): string {
    this.need(n)
    const start = this.p
    this.p = start + n
    const s = decodeUtf8(this.b, start, start + n)
    if (s === null) throw new CborError('InvalidUtf8', 'text string is not valid UTF-8')
    return s
  }

  array(n: number, depth: number): LexValue[] {
    const inner = this.enter(depth, n, n)
    const out = new Array<LexValue>(n)
    for (let i = 0; i < n; i++) out[i] = this.value(inner)
    return out
  }

  map(n: number, depth: number): LexMap {
    const inner = this.enter(depth, n, n * 2)
    const out: LexMap = {}
    const b = this.b
    let prevStart = 0
    let prevLen = -1
    for (let i = 0; i < n; i++) {
      this.need(1)
      const ib = b[this.p++]!
      if (ib >> 5 !== 3) throw new CborError('MapKeyNotString', `map key of major type ${ib >> 5}`)
      const ai = ib & 31
      if (ai >= 28) throw new CborError(ai === 31 ? 'IndefiniteLength' : 'Malformed', 'bad map key head')
      const len = this.arg(ai)
      if (len > CBOR_MAP_KEY_BYTES_MAX) throw new CborError('MapKeyTooLong', `map key of ${len} bytes`)
      this.need(len)
      const start = this.p
      if (len <= prevLen) {
        const order = len < prevLen ? -1 : compareBytes(b, start, b, prevStart, len)
        if (order === 0) throw new CborError('DuplicateMapKey', 'the same key twice in one map')
        if (order < 0) throw new CborError('MapKeyOrder', 'map keys are not in canonical order')
      }
      let key = cachedAsciiKey(b, start, start + len)
      if (key === null) key = this.text(len)
      else this.p = start + len
      prevStart = start
      prevLen = len
      const v = this.value(inner)
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
      else out[key] = v
    }
    return out
  }

  /** Check depth and length limits for a container of `n` entries needing at least `minBytes` bytes. */
  enter(depth: number, n: number, minBytes: number): number {
    if (depth + 1 > CBOR_DEPTH_MAX) throw new CborError('DepthExceeded', `nesting deeper than ${CBOR_DEPTH_MAX}`)
    if (n > CBOR_CONTAINER_LENGTH_MAX) throw new CborError('ContainerTooLong', `${n} entries > ${CBOR_CONTAINER_LENGTH_MAX}`)
    this.need(minBytes)
    return depth + 1
  }

  tag(n: number): CID {
    if (n !== TAG_CID) throw new CborError('UnsupportedTag', `tag ${n}`)
    this.need(1)
    const ib = this.b[this.p++]!
    if (ib >> 5 !== 2 || (ib & 31) >= 28) throw new CborError('InvalidCidLink', 'tag 42 payload is not a definite byte string')
    const len = this.arg(ib & 31)
    if (len < 2 || len > CID_BYTES_MAX + 1) throw new CborError('InvalidCidLink', `tag 42 payload of ${len} bytes`)
    this.need(len)
    const start = this.p
    this.p = start + len
    if (this.b[start] !== 0) throw new CborError('InvalidCidLink', 'tag 42 payload does not start with 0x00')
    return this.cid(start + 1, start + len)
  }

  /**
   * A CID from b[start, end), copied out of the input. Blessed 36-byte CIDs
   * take a fast path and share an off-heap arena (a few per decode, bounded
   * by the input's size): multiformats reads `.buffer` of every array it is
   * given, which is costly for small on-heap typed arrays.
   */
  cid(start: number, end: number): CID {
    const b = this.b
    if (
      end - start === CID_BLESSED_BYTES &&
      b[start] === 1 &&
      (b[start + 1] === DAG_CBOR_CODEC || b[start + 1] === RAW_CODEC) &&
      b[start + 2] === SHA256_CODE &&
      b[start + 3] === 32
    ) {
      if (this.arena === null || this.arenaPos === this.arena.length) {
        const cidsLeftMax = Math.ceil((this.end - this.p) / CID_LINK_BYTES) + 1
        this.arena = new Uint8Array(CID_BLESSED_BYTES * Math.min(cidsLeftMax, ARENA_CIDS_MAX))
        this.arenaPos = 0
      }
      const arena = this.arena
      const at = this.arenaPos
      for (let i = 0; i < CID_BLESSED_BYTES; i++) arena[at + i] = b[start + i]!
      this.arenaPos = at + CID_BLESSED_BYTES
      const bytes = arena.subarray(at, at + CID_BLESSED_BYTES)
      return new CID(1, bytes[1]!, new Digest(SHA256_CODE, 32, bytes.subarray(4), bytes.subarray(2)), bytes)
    }
    let cid: CID
    try {
      cid = CID.decode(b.slice(start, end))
    } catch (err) {
      throw new CborError('InvalidCidLink', 'tag 42 payload is not a valid CID', { cause: err })
    }
    // multiformats rebuilds the version/codec prefix, so a non-minimal varint there would not match.
    if (cid.bytes.length !== end - start || compareBytes(cid.bytes, 0, b, start, end - start) !== 0) {
      throw new CborError('InvalidCidLink', 'tag 42 payload is not a CID in canonical form')
    }
    return cid
  }
}

function simple(ai: number): LexValue {
  switch (ai) {
    case 20:
      return false
    case 21:
      return true
    case 22:
      return null
    case 23:
      throw new CborError('Undefined', 'undefined is not a data-model value')
    case 25:
    case 26:
    case 27:
      throw new CborError('Float', 'floats are not allowed')
    case 31:
      throw new CborError('IndefiniteLength', 'unexpected break')
    default:
      if (ai >= 28) throw new CborError('Malformed', `reserved additional info ${ai}`)
      throw new CborError('SimpleValue', `simple value ${ai === 24 ? '(1-byte form)' : ai}`)
  }
}

function compareBytes(a: Uint8Array, x: number, b: Uint8Array, y: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = a[x + i]! - b[y + i]!
    if (d !== 0) return d
  }
  return 0
}

function uint32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
}

function notShortest(n: number): CborError {
  return new CborError('NotShortest', `argument ${n} not in its shortest form`)
}

function unsafeInteger(): CborError {
  return new CborError('UnsafeInteger', 'integer outside +-(2^53-1)')
}
