/**
 * PDS configuration: command-line flags first, then environment variables,
 * then defaults. Parsed and checked here, once, at the edge; everything past
 * this file takes a `PdsConfig`.
 *
 * Environment variables (each flag has one; `atfed pds --help` lists them):
 *   ATFED_PDS_PORT             listen port (default 2583)
 *   ATFED_PDS_HOST             bind address (default 127.0.0.1; put a TLS proxy in front)
 *   ATFED_PDS_DATA             data directory (required): level db, keys, secrets
 *   ATFED_PDS_HOSTNAME         public host name (default localhost); gives the service DID
 *                              `did:web:<hostname>` and the public URL `https://<hostname>`
 *   ATFED_PDS_PUBLIC_URL       override the public URL written into DID documents
 *   ATFED_PDS_PLC_URL          PLC directory (default https://plc.directory)
 *   ATFED_PDS_HANDLE_DOMAINS   comma list of handle suffixes, each starting with '.'
 *                              (default `.<hostname>`, or `.test` for localhost)
 *   ATFED_PDS_CRAWLERS         comma list of relay URLs to ask for a crawl
 *   ATFED_PDS_INVITE_REQUIRED  `true` to require an invite code at signup (default false)
 *   ATFED_PDS_ADMIN_PASSWORD   password for admin Basic auth (user `admin`); unset: no admin routes
 *   ATFED_PDS_JWT_SECRET       HMAC secret for session tokens; unset: generated once and
 *                              kept in DATA/jwt-secret (mode 0600)
 *   ATFED_PDS_DEV              `true`: allow private addresses, http and `.test` handles when
 *                              resolving identities (local networks and tests only)
 *   ATFED_PDS_BLOB_UPLOAD_LIMIT   largest blob upload in bytes (default 100 MiB)
 *   ATFED_PDS_BACKFILL_WINDOW_MS  how long firehose events stay replayable (default 1 day)
 *   ATFED_PDS_RATE_LIMITS      `false` to switch the reference rate limits off (default on)
 *   ATFED_PDS_CONTACT_EMAIL, ATFED_PDS_PRIVACY_POLICY_URL, ATFED_PDS_TERMS_OF_SERVICE_URL
 *                              reported by describeServer
 *
 * The public URL and service DID depend on the port when the hostname is
 * `localhost` (`http://localhost:<port>`, `did:web:localhost%3A<port>`), so
 * they are computed by `publicUrlFor` / `serviceDidFor` once the server has
 * bound its port (port 0 picks a free one).
 */
import { AtfedError } from '../core/errors.ts'
import { PDS_BACKFILL_WINDOW_MS_DEFAULT, PDS_BLOB_UPLOAD_BYTES_DEFAULT, PDS_LOGIN_DURATION_MIN_MS } from '../core/limits.ts'
import { parseDid, type Did } from '../core/syntax/did.ts'
import { parseHandle } from '../core/syntax/handle.ts'

export const DEFAULT_PDS_PORT = 2583
export const DEFAULT_PDS_PLC_URL = 'https://plc.directory'

export type PdsConfig = {
  readonly port: number
  readonly host: string
  readonly dataDir: string
  /** Lower-case DNS name (or `localhost`). */
  readonly hostname: string
  /** `--public-url`; null: derived from hostname and port. */
  readonly publicUrlOverride: string | null
  readonly plcUrl: string
  /** Each starts with '.', lower-case. */
  readonly handleDomains: readonly string[]
  readonly crawlers: readonly string[]
  readonly inviteRequired: boolean
  readonly adminPassword: string | null
  /** null: generated and persisted in the data directory. */
  readonly jwtSecret: string | null
  readonly dev: boolean
  readonly blobUploadBytesMax: number
  readonly backfillWindowMs: number
  readonly rateLimitsEnabled: boolean
  readonly contactEmail: string | null
  readonly privacyPolicyUrl: string | null
  readonly termsOfServiceUrl: string | null
  /** createSession's minimum duration (timing pad); tests may lower it. */
  readonly loginDurationMinMs: number
}

/** What the CLI hands over: flag values as commander parsed them (strings, booleans, arrays). */
export type PdsFlags = {
  port?: string
  host?: string
  data?: string
  hostname?: string
  publicUrl?: string
  plc?: string
  handleDomain?: string[]
  crawl?: string[]
  inviteRequired?: boolean
  adminPassword?: string
  dev?: boolean
}

type Env = { readonly [name: string]: string | undefined }

function bad(message: string): AtfedError<'InvalidConfig'> {
  return new AtfedError('InvalidConfig', message)
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port > 65_535) throw bad(`not a port number: ${text}`)
  return port
}

function parseBool(name: string, text: string | undefined, dflt: boolean): boolean {
  if (text === undefined || text === '') return dflt
  if (text === 'true' || text === '1') return true
  if (text === 'false' || text === '0') return false
  throw bad(`${name} must be true or false, not ${JSON.stringify(text)}`)
}

function parsePositiveInt(name: string, text: string | undefined, dflt: number): number {
  if (text === undefined || text === '') return dflt
  if (!/^\d{1,15}$/.test(text) || Number(text) <= 0) throw bad(`${name} must be a positive integer`)
  return Number(text)
}

