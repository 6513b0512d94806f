/**
 * A bounded HTTP(S) GET for identity lookups (DID documents, well-known
 * handle files) whose URLs come from strangers.
 *
 * What it always does:
 * - one deadline (`timeoutMs`) for the whole exchange: DNS, connect, TLS,
 *   headers and body, so a server that trickles bytes forever still fails
 *   with `FetchTimeout`;
 * - a body cap (`bytesMax`): a larger Content-Length, or more streamed bytes,
 *   aborts with `ResponseTooLarge` without buffering the rest;
 * - never follows a redirect: any 3xx is `RedirectRefused`;
 * - refuses non-public addresses (`ip-ranges.ts`) with `ForbiddenAddress`,
 *   unless `allowPrivateAddresses` (the dev flag) is set.
 *
 * The address check runs AT CONNECT TIME: node:http is handed our own
 * `lookup`, which resolves the name and vets every address before the socket
 * dials it, so a name that re-binds to 127.0.0.1 between a check and the
 * connect is still caught. Node skips `lookup` for IP-literal hosts, so
 * those are vetted up front. If any address of a name is non-public the name
 * is refused (no "pick the public one": a mixed answer is an attack or a
 * misconfiguration).
 *
 * Non-2xx answers fail with `FetchFailed` carrying `status` and the start of
 * the body (callers map 404/410). Sockets are not pooled (`agent: false`)
 * unless the caller passes an agent for a trusted destination: identity
 * fetches to strangers are rare (cached) and a pooled socket would outlive
 * the address check.
 */
import http from 'node:http'
import https from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import type { LookupOptions } from 'node:dns'
import { isIP } from 'node:net'
import type { LookupFunction } from 'node:net'
import { AtfedError } from '../core/errors.ts'
import { IDENTITY_FETCH_TIMEOUT_MS } from '../core/limits.ts'
import { classifyAddress } from './ip-ranges.ts'
import { systemHostLookup } from './host-lookup.ts'
import type { HostLookup } from './host-lookup.ts'

export type SafeFetchOptions = {
  /** Largest body accepted, in bytes. */
  bytesMax: number
  timeoutMs?: number
  accept?: string
  /** The dev flag: allow loopback, private and other non-public addresses. */
  allowPrivateAddresses?: boolean
  /** How host names become addresses; the system resolver by default. */
  lookup?: HostLookup
  signal?: AbortSignal
  /** A pooled agent, for TRUSTED destinations only (the configured PLC directory). */
  agent?: http.Agent
}

export type SafeFetchResponse = {
  status: number
  headers: IncomingHttpHeaders
  body: Uint8Array
}

/** Text kept from a non-2xx body, for error messages and status mapping. */
const ERROR_BODY_CHARS_MAX = 512

export class FetchFailedError extends AtfedError<'FetchFailed'> {
  /** HTTP status, or null when no response arrived. */
  readonly status: number | null
  readonly bodyText: string
  constructor(message: string, options: { status?: number | null; bodyText?: string; cause?: unknown } = {}) {
    super('FetchFailed', message, { cause: options.cause })
    this.status = options.status ?? null
    this.bodyText = options.bodyText ?? ''
  }
}

function forbidden(host: string, address: string): AtfedError<'ForbiddenAddress'> {
  return new AtfedError(
    'ForbiddenAddress',
    `${host} resolves to ${address} (${classifyAddress(address)}), not a public address`,
  )
}

/** A node:net `lookup` that refuses non-public addresses before the socket dials. */
function guardedLookup(resolve: HostLookup, allowPrivate: boolean): LookupFunction {
  return (hostname: string, options: LookupOptions, callback): void => {
    resolve(hostname).then(
      (found) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family
        const addresses = family === 4 || family === 6 ? found.filter((a) => a.family === family) : [...found]
        const first = addresses[0]
        if (first === undefined) return callback(new FetchFailedError(`${hostname} has no address`), '')
        const bad = allowPrivate ? undefined : addresses.find((a) => classifyAddress(a.address) !== 'public')
        if (bad !== undefined) return callback(forbidden(hostname, bad.address), '')
        if (options.all === true) callback(null, addresses)
        else callback(null, first.address, first.family)
      },
      (err: unknown) => callback(new FetchFailedError(`cannot resolve ${hostname}`, { cause: err }), ''),
    )
  }
}

