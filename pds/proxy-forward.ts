/**
 * The HTTP half of atproto-proxy (proxy.ts decides what to forward where):
 * one request streamed to an upstream service and its answer streamed back,
 * under limits.
 *
 * Always:
 * - the upstream address is checked AT CONNECT TIME (our `lookup` vets every
 *   address of the name; IP-literal hosts are vetted up front): loopback,
 *   private and other non-public addresses are refused unless `allowPrivate`
 *   (the dev flag) — a DID document cannot point the PDS at its own network;
 * - request body ≤ PDS_PROXY_REQUEST_BYTES_MAX (declared or streamed) → else
 *   413 `PayloadTooLarge`;
 * - response headers within PDS_PROXY_HEADERS_TIMEOUT_MS, then no more than
 *   PDS_PROXY_BODY_IDLE_TIMEOUT_MS between body chunks, and at most
 *   PDS_PROXY_RESPONSE_BYTES_MAX bytes (a larger declared length is 502; a
 *   body that grows past it is cut, as the status is already sent);
 * - unreachable, refused, timed out → 502 `UpstreamFailure` (the reference
 *   answers its proxy timeouts the same way); an upstream 4xx/5xx is passed
 *   on with its own `{error, message}`, 500 becoming 502 (reference).
 * Only the headers in FORWARDED_RESPONSE_HEADERS come back. Sockets are
 * pooled (keep-alive): a pooled socket stays connected to an address that
 * was vetted when it was opened.
 */
import http from 'node:http'
import https from 'node:https'
import type { LookupOptions } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import type { Readable } from 'node:stream'
import {
  PDS_PROXY_BODY_IDLE_TIMEOUT_MS,
  PDS_PROXY_ERROR_BODY_BYTES_MAX,
  PDS_PROXY_HEADERS_TIMEOUT_MS,
  PDS_PROXY_REQUEST_BYTES_MAX,
  PDS_PROXY_RESPONSE_BYTES_MAX,
  PDS_PROXY_SOCKETS_PER_HOST_MAX,
} from '../core/limits.ts'
import { DEFAULT_ERROR_NAMES, XrpcError } from '../core/xrpc/errors.ts'
import { systemHostLookup, type HostLookup } from '../did-resolver/host-lookup.ts'
import { classifyAddress } from '../did-resolver/ip-ranges.ts'

export const FORWARDED_RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'atproto-repo-rev',
  'atproto-content-labelers',
  'retry-after',
] as const

export type ForwardRequest = {
  /** Upstream origin (`https://api.example.com`). */
  origin: string
  /** Path and query, as received (`/xrpc/nsid?x=1`). */
  path: string
  method: 'GET' | 'HEAD' | 'POST'
  headers: http.OutgoingHttpHeaders
  /** The request body (POST). */
  body: Readable | null
}

const unreachable = (cause?: unknown): XrpcError =>
  new XrpcError(502, 'UpstreamFailure', 'Upstream service unreachable', cause === undefined ? undefined : { cause })
const tooLarge = (limits: UpstreamLimits): XrpcError =>
  new XrpcError(413, 'PayloadTooLarge', `request body is over ${limits.requestBytesMax} bytes`)
const forbidden = (host: string): XrpcError => new XrpcError(400, 'InvalidRequest', `proxy target ${host} is not a public address`)

function guardedLookup(resolve: HostLookup, allowPrivate: boolean): LookupFunction {
  return (hostname: string, options: LookupOptions, callback): void => {
    resolve(hostname).then(
      (found) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family
        const addresses = family === 4 || family === 6 ? found.filter((a) => a.family === family) : [...found]
        const first = addresses[0]
        if (first === undefined) return callback(unreachable(), '')
        if (!allowPrivate && addresses.some((a) => classifyAddress(a.address) !== 'public')) return callback(forbidden(hostname), '')
        if (options.all === true) callback(null, addresses)
        else callback(null, first.address, first.family)
      },
      (err: unknown) => callback(unreachable(err) as unknown as NodeJS.ErrnoException, ''),
    )
  }
}

export type UpstreamLimits = {
  requestBytesMax: number
  responseBytesMax: number
  headersTimeoutMs: number
  bodyIdleTimeoutMs: number
}

const DEFAULT_LIMITS: UpstreamLimits = {
  requestBytesMax: PDS_PROXY_REQUEST_BYTES_MAX,
  responseBytesMax: PDS_PROXY_RESPONSE_BYTES_MAX,
  headersTimeoutMs: PDS_PROXY_HEADERS_TIMEOUT_MS,
  bodyIdleTimeoutMs: PDS_PROXY_BODY_IDLE_TIMEOUT_MS,
}

export class UpstreamClient {
  readonly #allowPrivate: boolean
  readonly #lookup: LookupFunction
  readonly #limits: UpstreamLimits
  readonly #agents = { http: new http.Agent({ keepAlive: true, maxSockets: PDS_PROXY_SOCKETS_PER_HOST_MAX }), https: new https.Agent({ keepAlive: true, maxSockets: PDS_PROXY_SOCKETS_PER_HOST_MAX }) }

