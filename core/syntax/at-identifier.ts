/**
 * AT identifiers: a handle or a DID, as accepted by XRPC `repo`/`actor` params
 * and by AT-URI authorities.
 *
 * A string starting with `did:` is judged as a DID (error `InvalidDid`),
 * anything else as a handle (error `InvalidHandle`, returned lower-cased). A
 * handle can never contain `:`, so the two never overlap.
 */
import { AtfedError } from '../errors.ts'
import { isDid, parseDid } from './did.ts'
import type { Did } from './did.ts'
import { isHandle, parseHandle } from './handle.ts'
import type { Handle } from './handle.ts'

export type AtIdentifier = Did | Handle

/** Parse a DID or a handle (lower-cased). Throws `InvalidDid` or `InvalidHandle`. */
export function parseAtIdentifier(s: string): AtIdentifier {
  if (typeof s !== 'string') throw new AtfedError('InvalidHandle', 'identifier must be a string')
  return s.startsWith('did:') ? parseDid(s) : parseHandle(s)
}

/** True for a DID or a normalised (lower-case) handle. */
export function isAtIdentifier(s: unknown): s is AtIdentifier {
  return isDid(s) || isHandle(s)
}

/** Discriminate a parsed identifier. */
export function isDidIdentifier(id: AtIdentifier): id is Did {
  return id.startsWith('did:')
}