function parseTarget(url: string, allowPrivate: boolean): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new AtfedError('InvalidUrl', `not a URL: ${url}`, { cause: err })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new AtfedError('InvalidUrl', `only http(s) URLs can be fetched: ${parsed.protocol}`)
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new AtfedError('InvalidUrl', 'URLs with credentials are refused')
  }
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname
  if (!allowPrivate && isIP(host) !== 0 && classifyAddress(host) !== 'public') throw forbidden(host, host)
  return parsed
}

/** GET `url` under the limits above; resolves only for a 2xx answer. */
export async function safeFetch(url: string, options: SafeFetchOptions): Promise<SafeFetchResponse> {
  const allowPrivate = options.allowPrivateAddresses === true
  const target = parseTarget(url, allowPrivate)
  const timeoutMs = options.timeoutMs ?? IDENTITY_FETCH_TIMEOUT_MS
  const transport = target.protocol === 'https:' ? https : http
  return await new Promise<SafeFetchResponse>((resolve, reject) => {
    let settled = false
    const settle = (err: Error | null, value?: SafeFetchResponse): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if (err !== null) {
        req.destroy()
        reject(err)
      } else resolve(value as SafeFetchResponse)
    }
    const onAbort = (): void => settle(new AtfedError('FetchAborted', `fetch of ${target.href} aborted`))
    const timer = setTimeout(
      () => settle(new AtfedError('FetchTimeout', `no complete answer from ${target.host} within ${timeoutMs} ms`)),
      timeoutMs,
    )
    const req = transport.request(target, {
      method: 'GET',
      agent: options.agent ?? false,
      headers: { accept: options.accept ?? '*/*', 'accept-encoding': 'identity' },
      lookup: guardedLookup(options.lookup ?? systemHostLookup, allowPrivate),
    })
    if (options.signal?.aborted === true) onAbort()
    options.signal?.addEventListener('abort', onAbort)
    req.on('error', (err) => {
      settle(err instanceof AtfedError ? err : new FetchFailedError(`cannot fetch ${target.href}: ${err.message}`, { cause: err }))
    })
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      if (status >= 300 && status < 400) {
        return settle(new AtfedError('RedirectRefused', `${target.href} answered ${status}; redirects are not followed`))
      }
      readBody(res, options.bytesMax, target).then((body) => {
        if (status >= 200 && status < 300) return settle(null, { status, headers: res.headers, body })
        const bodyText = Buffer.from(body).toString('utf8', 0, ERROR_BODY_CHARS_MAX)
        settle(new FetchFailedError(`${target.href} answered ${status}`, { status, bodyText }))
      }, (err: Error) => settle(err))
    })
    req.end()
  })
}

function readBody(res: http.IncomingMessage, bytesMax: number, target: URL): Promise<Uint8Array> {
  const tooLarge = (): AtfedError =>
    new AtfedError('ResponseTooLarge', `${target.href} sent more than ${bytesMax} bytes`)
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length'] ?? 0)
    if (declared > bytesMax) return reject(tooLarge())
    const chunks: Buffer[] = []
    let total = 0
    res.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > bytesMax) {
        reject(tooLarge())
        return res.destroy()
      }
      chunks.push(chunk)
    })
    res.on('end', () => resolve(Buffer.concat(chunks, total)))
    res.on('error', (err) => reject(new FetchFailedError(`reading ${target.href} failed`, { cause: err })))
    res.on('aborted', () => reject(new FetchFailedError(`${target.href} closed the connection mid-body`)))
  })
}