  constructor(options: { allowPrivate: boolean; lookup?: HostLookup; limits?: Partial<UpstreamLimits> }) {
    this.#allowPrivate = options.allowPrivate
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits }
    this.#lookup = guardedLookup(options.lookup ?? systemHostLookup, options.allowPrivate)
  }

  /**
   * Forward `request` and stream the answer into `res`. Rejects with an
   * XrpcError while nothing has been sent to `res`; after that, failures
   * cut the response.
   */
  forward(request: ForwardRequest, res: http.ServerResponse): Promise<void> {
    const url = new URL(request.path, request.origin)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (!this.#allowPrivate && isIP(host) !== 0 && classifyAddress(host) !== 'public') return Promise.reject(forbidden(host))
    const limits = this.#limits
    if (Number(request.headers['content-length'] ?? 0) > limits.requestBytesMax) return Promise.reject(tooLarge(limits))
    const transport = url.protocol === 'https:' ? https : http
    return new Promise<void>((resolve, reject) => {
      const upstream = transport.request(url, {
        method: request.method,
        headers: request.headers,
        agent: url.protocol === 'https:' ? this.#agents.https : this.#agents.http,
        lookup: this.#lookup,
      })
      let failed = false
      const fail = (err: XrpcError): void => {
        if (failed) return
        failed = true
        clearTimeout(headersTimer)
        upstream.destroy()
        if (res.headersSent) res.destroy()
        reject(err)
      }
      const headersTimer = setTimeout(() => fail(unreachable()), limits.headersTimeoutMs)
      upstream.on('error', (err) => fail(err instanceof XrpcError ? err : unreachable(err)))
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy()
      })
      upstream.on('response', (answer) => {
        clearTimeout(headersTimer)
        if (failed) return void answer.destroy()
        relayAnswer(answer, res, limits).then(resolve, (err: XrpcError) => fail(err))
      })
      sendBody(request.body, upstream, limits.requestBytesMax, () => fail(tooLarge(limits)))
    })
  }

  close(): void {
    this.#agents.http.destroy()
    this.#agents.https.destroy()
  }
}

function sendBody(body: Readable | null, upstream: http.ClientRequest, bytesMax: number, onTooLarge: () => void): void {
  if (body === null) return void upstream.end()
  let bytes = 0
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    if (bytes > bytesMax) {
      body.unpipe(upstream)
      onTooLarge()
    }
  })
  body.on('error', () => upstream.destroy())
  body.pipe(upstream)
}

function copyHeaders(answer: http.IncomingMessage, res: http.ServerResponse, names: readonly string[]): void {
  for (const name of names) {
    const value = answer.headers[name]
    if (value !== undefined) res.setHeader(name, value)
  }
}

async function relayAnswer(answer: http.IncomingMessage, res: http.ServerResponse, limits: UpstreamLimits): Promise<void> {
  const status = answer.statusCode ?? 502
  if (status >= 400) throw await upstreamError(answer, status)
  if (Number(answer.headers['content-length'] ?? 0) > limits.responseBytesMax) {
    answer.destroy()
    throw new XrpcError(502, 'UpstreamFailure', 'upstream response too large')
  }
  res.statusCode = status
  copyHeaders(answer, res, FORWARDED_RESPONSE_HEADERS)
  await new Promise<void>((resolve) => {
    let bytes = 0
    let idle = setTimeout(() => cut(), limits.bodyIdleTimeoutMs)
    const cut = (): void => {
      clearTimeout(idle)
      answer.destroy()
      res.destroy()
      resolve()
    }
    answer.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes > limits.responseBytesMax) return cut()
      clearTimeout(idle)
      idle = setTimeout(cut, limits.bodyIdleTimeoutMs)
      res.write(chunk)
    })
    answer.on('end', () => {
      clearTimeout(idle)
      res.end()
      resolve()
    })
    answer.on('error', cut)
    answer.on('aborted', cut)
  })
}

/** The upstream's `{error, message}` (bounded read), status kept (500 → 502). */
async function upstreamError(answer: http.IncomingMessage, status: number): Promise<XrpcError> {
  let text = ''
  try {
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8')
      if (text.length > PDS_PROXY_ERROR_BODY_BYTES_MAX) break
    }
  } catch {
    // a broken error body: the status still says enough
  }
  answer.destroy()
  let parsed: { error?: unknown; message?: unknown } = {}
  try {
    parsed = JSON.parse(text) as typeof parsed
  } catch {
    // not JSON
  }
  const outStatus = status === 500 ? 502 : status
  const name = typeof parsed.error === 'string' && parsed.error !== '' ? parsed.error : (DEFAULT_ERROR_NAMES[outStatus] ?? 'UpstreamFailure')
  const message = typeof parsed.message === 'string' ? parsed.message : `Upstream answered ${status}`
  const headers: { [name: string]: string } = {}
  for (const name of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'] as const) {
    const value = answer.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  return new XrpcError(outStatus, name, message, { headers })
}
