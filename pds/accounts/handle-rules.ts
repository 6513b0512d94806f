/**
 * Which handles an account here may take (reference `normalizeAndValidateHandle`):
 * - syntax, lower-cased (`InvalidHandle`), and a TLD that can resolve
 *   (`.local`, `.invalid`, ... are `InvalidHandle`);
 * - under one of our handle domains (`alice.pds.example` for `.pds.example`):
 *   the local part has no dot (`InvalidHandle`), is 3–18 characters
 *   (`InvalidHandle`), and is not a reserved name (`HandleNotAvailable`);
 * - anywhere else: `UnsupportedDomain` for a new did:plc (nothing can prove
 *   the name is the user's yet); updateHandle instead requires that the
 *   handle already resolves to the account's DID (identity routes).
 * Whether the handle is taken is the account store's check.
 */
import { AtfedError } from '../../core/errors.ts'
import { PDS_SERVICE_HANDLE_LOCAL_LENGTH_MAX, PDS_SERVICE_HANDLE_LOCAL_LENGTH_MIN } from '../../core/limits.ts'
import { ensureResolvableHandle, type Handle } from '../../core/syntax/handle.ts'

/** Names nobody may register under a service domain (they look official or collide with services). */
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'abuse', 'admin', 'administrator', 'api', 'app', 'atproto', 'blog', 'bsky', 'bluesky', 'contact', 'dev', 'docs',
  'ftp', 'help', 'hostmaster', 'imap', 'info', 'mail', 'moderation', 'moderator', 'mod', 'news', 'noc', 'official',
  'pds', 'plc', 'pop', 'postmaster', 'relay', 'root', 'security', 'smtp', 'staff', 'status', 'support', 'sysadmin',
  'system', 'team', 'webmaster', 'www', 'xrpc',
])

/** The handle domain `handle` is under, or null. */
export function serviceDomainOf(handle: string, domains: readonly string[]): string | null {
  return domains.find((domain) => handle.endsWith(domain) && handle.length > domain.length) ?? null
}

/** Syntax + TLD check; returns the lower-cased handle. */
export function normalizeHandle(input: unknown): Handle {
  if (typeof input !== 'string') throw new AtfedError('InvalidHandle', 'handle must be a string')
  return ensureResolvableHandle(input)
}

/** Throws unless `handle` (normalized) is a valid name under one of `domains`. */
export function checkServiceHandle(handle: Handle, domain: string): void {
  const local = handle.slice(0, handle.length - domain.length)
  if (local.includes('.')) throw new AtfedError('InvalidHandle', 'Invalid characters in handle')
  if (local.length < PDS_SERVICE_HANDLE_LOCAL_LENGTH_MIN) throw new AtfedError('InvalidHandle', 'Handle too short')
  if (local.length > PDS_SERVICE_HANDLE_LOCAL_LENGTH_MAX) throw new AtfedError('InvalidHandle', 'Handle too long')
  if (RESERVED_NAMES.has(local)) throw new AtfedError('HandleNotAvailable', 'Reserved handle')
}

/**
 * A handle for a NEW account (no existing DID): it must be under one of our
 * domains. Returns the normalized handle.
 */
export function checkNewAccountHandle(input: unknown, domains: readonly string[]): Handle {
  const handle = normalizeHandle(input)
  const domain = serviceDomainOf(handle, domains)
  if (domain === null) throw new AtfedError('UnsupportedDomain', `Not a supported handle domain: ${handle}`)
  checkServiceHandle(handle, domain)
  return handle
}
