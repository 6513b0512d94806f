/**
 * AT-URIs in the restricted (lexicon) form: `at://AUTHORITY[/COLLECTION[/RKEY]]`.
 *
 * The authority is a DID or a handle, the collection an NSID, the rkey a record
 * key; each part is checked by its own parser. At most AT_URI_BYTES_MAX bytes;
 * no query, no fragment, no trailing or doubled `/`, no percent escapes (no
 * component admits `%` except a DID identifier, which is kept as-is).
 *
 * Normal form (what `toString` and `formatAtUri` give): handle lower-cased, NSID
 * authority lower-cased, DID and record key unchanged.
 *
 * Tricky bits (where @atproto/syntax's AT-URI validator is looser than the spec
 * and the interop vectors; we follow the spec): a trailing `/` is rejected, the
 * record key must be a valid record key (so `%23`, `$`, `@`, `.` and `..` are
 * rejected), and fragments are rejected.
 */
import { AtfedError, isAtfedError } from '../errors.ts'
import { AT_URI_BYTES_MAX } from '../limits.ts'
import { parseAtIdentifier } from './at-identifier.ts'
import type { AtIdentifier } from './at-identifier.ts'
import { parseNsid } from './nsid.ts'
import type { Nsid } from './nsid.ts'
import { parseRecordKey } from './record-key.ts'
import type { RecordKey } from './record-key.ts'

/** An AT-URI string in normal form. */
export type AtUriString = string & { readonly __brand: 'AtUri' }

export interface AtUriParts {
  readonly authority: AtIdentifier
  readonly collection?: Nsid
  readonly rkey?: RecordKey
}

export interface AtUri extends AtUriParts {
  toString(): AtUriString
}

const PREFIX = 'at://'

function invalid(message: string, cause?: unknown): AtfedError<'InvalidAtUri'> {
  return new AtfedError('InvalidAtUri', message, { cause })
}

/** Run a component parser, re-throwing its error as `InvalidAtUri`. */
function component<T>(what: string, parse: (s: string) => T, s: string): T {
  try {
    return parse(s)
  } catch (err) {
    if (!isAtfedError(err)) throw err
    throw invalid(`AT-URI ${what}: ${err.message}`, err)
  }
}

/** Format parts as a normal-form AT-URI. Throws `InvalidAtUri` for an rkey without a collection. */
export function formatAtUri(parts: AtUriParts): AtUriString {
  let out = PREFIX + parts.authority
  if (parts.collection !== undefined) out += '/' + parts.collection
  if (parts.rkey !== undefined) {
    if (parts.collection === undefined) throw invalid('AT-URI record key without a collection')
    out += '/' + parts.rkey
  }
  return out as AtUriString
}

function makeAtUri(parts: AtUriParts): AtUri {
  const text = formatAtUri(parts)
  return Object.freeze({ ...parts, toString: () => text })
}

/** Parse an AT-URI into normalised parts. Throws `InvalidAtUri`. */
export function parseAtUri(s: string): AtUri {
  if (typeof s !== 'string') throw invalid('AT-URI must be a string')
  if (s.length > AT_URI_BYTES_MAX) throw invalid(`AT-URI longer than ${AT_URI_BYTES_MAX} bytes`)
  if (!s.startsWith(PREFIX)) throw invalid('AT-URI must start with "at://"')
  const rest = s.slice(PREFIX.length)
  if (rest.includes('?') || rest.includes('#')) throw invalid('AT-URI must not have a query or fragment')
  const segments = rest.split('/')
  if (segments.length > 3) throw invalid('AT-URI path has more than a collection and a record key')
  if (segments[0] === '') throw invalid('AT-URI authority is empty')
  if (segments.includes('')) throw invalid('AT-URI has an empty path segment (trailing or doubled "/")')
  const [authority, collection, rkey] = segments as [string, string?, string?]
  // Every accepted component is ASCII, so the length check above is a byte check.
  return makeAtUri({
    authority: component('authority', parseAtIdentifier, authority),
    ...(collection === undefined ? {} : { collection: component('collection', parseNsid, collection) }),
    ...(rkey === undefined ? {} : { rkey: component('record key', parseRecordKey, rkey) }),
  })
}

/** True when `s` is a valid AT-URI already in normal form. */
export function isAtUri(s: unknown): s is AtUriString {
  return typeof s === 'string' && parsesTo(s) === s
}

/** True when `s` is a valid AT-URI in any letter case. */
export function isAtUriSyntax(s: unknown): s is string {
  return typeof s === 'string' && parsesTo(s) !== null
}

function parsesTo(s: string): string | null {
  try {
    return parseAtUri(s).toString()
  } catch (err) {
    if (isAtfedError(err)) return null
    throw err
  }
}
