/**
 * NSIDs: namespaced identifiers for lexicons (`app.bsky.feed.post`).
 *
 * An NSID is a reversed domain name (the authority, two or more segments) plus a
 * name (the last segment). ASCII only, at most NSID_LENGTH_MAX characters.
 * - authority: two or more segments, each 1..NSID_SEGMENT_LENGTH_MAX of
 *   `a-z0-9-`, no leading or trailing hyphen; the first segment (the TLD) must
 *   not start with a digit. Case-insensitive: `parseNsid` lower-cases it.
 * - name: 1..NSID_SEGMENT_LENGTH_MAX of `a-zA-Z0-9`, not starting with a digit,
 *   no hyphen. Case-sensitive: never lower-cased.
 *
 * Glob forms (`com.example.*`) are not NSIDs and are rejected here.
 *
 * Tricky bit: the written spec also caps the authority at 253 characters (a DNS
 * name), but the interop vectors accept an NSID with a 283-character authority
 * (`com.middle.middle....foo`, 287 in all) and so do the reference TypeScript
 * and Go validators. We follow the vectors and the network: only the total
 * NSID_LENGTH_MAX applies. Such an NSID can never resolve via DNS, which is
 * the resolver's problem, not the syntax's.
 */
import { AtfedError } from '../errors.ts'
import { NSID_LENGTH_MAX, NSID_SEGMENT_LENGTH_MAX } from '../limits.ts'

export type Nsid = string & { readonly __brand: 'Nsid' }

const AUTHORITY_SEGMENT = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/
const NAME = /^[a-zA-Z][a-zA-Z0-9]*$/

function invalid(message: string): AtfedError<'InvalidNsid'> {
  return new AtfedError('InvalidNsid', message)
}

/** Returns the reason `s` is not an NSID, or null when it is one. */
function nsidProblem(s: string): string | null {
  if (s.length > NSID_LENGTH_MAX) return `NSID longer than ${NSID_LENGTH_MAX} characters`
  const segments = s.split('.')
  if (segments.length < 3) return 'NSID needs at least three segments'
  for (const segment of segments) {
    if (segment.length === 0) return 'NSID has an empty segment'
    if (segment.length > NSID_SEGMENT_LENGTH_MAX) {
      return `NSID segment longer than ${NSID_SEGMENT_LENGTH_MAX} characters`
    }
  }
  const name = segments.pop() as string
  for (const segment of segments) {
    if (!AUTHORITY_SEGMENT.test(segment)) {
      return /^[a-zA-Z0-9-]+$/.test(segment)
        ? 'NSID authority segment starts or ends with a hyphen'
        : 'NSID authority may contain only ASCII letters, digits and hyphens'
    }
  }
  if (/^[0-9]/.test(segments[0] as string)) return 'NSID first segment must not start with a digit'
  if (!NAME.test(name)) {
    return /^[0-9]/.test(name)
      ? 'NSID name must not start with a digit'
      : 'NSID name may contain only ASCII letters and digits'
  }
  return null
}

function normalise(s: string): string {
  const dot = s.lastIndexOf('.')
  return s.slice(0, dot).toLowerCase() + s.slice(dot)
}

/** Parse an NSID; the authority is lower-cased, the name kept. Throws `InvalidNsid`. */
export function parseNsid(s: string): Nsid {
  if (typeof s !== 'string') throw invalid('NSID must be a string')
  const problem = nsidProblem(s)
  if (problem !== null) throw invalid(problem)
  return normalise(s) as Nsid
}

/** True when `s` is a valid NSID in normalised form (lower-case authority). */
export function isNsid(s: unknown): s is Nsid {
  return typeof s === 'string' && nsidProblem(s) === null && normalise(s) === s
}

/** True when `s` is a valid NSID in any authority case. */
export function isNsidSyntax(s: unknown): s is string {
  return typeof s === 'string' && nsidProblem(s) === null
}

/** The reversed-domain authority: `app.bsky.feed` for `app.bsky.feed.post`. */
export function nsidAuthority(nsid: Nsid): string {
  return nsid.slice(0, nsid.lastIndexOf('.'))
}

/** The name segment: `post` for `app.bsky.feed.post`. */
export function nsidName(nsid: Nsid): string {
  return nsid.slice(nsid.lastIndexOf('.') + 1)
}

/** The authority as a forward domain name: `feed.bsky.app` (for lexicon DNS lookups). */
export function nsidAuthorityDomain(nsid: Nsid): string {
  return nsidAuthority(nsid).split('.').reverse().join('.')
}
