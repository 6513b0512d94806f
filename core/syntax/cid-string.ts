/**
 * CID strings, loosely: the lexicon `cid` string format.
 *
 * This is a syntax check only, not a decode (use `parseCid` in core/data/cid.ts
 * to decode and require the blessed form). A CID string here is
 * CID_STRING_LENGTH_MIN..CID_STRING_LENGTH_MAX characters of the multibase
 * alphabets (letters, digits and `+/=_-`), so CIDv1 in any common multibase
 * (`b` base32, `z` base58btc, `m`/`u` base64, `f` base16, `7` base10) passes,
 * including contrived strings that would not decode.
 *
 * Tricky bit: CIDv0 (`Qm...`, bare base58 without a multibase prefix) is not
 * allowed in atproto, and `Q` is no multibase prefix, so any `Q` start is rejected.
 */
import { AtfedError } from '../errors.ts'
import { CID_STRING_LENGTH_MAX, CID_STRING_LENGTH_MIN } from '../limits.ts'

export type CidString = string & { readonly __brand: 'CidString' }

const CID_CHARS = /^[A-Za-z0-9+/=_-]+$/

function cidStringProblem(s: string): string | null {
  if (s.length < CID_STRING_LENGTH_MIN) return `CID string shorter than ${CID_STRING_LENGTH_MIN} characters`
  if (s.length > CID_STRING_LENGTH_MAX) return `CID string longer than ${CID_STRING_LENGTH_MAX} characters`
  if (!CID_CHARS.test(s)) return 'CID string may contain only ASCII letters, digits and +/=_-'
  if (s.startsWith('Q')) return 'CIDv0 ("Qm...") is not allowed'
  return null
}

/** Check a CID string's syntax (returned unchanged). Throws `InvalidCidString`. */
export function parseCidString(s: string): CidString {
  if (typeof s !== 'string') throw new AtfedError('InvalidCidString', 'CID string must be a string')
  const problem = cidStringProblem(s)
  if (problem !== null) throw new AtfedError('InvalidCidString', problem)
  return s as CidString
}

export function isCidString(s: unknown): s is CidString {
  return typeof s === 'string' && cidStringProblem(s) === null
}
