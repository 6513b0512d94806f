/**
 * DIDs: `did:<method>:<identifier>`, the permanent account identifiers.
 *
 * Generic syntax (atproto DID spec): ASCII, at most DID_LENGTH_MAX characters,
 * `did:` in lower case, a method of lower-case letters, then an identifier of
 * `a-zA-Z0-9._:%-` that does not end in `:` or `%`. DIDs are case-sensitive and
 * never normalised. No query, fragment or path.
 *
 * Tricky bits:
 * - Percent escapes are not checked for well-formedness (`did:x:%zz` passes),
 *   matching the spec's regex and every other implementation; rejecting them
 *   would make us stricter than the network.
 * - Only `did:plc` and `did:web` are supported for accounts, but the generic
 *   syntax accepts any method: lexicon `did` fields are generic.
 * - `did:web` is host-only here: no path (`:` in the identifier), and a port
 *   (`%3A`) only on `localhost` (development).
 */
import { AtfedError } from '../errors.ts'
import { DID_LENGTH_MAX, PLC_DID_ID_LENGTH } from '../limits.ts'
import { isHandleSyntax } from './handle.ts'

export type Did = string & { readonly __brand: 'Did' }

const DID_SHAPE = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/
const PLC_ID = new RegExp(`^[a-z2-7]{${PLC_DID_ID_LENGTH}}$`)
const LOCALHOST_PORT = /^localhost(%3[aA][0-9]{1,5})?$/

function invalid(message: string): AtfedError<'InvalidDid'> {
  return new AtfedError('InvalidDid', message)
}

/** Returns the reason `s` is not a DID, or null when it is one. */
function didProblem(s: string): string | null {
  if (s.length > DID_LENGTH_MAX) return `DID longer than ${DID_LENGTH_MAX} characters`
  if (DID_SHAPE.test(s)) return null
  if (!s.startsWith('did:')) return 'DID must start with "did:"'
  const methodEnd = s.indexOf(':', 4)
  if (methodEnd < 0) return 'DID needs a method and an identifier'
  if (!/^[a-z]+$/.test(s.slice(4, methodEnd))) return 'DID method must be lower-case ASCII letters'
  if (methodEnd === s.length - 1) return 'DID identifier is empty'
  if (s.endsWith(':') || s.endsWith('%')) return 'DID must not end with ":" or "%"'
  return 'DID identifier may contain only ASCII letters, digits and ._:%-'
}

/** Parse a DID (generic syntax, any method). Throws `InvalidDid`. */
export function parseDid(s: string): Did {
  if (typeof s !== 'string') throw invalid('DID must be a string')
  const problem = didProblem(s)
  if (problem !== null) throw invalid(problem)
  return s as Did
}

export function isDid(s: unknown): s is Did {
  return typeof s === 'string' && didProblem(s) === null
}

/** The method name: `plc` for `did:plc:...`. */
export function didMethod(did: Did): string {
  return did.slice(4, did.indexOf(':', 4))
}

/** `did:plc:` followed by exactly PLC_DID_ID_LENGTH base32 (`a-z2-7`) characters. */
export function isPlcDid(s: unknown): s is Did {
  return typeof s === 'string' && s.startsWith('did:plc:') && PLC_ID.test(s.slice(8))
}

/** `did:web:<hostname>`; a `%3A<port>` suffix only on localhost. */
export function isWebDid(s: unknown): s is Did {
  if (typeof s !== 'string' || !s.startsWith('did:web:') || !isDid(s)) return false
  const host = s.slice(8)
  return isHandleSyntax(host) || LOCALHOST_PORT.test(host)
}

/** Parse a DID of a method atfed accounts may use (`plc`, `web`). Throws `InvalidDid`. */
export function parseAccountDid(s: string): Did {
  const did = parseDid(s)
  if (did.startsWith('did:plc:')) {
    if (!isPlcDid(did)) throw invalid(`did:plc identifier must be ${PLC_DID_ID_LENGTH} base32 characters (a-z, 2-7)`)
    return did
  }
  if (did.startsWith('did:web:')) {
    if (!isWebDid(did)) throw invalid('did:web must be a bare hostname (a port only on localhost)')
    return did
  }
  throw invalid(`unsupported DID method "${didMethod(did)}" (only plc and web)`)
}

/** The host (with `:port` decoded) a `did:web` names; throws `InvalidDid` for others. */
export function webDidHost(did: Did): string {
  if (!isWebDid(did)) throw invalid('not a host-only did:web')
  return did.slice(8).replace(/%3a/i, ':').toLowerCase()
}
