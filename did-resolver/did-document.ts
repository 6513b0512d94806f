/**
 * DID documents as atproto reads them: a shape check with bounded sizes, and
 * the extraction of the atproto identity (handle, signing key, PDS, labeler,
 * feed generator).
 *
 * `parseDidDocument(did, json)` accepts the W3C fields atproto uses and keeps
 * the object as it came (extra fields untouched, so a PDS can hand the doc to
 * clients verbatim). It checks: a JSON object; `id` a string equal to the DID
 * asked for (`DidDocumentMismatch`); `alsoKnownAs` strings; `verificationMethod`
 * entries `{id, type, controller, publicKeyMultibase?}`; `service` entries
 * `{id, type, serviceEndpoint: string | object}`; at most DID_DOC_ENTRIES_MAX
 * entries per array; no id twice in one array. Anything else is
 * `InvalidDidDocument`.
 *
 * `parseAtprotoIdentity(did, json)` then reads, by id (relative `#x` or
 * absolute `<did>#x`, both accepted):
 * - handle: the first `at://` alias, lower-cased, or null (absent or bad
 *   syntax). It is a CLAIM: identity-resolver.ts verifies it both ways;
 * - signingKey: `#atproto` (Multikey, or a legacy 2019 type), or null;
 * - pds: `#atproto_pds` of type AtprotoPersonalDataServer, as a URL origin;
 * - labeler `#atproto_label` key and `#atproto_labeler` endpoint; feedgen
 *   `#bsky_fg` endpoint.
 *
 * Tricky bits: entries the account depends on (`#atproto`, `#atproto_pds`)
 * fail the whole document when present but malformed — a broken key must
 * not read as "no key"; auxiliary entries (labeler, feedgen) that are
 * malformed read as absent. Endpoints must be http(s) with no credentials,
 * path, query or fragment. The controller of `#atproto` is not checked (the
 * reference does not either). Duplicate ids are refused rather than "first
 * wins": two `#atproto_pds` entries is an ambiguous identity.
 */
import { AtfedError } from '../core/errors.ts'
import { DID_DOC_ENTRIES_MAX, SERVICE_ENDPOINT_LENGTH_MAX } from '../core/limits.ts'
import { isHandleSyntax } from '../core/syntax/handle.ts'
import type { Handle } from '../core/syntax/handle.ts'
import type { Did } from '../core/syntax/did.ts'
import { parsePublicKeyFromDidDoc } from '../core/crypto/did-key.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'

export type VerificationMethod = {
  readonly id: string
  readonly type: string
  readonly controller: string
  readonly publicKeyMultibase?: string
}

export type DidService = {
  readonly id: string
  readonly type: string
  readonly serviceEndpoint: string | { readonly [key: string]: unknown }
}

export type DidDocument = {
  readonly id: Did
  readonly alsoKnownAs?: readonly string[]
  readonly verificationMethod?: readonly VerificationMethod[]
  readonly service?: readonly DidService[]
  readonly [field: string]: unknown
}

export type AtprotoIdentity = {
  readonly did: Did
  /** The claimed handle (first `at://` alias), NOT yet verified. */
  readonly handle: Handle | null
  readonly signingKey: PublicKey | null
  /** `#atproto_pds` endpoint origin, e.g. `https://pds.example.com`. */
  readonly pds: string | null
  readonly labeler: { readonly key?: PublicKey; readonly endpoint?: string }
  readonly feedgen: string | null
  readonly doc: DidDocument
}

function invalid(message: string, cause?: unknown): AtfedError<'InvalidDidDocument'> {
  return new AtfedError('InvalidDidDocument', message, cause === undefined ? undefined : { cause })
}