function parseHttpUrl(name: string, text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw bad(`${name} is not a URL: ${text}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`${name} must be http(s): ${text}`)
  return text.replace(/\/+$/, '')
}

function parseOrigin(name: string, text: string): string {
  const url = new URL(parseHttpUrl(name, text))
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw bad(`${name} must be a bare origin: ${text}`)
  return url.origin
}

function parseHostname(text: string): string {
  const host = text.toLowerCase()
  if (host === 'localhost') return host
  try {
    return parseHandle(host) // a DNS name: same syntax as a handle
  } catch {
    throw bad(`not a host name: ${text}`)
  }
}

function splitList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function parseHandleDomains(list: readonly string[], hostname: string): string[] {
  if (list.length === 0) return hostname === 'localhost' ? ['.test'] : [`.${hostname}`]
  return list.map((domain) => {
    const lower = domain.toLowerCase()
    if (!lower.startsWith('.') || lower.length < 2) throw bad(`a handle domain must start with '.': ${domain}`)
    return lower
  })
}

/** Flags over environment over defaults; throws `InvalidConfig`. */
export function readPdsConfig(flags: PdsFlags, env: Env = process.env): PdsConfig {
  const dataDir = flags.data ?? env['ATFED_PDS_DATA']
  if (dataDir === undefined || dataDir === '') throw bad('a data directory is required (--data DIR or ATFED_PDS_DATA)')
  const hostname = parseHostname(flags.hostname ?? env['ATFED_PDS_HOSTNAME'] ?? 'localhost')
  const publicUrl = flags.publicUrl ?? env['ATFED_PDS_PUBLIC_URL']
  const adminPassword = flags.adminPassword ?? env['ATFED_PDS_ADMIN_PASSWORD'] ?? ''
  const jwtSecret = env['ATFED_PDS_JWT_SECRET'] ?? ''
  const crawlers = flags.crawl !== undefined && flags.crawl.length > 0 ? flags.crawl : splitList(env['ATFED_PDS_CRAWLERS'])
  const domains = flags.handleDomain !== undefined && flags.handleDomain.length > 0
    ? flags.handleDomain
    : splitList(env['ATFED_PDS_HANDLE_DOMAINS'])
  const optional = (name: string) => (env[name] === undefined || env[name] === '' ? null : (env[name] as string))
  return {
    port: parsePort(flags.port ?? env['ATFED_PDS_PORT'] ?? String(DEFAULT_PDS_PORT)),
    host: flags.host ?? env['ATFED_PDS_HOST'] ?? '127.0.0.1',
    dataDir,
    hostname,
    publicUrlOverride: publicUrl === undefined || publicUrl === '' ? null : parseOrigin('public URL', publicUrl),
    plcUrl: parseHttpUrl('PLC URL', flags.plc ?? env['ATFED_PDS_PLC_URL'] ?? DEFAULT_PDS_PLC_URL),
    handleDomains: parseHandleDomains(domains, hostname),
    crawlers: crawlers.map((url) => parseHttpUrl('crawler URL', url)),
    inviteRequired: flags.inviteRequired === true || parseBool('ATFED_PDS_INVITE_REQUIRED', env['ATFED_PDS_INVITE_REQUIRED'], false),
    adminPassword: adminPassword === '' ? null : adminPassword,
    jwtSecret: jwtSecret === '' ? null : jwtSecret,
    dev: flags.dev === true || parseBool('ATFED_PDS_DEV', env['ATFED_PDS_DEV'], false),
    blobUploadBytesMax: parsePositiveInt('ATFED_PDS_BLOB_UPLOAD_LIMIT', env['ATFED_PDS_BLOB_UPLOAD_LIMIT'], PDS_BLOB_UPLOAD_BYTES_DEFAULT),
    backfillWindowMs: parsePositiveInt('ATFED_PDS_BACKFILL_WINDOW_MS', env['ATFED_PDS_BACKFILL_WINDOW_MS'], PDS_BACKFILL_WINDOW_MS_DEFAULT),
    rateLimitsEnabled: parseBool('ATFED_PDS_RATE_LIMITS', env['ATFED_PDS_RATE_LIMITS'], true),
    contactEmail: optional('ATFED_PDS_CONTACT_EMAIL'),
    privacyPolicyUrl: optional('ATFED_PDS_PRIVACY_POLICY_URL'),
    termsOfServiceUrl: optional('ATFED_PDS_TERMS_OF_SERVICE_URL'),
    loginDurationMinMs: PDS_LOGIN_DURATION_MIN_MS,
  }
}

/** `https://<hostname>`, or `http://localhost:<port>` for localhost, unless overridden. */
export function publicUrlFor(config: PdsConfig, port: number): string {
  if (config.publicUrlOverride !== null) return config.publicUrlOverride
  return config.hostname === 'localhost' ? `http://localhost:${port}` : `https://${config.hostname}`
}

/** `did:web:<hostname>`; for localhost the port is part of it (`did:web:localhost%3A2583`). */
export function serviceDidFor(config: PdsConfig, port: number): Did {
  return parseDid(config.hostname === 'localhost' ? `did:web:localhost%3A${port}` : `did:web:${config.hostname}`)
}
