/**
 * Binary keys of the level event log: seq (8 bytes big-endian) ‖ append time
 * in ms (8 bytes big-endian). Big-endian makes byte order numeric order, so
 * keys sort by seq; both numbers are below 2^53 and are written as two
 * 32-bit halves (no BigInt). Meta values (`seq`, `floor`) are one such
 * 8-byte number.
 */
import { AtfedError } from '../errors.ts'

const KEY_BYTES = 16
const HALF = 0x1_0000_0000
const TIME_MAX = Number.MAX_SAFE_INTEGER

function writeU64(out: Uint8Array, offset: number, n: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  view.setUint32(offset, Math.floor(n / HALF))
  view.setUint32(offset + 4, n % HALF)
}

function readU64(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return view.getUint32(offset) * HALF + view.getUint32(offset + 4)
}

export function eventKey(seq: number, timeMs: number): Uint8Array {
  const key = new Uint8Array(KEY_BYTES)
  writeU64(key, 0, seq)
  writeU64(key, 8, timeMs)
  return key
}

/** Range options covering seqs `fromSeq..toSeq` inclusive, whatever their times. */
export function eventKeyRange(fromSeq: number, toSeq: number): { gte: Uint8Array; lte: Uint8Array } {
  return { gte: eventKey(fromSeq, 0), lte: eventKey(toSeq, TIME_MAX) }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new AtfedError('CorruptEventLog', `event key of ${key.length} bytes`)
}

export function seqOfKey(key: Uint8Array): number {
  checkKey(key)
  return readU64(key, 0)
}

export function timeOfKey(key: Uint8Array): number {
  checkKey(key)
  return readU64(key, 8)
}

export function encodeMeta(n: number): Uint8Array {
  const out = new Uint8Array(8)
  writeU64(out, 0, n)
  return out
}

/** A stored meta number; 0 when absent. */
export function decodeMeta(bytes: Uint8Array | undefined): number {
  if (bytes === undefined) return 0
  if (bytes.length !== 8) throw new AtfedError('CorruptEventLog', `meta value of ${bytes.length} bytes`)
  return readU64(bytes, 0)
}