function isObject(v: unknown): v is { readonly [key: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkArray<T>(doc: { readonly [key: string]: unknown }, field: string, check: (v: unknown) => v is T): void {
  const value = doc[field]
  if (value === undefined) return
  if (!Array.isArray(value)) throw invalid(`${field} must be an array`)
  if (value.length > DID_DOC_ENTRIES_MAX) throw invalid(`${field} has more than ${DID_DOC_ENTRIES_MAX} entries`)
  for (const item of value) if (!check(item)) throw invalid(`${field} has a malformed entry`)
}

const isString = (v: unknown): v is string => typeof v === 'string'

function isMethod(v: unknown): v is VerificationMethod {
  return (
    isObject(v) && isString(v.id) && isString(v.type) && isString(v.controller) &&
    (v.publicKeyMultibase === undefined || isString(v.publicKeyMultibase))
  )
}

function isService(v: unknown): v is DidService {
  return isObject(v) && isString(v.id) && isString(v.type) && (isString(v.serviceEndpoint) || isObject(v.serviceEndpoint))
}

/** `#x` and `<did>#x` name the same entry. */
function absoluteId(did: Did, id: string): string {
  return id.startsWith('#') ? did + id : id
}

function checkUniqueIds(did: Did, field: string, items: readonly { id: string }[] | undefined): void {
  if (items === undefined) return
  const seen = new Set<string>()
  for (const { id } of items) {
    const abs = absoluteId(did, id)
    if (seen.has(abs)) throw invalid(`${field} has the id ${id} twice`)
    seen.add(abs)
  }
}

/** Shape-check a DID document fetched for `did`. Throws `InvalidDidDocument` / `DidDocumentMismatch`. */
export function parseDidDocument(did: Did, json: unknown): DidDocument {
  if (!isObject(json)) throw invalid('DID document must be a JSON object')
  if (!isString(json.id)) throw invalid('DID document has no string id')
  if (json.id !== did) throw new AtfedError('DidDocumentMismatch', `DID document id ${json.id} is not ${did}`)
  checkArray(json, 'alsoKnownAs', isString)
  checkArray(json, 'verificationMethod', isMethod)
  checkArray(json, 'service', isService)
  const doc = json as DidDocument
  checkUniqueIds(did, 'verificationMethod', doc.verificationMethod)
  checkUniqueIds(did, 'service', doc.service)
  return doc
}

function findById<T extends { id: string }>(did: Did, items: readonly T[] | undefined, fragment: string): T | undefined {
  const absolute = `${did}#${fragment}`
  return items?.find((item) => item.id === `#${fragment}` || item.id === absolute)
}

/** An http(s) service endpoint reduced to its origin; null when it is not one. */
export function parseServiceEndpoint(value: unknown): string | null {
  if (!isString(value) || value.length > SERVICE_ENDPOINT_LENGTH_MAX) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username !== '' || url.password !== '') return null
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) return null
  return url.origin
}

function readKey(did: Did, doc: DidDocument, fragment: string): PublicKey | null {
  const method = findById(did, doc.verificationMethod, fragment)
  if (method === undefined) return null
  if (method.publicKeyMultibase === undefined) throw invalid(`#${fragment} has no publicKeyMultibase`)
  try {
    return parsePublicKeyFromDidDoc({ type: method.type, publicKeyMultibase: method.publicKeyMultibase })
  } catch (err) {
    throw invalid(`#${fragment} key is malformed`, err)
  }
}

/** Endpoint of service `#fragment` of `type`; null when absent or of another type. */
function readEndpoint(did: Did, doc: DidDocument, fragment: string, type: string): string | null | 'malformed' {
  const service = findById(did, doc.service, fragment)
  if (service === undefined || service.type !== type) return null
  return parseServiceEndpoint(service.serviceEndpoint) ?? 'malformed'
}

function readHandle(doc: DidDocument): Handle | null {
  const alias = doc.alsoKnownAs?.find((aka) => aka.startsWith('at://'))
  if (alias === undefined) return null
  const handle = alias.slice('at://'.length)
  return isHandleSyntax(handle) ? (handle.toLowerCase() as Handle) : null
}

function optional<T>(read: () => T | null | 'malformed'): T | undefined {
  try {
    const value = read()
    return value === null || value === 'malformed' ? undefined : value
  } catch {
    return undefined
  }
}

/** The atproto view of a DID document (see the module header for the rules). */
export function parseAtprotoIdentity(did: Did, json: unknown): AtprotoIdentity {
  const doc = parseDidDocument(did, json)
  const pds = readEndpoint(did, doc, 'atproto_pds', 'AtprotoPersonalDataServer')
  if (pds === 'malformed') throw invalid('#atproto_pds endpoint must be an http(s) origin')
  const labelerKey = optional(() => readKey(did, doc, 'atproto_label'))
  const labelerEndpoint = optional(() => readEndpoint(did, doc, 'atproto_labeler', 'AtprotoLabeler'))
  return {
    did,
    handle: readHandle(doc),
    signingKey: readKey(did, doc, 'atproto'),
    pds,
    labeler: {
      ...(labelerKey === undefined ? {} : { key: labelerKey }),
      ...(labelerEndpoint === undefined ? {} : { endpoint: labelerEndpoint }),
    },
    feedgen: optional(() => readEndpoint(did, doc, 'bsky_fg', 'BskyFeedGenerator')) ?? null,
    doc,
  }
}
