/**
 * What the Jetstream clock (clock.ts) needs from one stored frame — how many
 * messages it stands for and its `time` — read without decoding the frame.
 *
 * The time index stamps every event the relay publishes, subscribers or
 * not; a full `parseFrame` of a ~4 KB #commit (every CID, every op, the
 * blocks) costs tens of µs, this walk a few: the header is decoded (a tiny
 * map), then the payload map is walked key by key, skipping each value by
 * its CBOR head alone (a byte string is one jump; nothing is copied or
 * validated), comparing keys as bytes, and reading just `time` (text) and
 * `ops` (the array's length).
 *
 * This is the ONE definition of an event's clock input: the index and
 * every subscriber's renderer (render.ts) both use it, so they can never
 * disagree on a `time_us`, whatever a frame holds:
 *   header `op` 1 and `t` #commit → slots = length of `ops` (0 if absent or
 *   not an array); #identity / #account → 1; anything else → 0;
 *   time = the payload's `time` if it is a valid datetime and t is one of
 *   #commit, #sync, #identity, #account, else null; a frame that is not a
 *   message header and a map → no slots, no time.
 * For a valid event this equals `messageSlots` and the event's `time` after
 * a full parse (test/relay/jetstream-clock-info.test.ts checks it).
 */
import { decodeCborFirst } from '../../core/data/cbor.ts'
import { isDatetime } from '../../core/syntax/datetime.ts'
import { isMap } from '../../core/stream/frames.ts'
import { datetimeToUs } from './clock.ts'

export type ClockInfo = { slots: number; timeUs: number | null }

const NOTHING: ClockInfo = { slots: 0, timeUs: null }
const OP_MESSAGE = 1
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
/** The event types whose `time` moves the clock (#info has none; unknown types are skipped whole). */
const TIMED = new Set(['#commit', '#sync', '#identity', '#account'])
const KEY_TIME = [0x74, 0x69, 0x6d, 0x65] // "time"
const KEY_OPS = [0x6f, 0x70, 0x73] // "ops"

class Malformed extends Error {}

/** A CBOR item head at `p`: major type, argument, and where the item's content starts. */
function head(b: Uint8Array, p: number): { major: number; arg: number; next: number } {
  if (p >= b.length) throw new Malformed()
  const major = b[p]! >> 5
  const info = b[p]! & 0x1f
  if (info < 24) return { major, arg: info, next: p + 1 }
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
  if (size === 0 || p + 1 + size > b.length) throw new Malformed() // indefinite lengths: not DAG-CBOR
  let arg = 0
  for (let i = 1; i <= size; i++) arg = arg * 256 + b[p + i]!
  return { major, arg, next: p + 1 + size }
}

/** Where the item at `p` ends. */
function skip(b: Uint8Array, p: number): number {
  const { major, arg, next } = head(b, p)
  switch (major) {
    case 2:
    case 3:
      if (next + arg > b.length) throw new Malformed()
      return next + arg
    case 4:
    case 5: {
      let q = next
      const items = major === MAJOR_MAP ? arg * 2 : arg
      for (let i = 0; i < items; i++) q = skip(b, q)
      return q
    }
    case 6:
      return skip(b, next)
    default:
      return next // integers, simple values, floats: the head is the item
  }
}

/** Whether the text item at `p` is exactly `key` (compared as bytes: no string is made). */
function isKey(b: Uint8Array, p: number, key: readonly number[]): boolean {
  if (b[p] !== ((MAJOR_TEXT << 5) | key.length)) return false
  for (let i = 0; i < key.length; i++) if (b[p + 1 + i] !== key[i]) return false
  return true
}

/** The payload's `time` text (null if absent or not text) and `ops` length (0 if absent or not an array). */
function scanPayload(b: Uint8Array, start: number): { time: string | null; ops: number } {
  const map = head(b, start)
  if (map.major !== MAJOR_MAP) throw new Malformed()
  let p = map.next
  let time: string | null = null
  let ops = 0
  for (let i = 0; i < map.arg; i++) {
    const keyAt = p
    p = skip(b, p)
    const value = head(b, p)
    const end = skip(b, p)
    if (isKey(b, keyAt, KEY_TIME) && value.major === MAJOR_TEXT) {
      time = Buffer.from(b.buffer, b.byteOffset + value.next, value.arg).toString('utf8')
    } else if (isKey(b, keyAt, KEY_OPS) && value.major === MAJOR_ARRAY) ops = value.arg
    p = end
  }
  return { time, ops }
}

/**
 * `time` in µs, or null when it is not a valid datetime. The usual form,
 * `Date#toISOString`'s (UTC, milliseconds), is recognised by a round trip
 * (several times cheaper than the full syntax check, and exact: such a
 * string is a valid datetime meaning exactly those ms); anything else takes
 * the full check.
 */
function timeUsOf(time: string | null): number | null {
  if (time === null) return null
  if (time.length === 24) {
    const ms = Date.parse(time)
    if (Number.isFinite(ms) && new Date(ms).toISOString() === time) return ms * 1000
  }
  return isDatetime(time) ? datetimeToUs(time) : null
}

/** The clock input of one stored frame (see the module comment). */
export function clockInfo(frameBytes: Uint8Array): ClockInfo {
  try {
    const { value: header, end } = decodeCborFirst(frameBytes)
    if (!isMap(header) || header.op !== OP_MESSAGE || typeof header.t !== 'string' || !TIMED.has(header.t)) return NOTHING
    const t = header.t
    const { time, ops } = scanPayload(frameBytes, end)
    const slots = t === '#commit' ? ops : t === '#sync' ? 0 : 1
    return { slots, timeUs: timeUsOf(time) }
  } catch {
    return NOTHING
  }
}
