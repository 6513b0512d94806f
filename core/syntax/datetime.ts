/**
 * Datetimes: the lexicon `datetime` format (`createdAt`, `indexedAt`, ...).
 *
 * The profile is the intersection of RFC 3339, ISO 8601 and WHATWG HTML:
 * `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` with an upper-case `T` and
 * `Z`, a mandatory timezone (`-00:00` forbidden), whole seconds required, any
 * number of fraction digits, at most DATETIME_LENGTH_MAX characters.
 *
 * Two levels, as in the interop vectors:
 * - `isDatetimeSyntax`: the shape only (digit counts, separators, timezone).
 * - `parseDatetime` / `isDatetime`: the shape plus the meaning: month 1-12, a
 *   day that exists in that month (Feb 29 only in leap years), hour <= 23,
 *   minute <= 59, second <= 59 (leap second 60 is rejected: it cannot be
 *   normalised), offset <= 23:59, and the instant must normalise to a year in
 *   0000..9999 (so `0000-01-01T00:00:00+01:00` is rejected).
 *
 * Tricky bit: JS `Date` parsing rolls impossible days over (`1985-02-30` becomes
 * March 2) and maps years 0-99 to 19xx in some APIs; we check fields ourselves
 * and build the instant with `setUTCFullYear`, so neither quirk reaches us.
 */
import { AtfedError } from '../errors.ts'
import { DATETIME_LENGTH_MAX } from '../limits.ts'

export type Datetime = string & { readonly __brand: 'Datetime' }

const SHAPE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/
const YEAR_MAX = 9999

function invalid(message: string): AtfedError<'InvalidDatetime'> {
  return new AtfedError('InvalidDatetime', message)
}

function syntaxProblem(s: string): string | null {
  if (s.length > DATETIME_LENGTH_MAX) return `datetime longer than ${DATETIME_LENGTH_MAX} characters`
  if (!SHAPE.test(s)) return 'datetime must look like YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)'
  if (s.endsWith('-00:00')) return 'datetime must not use "-00:00" as timezone'
  return null
}

export function isDatetimeSyntax(s: unknown): s is string {
  return typeof s === 'string' && syntaxProblem(s) === null
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** Epoch milliseconds of a shape-valid datetime, or the reason it is meaningless. */
function toEpochMs(s: string): number | string {
  const m = SHAPE.exec(s) as RegExpExecArray
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number, number, number, number, number, number,
  ]
  if (month < 1 || month > 12) return 'datetime month must be 01-12'
  if (day < 1 || day > daysInMonth(year, month)) return 'datetime day does not exist in that month'
  if (hour > 23) return 'datetime hour must be 00-23'
  if (minute > 59) return 'datetime minute must be 00-59'
  if (second > 59) return 'datetime second must be 00-59 (leap seconds are not supported)'
  let offsetMin = 0
  if (m[8] !== 'Z') {
    const offHour = Number(m[10])
    const offMinute = Number(m[11])
    if (offHour > 23 || offMinute > 59) return 'datetime timezone offset must be at most 23:59'
    offsetMin = (m[9] === '-' ? -1 : 1) * (offHour * 60 + offMinute)
  }
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3))
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, ms)
  const epochMs = date.getTime() - offsetMin * 60_000
  const normalisedYear = new Date(epochMs).getUTCFullYear()
  if (normalisedYear < 0 || normalisedYear > YEAR_MAX) return 'datetime normalises outside the years 0000-9999'
  return epochMs
}

/** Parse a datetime (shape and meaning). Returns the input unchanged. Throws `InvalidDatetime`. */
export function parseDatetime(s: string): Datetime {
  if (typeof s !== 'string') throw invalid('datetime must be a string')
  const problem = syntaxProblem(s)
  if (problem !== null) throw invalid(problem)
  const epochMs = toEpochMs(s)
  if (typeof epochMs === 'string') throw invalid(epochMs)
  return s as Datetime
}

export function isDatetime(s: unknown): s is Datetime {
  return typeof s === 'string' && syntaxProblem(s) === null && typeof toEpochMs(s) === 'number'
}

/** Milliseconds since the epoch (fraction digits past milliseconds are truncated). */
export function datetimeToMs(dt: Datetime): number {
  return toEpochMs(dt) as number
}

/** The `toISOString` form (`2024-01-01T00:00:00.000Z`) of a valid datetime. Throws `InvalidDatetime`. */
export function normalizeDatetime(s: string): Datetime {
  return new Date(datetimeToMs(parseDatetime(s))).toISOString() as Datetime
}

/** A `Date` as a datetime; throws `InvalidDatetime` outside 0000..9999 or for an invalid Date. */
export function datetimeFromDate(date: Date): Datetime {
  const year = date.getUTCFullYear()
  if (Number.isNaN(year)) throw invalid('invalid Date')
  if (year < 0 || year > YEAR_MAX) throw invalid('date outside the years 0000-9999')
  return date.toISOString() as Datetime
}
