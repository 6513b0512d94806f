/**
 * Upstream host names: what requestCrawl, `--host` and the admin routes take,
 * and the key every host record, cursor and account is filed under.
 *
 * A `HostName` is the URL `host` part, lower-cased: `pds.example.com`, or in
 * dev `127.0.0.1:2583` / `localhost:2583`. The same normalisation is applied
 * to the `#atproto_pds` endpoint of a DID document (`hostOfEndpoint`), so
 * "the account's PDS is the host that sent the event" is one string compare.
 * Including the port matters only in dev (several test PDSes on one address);
 * production hosts are refused with a port.
 *
 * Accepted input: a bare hostname (https is assumed) or an http(s)/ws(s) URL;
 * a path or query is ignored, as indigo does. Without the dev flag:
 * https/wss only ('InsecureHost'), no explicit port ('HostPortNotAllowed'),
 * no IP literal ('HostIsIp'), handle-syntax names only, never `localhost`
 * or a reserved TLD ('InvalidHostname'). Address checks (private IPs behind a
 * public name) happen at connect time in safe-fetch, not here.
 */
import { isIP } from 'node:net'
import { AtfedError } from '../../core/errors.ts'
import { isHandleSyntax, isResolvableHandleTld } from '../../core/syntax/handle.ts'

export type HostName = string & { readonly __brand: 'HostName' }

export type HostAddress = {
  readonly hostname: HostName
  /** https/wss (true) or plain http/ws (dev only). */
  readonly secure: boolean
}

const SCHEMES: { readonly [protocol: string]: boolean } = { 'https:': true, 'wss:': true, 'http:': false, 'ws:': false }
const HOST_INPUT_LENGTH_MAX = 512

function invalid(name: string, message: string): AtfedError {
  return new AtfedError(name, message)
}

/** Parse what a caller names a host with; throws 'InvalidHostname' and friends (see the module header). */
export function parseHostInput(input: string, options: { dev: boolean }): HostAddress {
  const text = input.trim()
  if (text === '' || text.length > HOST_INPUT_LENGTH_MAX) throw invalid('InvalidHostname', 'hostname is empty or too long')
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`)
  } catch {
    throw invalid('InvalidHostname', `not a hostname or URL: ${text.slice(0, 100)}`)
  }
  const secure = SCHEMES[url.protocol]
  if (secure === undefined) throw invalid('InvalidHostname', `unsupported scheme ${url.protocol}`)
  if (url.username !== '' || url.password !== '') throw invalid('InvalidHostname', 'credentials are not allowed in a hostname')
  const hostname = url.host.toLowerCase() as HostName
  if (options.dev) return { hostname, secure }
  if (!secure) throw invalid('InsecureHost', 'hosts must be reached over https/wss')
  if (url.port !== '') throw invalid('HostPortNotAllowed', 'hosts must use the default port')
  const bare = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(bare) !== 0) throw invalid('HostIsIp', 'hosts must be named, not IP addresses')
  if (!isHandleSyntax(bare) || bare === 'localhost' || !isResolvableHandleTld(bare)) {
    throw invalid('InvalidHostname', `not a public hostname: ${bare}`)
  }
  return { hostname, secure }
}

/** The host of a service endpoint URL (a DID document's `#atproto_pds`), normalised like `parseHostInput`. */
export function hostOfEndpoint(endpoint: string | null): HostName | null {
  if (endpoint === null) return null
  try {
    return new URL(endpoint).host.toLowerCase() as HostName
  } catch {
    return null
  }
}

export function hostHttpOrigin(address: HostAddress): string {
  return `${address.secure ? 'https' : 'http'}://${address.hostname}`
}

export function hostStreamUrl(address: HostAddress): string {
  return `${address.secure ? 'wss' : 'ws'}://${address.hostname}/xrpc/com.atproto.sync.subscribeRepos`
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * Whether a DID document's PDS host names the host that sent an event. Equal
 * names, or, with the dev flag only, two loopback spellings with the same
 * port (`localhost:2583` and `127.0.0.1:2583`: a local PDS may announce
 * either while the relay was told the other).
 */
export function hostsMatch(a: HostName | null, b: HostName, options: { dev: boolean }): boolean {
  if (a === b) return true
  if (a === null || !options.dev) return false
  const split = (h: string): [string, string] => {
    const colon = h.lastIndexOf(':')
    return colon > h.lastIndexOf(']') ? [h.slice(0, colon), h.slice(colon + 1)] : [h, '']
  }
  const [nameA, portA] = split(a)
  const [nameB, portB] = split(b)
  return portA === portB && LOOPBACK_NAMES.has(nameA) && LOOPBACK_NAMES.has(nameB)
}
