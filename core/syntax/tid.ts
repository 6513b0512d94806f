/**
 * TIDs: 13-character sortable timestamps used for repo revisions and record keys.
 *
 * A TID is a 64-bit integer (top bit 0, then 53 bits of microseconds since the
 * UNIX epoch, then a 10-bit clock id) written as TID_LENGTH characters of
 * base32-sortable (`234567abcdefghijklmnopqrstuvwxyz`), most significant first.
 * The first 11 characters are the timestamp, the last 2 the clock id. Because
 * the alphabet is in ASCII order and the length fixed, string order is
 * numeric order: `compareTids` is a plain string comparison.
 *
 * Tricky bits:
 * - The syntax allows a first character up to `j`, i.e. timestamps up to
 *   2^54 - 1 µs, but only those below 2^53 (first character <= `b`, before
 *   the year 2255) fit a JS number exactly. `tidToTimestampUs` is exact there;
 *   `TidClock` never does timestamp arithmetic in numbers: it keeps the last
 *   timestamp as its 11-character string and increments that string, so it
 *   stays exact and monotonic for any valid TID it is asked to follow.
 * - `TidClock.next()` never repeats and never goes backwards, even when the
 *   time source stalls or goes back: it uses max(now, last + 1 µs).
 */
import { randomInt } from 'node:crypto'
import { AtfedError } from '../errors.ts'
import { TID_LENGTH } from '../limits.ts'

export type Tid = string & { readonly __brand: 'Tid' }

const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz'
const TID_SHAPE = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/
const TIMESTAMP_CHARS = 11
const CLOCK_ID_MAX = 1023
/** Largest timestamp prefix the syntax allows (first character `j`). */
const TIMESTAMP_PREFIX_MAX = 'j' + 'z'.repeat(TIMESTAMP_CHARS - 1)

function invalid(message: string): AtfedError<'InvalidTid'> {
  return new AtfedError('InvalidTid', message)
}

function tidProblem(s: string): string | null {
  if (TID_SHAPE.test(s)) return null
  if (s.length !== TID_LENGTH) return `TID must be exactly ${TID_LENGTH} characters`
  if (!/^[234567a-z]+$/.test(s)) return 'TID may contain only 2-7 and lower-case a-z'
  return 'TID first character must be 2-7 or a-j (the top bit is zero)'
}

/** Parse a TID. Throws `InvalidTid`. */
export function parseTid(s: string): Tid {
  if (typeof s !== 'string') throw invalid('TID must be a string')
  const problem = tidProblem(s)
  if (problem !== null) throw invalid(problem)
  return s as Tid
}

export function isTid(s: unknown): s is Tid {
  return typeof s === 'string' && TID_SHAPE.test(s)
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareTids(a: Tid, b: Tid): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function encode(value: number, chars: number): string {
  let out = ''
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[value % 32] + out
    value = Math.floor(value / 32)
  }
  return out
}

function decode(s: string): number {
  let value = 0
  for (const ch of s) value = value * 32 + ALPHABET.indexOf(ch)
  return value
}

/** Microseconds since the epoch; exact for timestamps below 2^53 µs. */
export function tidToTimestampUs(tid: Tid): number {
  return decode(tid.slice(0, TIMESTAMP_CHARS))
}

export function tidClockId(tid: Tid): number {
  return decode(tid.slice(TIMESTAMP_CHARS))
}

/** Build a TID from a timestamp (0 <= us < 2^53) and a clock id (0..1023). */
export function tidFromTimestampUs(us: number, clockId: number): Tid {
  if (!Number.isSafeInteger(us) || us < 0) throw invalid('TID timestamp must be an integer in 0..2^53-1 µs')
  if (!Number.isInteger(clockId) || clockId < 0 || clockId > CLOCK_ID_MAX) {
    throw invalid(`TID clock id must be an integer in 0..${CLOCK_ID_MAX}`)
  }
  return (encode(us, TIMESTAMP_CHARS) + encode(clockId, 2)) as Tid
}

/** The base32-sortable string one greater than `prefix`; throws past the TID range. */
function incrementPrefix(prefix: string): string {
  if (prefix >= TIMESTAMP_PREFIX_MAX) throw invalid('no TID timestamp after the largest one')
  const digits = [...prefix]
  for (let i = digits.length - 1; i >= 0; i--) {
    const index = ALPHABET.indexOf(digits[i] as string)
    if (index < 31) {
      digits[i] = ALPHABET[index + 1] as string
      return digits.join('')
    }
    digits[i] = '2'
  }
  throw invalid('no TID timestamp after the largest one')
}

export interface TidClockOptions {
  /** Time source in milliseconds since the epoch (default `Date.now`). */
  nowMs?: () => number
  /** Fixed clock id 0..1023 (default: random 0..31, fixed for this clock). */
  clockId?: number
}

/** A monotonic TID source: every TID it returns is greater than the previous one. */
export class TidClock {
  readonly clockId: number
  readonly #nowMs: () => number
  /** Timestamp prefix (11 chars) of the last TID returned. */
  #last = encode(0, TIMESTAMP_CHARS)

  constructor(options: TidClockOptions = {}) {
    this.#nowMs = options.nowMs ?? Date.now
    this.clockId = options.clockId ?? randomInt(32)
    tidFromTimestampUs(0, this.clockId) // validates the clock id
  }

  next(): Tid {
    const nowUs = Math.floor(this.#nowMs()) * 1000
    const now = Number.isSafeInteger(nowUs) && nowUs >= 0 ? encode(nowUs, TIMESTAMP_CHARS) : this.#last
    this.#last = now > this.#last ? now : incrementPrefix(this.#last)
    return (this.#last + encode(this.clockId, 2)) as Tid
  }

  /** A TID strictly greater than `prev` (and than anything this clock returned). */
  nextAfter(prev: string): Tid {
    const prefix = parseTid(prev).slice(0, TIMESTAMP_CHARS)
    if (prefix > this.#last) this.#last = prefix
    return this.next()
  }
}
