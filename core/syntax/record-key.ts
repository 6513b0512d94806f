/**
 * Record keys: the last part of a repo path (`<collection>/<rkey>`).
 *
 * 1..RECORD_KEY_LENGTH_MAX characters of `A-Za-z0-9._:~-`; exactly `.` and `..`
 * are forbidden (they would read as path segments). Case-sensitive, never
 * normalised. Which keys a collection accepts (`tid`, `nsid`, `literal:self`,
 * `any`) is a lexicon question, not a syntax one.
 */
import { AtfedError } from '../errors.ts'
import { RECORD_KEY_LENGTH_MAX } from '../limits.ts'

export type RecordKey = string & { readonly __brand: 'RecordKey' }

const RKEY_CHARS = /^[a-zA-Z0-9_~.:-]+$/

function invalid(message: string): AtfedError<'InvalidRecordKey'> {
  return new AtfedError('InvalidRecordKey', message)
}

function recordKeyProblem(s: string): string | null {
  if (s.length === 0) return 'record key is empty'
  if (s.length > RECORD_KEY_LENGTH_MAX) return `record key longer than ${RECORD_KEY_LENGTH_MAX} characters`
  if (!RKEY_CHARS.test(s)) return 'record key may contain only ASCII letters, digits and ._:~-'
  if (s === '.' || s === '..') return 'record key must not be "." or ".."'
  return null
}

/** Parse a record key. Throws `InvalidRecordKey`. */
export function parseRecordKey(s: string): RecordKey {
  if (typeof s !== 'string') throw invalid('record key must be a string')
  const problem = recordKeyProblem(s)
  if (problem !== null) throw invalid(problem)
  return s as RecordKey
}

export function isRecordKey(s: unknown): s is RecordKey {
  return typeof s === 'string' && recordKeyProblem(s) === null
}
