/**
 * A small XRPC client over fetch, for CLIs, tests and service-to-service
 * calls (relay → PDS, PDS → PLC/AppView).
 *
 * Every call is bounded: a time limit for the whole exchange (headers and
 * body; default XRPC_CLIENT_TIMEOUT_MS), a response size cap (default
 * XRPC_CLIENT_RESPONSE_BYTES_MAX; a larger Content-Length is refused before
 * reading), redirects refused (an XRPC endpoint does not move, and following
 * one could walk a server-side caller somewhere it should not go).
 *
 * Failures are one error type, `XrpcClientError {status, error, message}`:
 * a non-2xx response gives its status and the `{error, message}` of its body
 * (or the default name for the status when the body is not XRPC JSON); with
 * no usable response `status` is 0 and `error` is `UpstreamTimeout`,
 * `UpstreamFailure` (network), `ResponseTooLarge` or `InvalidResponse`
 * (a 2xx JSON body that does not parse).
 */
import { AtfedError } from '../errors.ts'
import { XRPC_CLIENT_ERROR_BYTES_MAX, XRPC_CLIENT_RESPONSE_BYTES_MAX, XRPC_CLIENT_TIMEOUT_MS } from '../limits.ts'
import { DEFAULT_ERROR_NAMES } from './errors.ts'
import { formatQueryParams } from './params.ts'

export class XrpcClientError extends AtfedError<'XrpcClientError'> {
  /** HTTP status, or 0 when there was no usable response. */
  readonly status: number
  /** The XRPC error name (`InvalidRequest`, `RecordNotFound`, `UpstreamTimeout`, ...). */
  readonly error: string
  constructor(status: number, error: string, message: string, options?: { cause?: unknown }) {
    super('XrpcClientError', message, options)
    this.status = status
    this.error = error
  }
}

export type QueryParams = { readonly [name: string]: string | number | boolean | readonly (string | number | boolean)[] | undefined }

export type CallOptions = {
  params?: QueryParams
  headers?: { readonly [name: string]: string }
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string
  timeoutMs?: number
  responseBytesMax?: number
  signal?: AbortSignal
  /** Content-Type of a bytes input; default application/octet-stream. */
  encoding?: string
}

export type XrpcResponse<T> = {
  readonly status: number
  readonly headers: Headers
  /** Media type of the body, without parameters. */
  readonly encoding: string | undefined
  /** Parsed JSON for `application/json`, else the bytes. */
  readonly body: T
}

export type XrpcClientOptions = {
  /** Origin of the service, e.g. `https://pds.example.com`. */
  service: string | URL
  headers?: { readonly [name: string]: string }
  timeoutMs?: number
  responseBytesMax?: number
  fetch?: typeof fetch
}

type RequestBody = Uint8Array | ReadableStream<Uint8Array>

export class XrpcClient {
  readonly service: URL
  readonly #opts: XrpcClientOptions

  constructor(opts: XrpcClientOptions) {
    this.service = new URL(opts.service)
    this.#opts = opts
  }

  /** GET a query. */
  async query<T = unknown>(nsid: string, params?: QueryParams, opts?: CallOptions): Promise<XrpcResponse<T>> {
    return await this.#call<T>('GET', nsid, undefined, { ...opts, params: params ?? opts?.params })
  }

  /** POST a procedure: `input` is JSON, or bytes/stream sent as `opts.encoding`; undefined sends no body. */
  async procedure<T = unknown>(nsid: string, input?: unknown, opts?: CallOptions): Promise<XrpcResponse<T>> {
    return await this.#call<T>('POST', nsid, input, opts ?? {})
  }

  /** GET a query and stream its body (a CAR from getRepo): size cap and time limit apply while iterating. */
  async queryStream(nsid: string, params?: QueryParams, opts?: CallOptions): Promise<XrpcResponse<AsyncIterable<Uint8Array>>> {
    const { res, signal, bytesMax } = await this.#fetch('GET', nsid, undefined, { ...opts, params: params ?? opts?.params })
    if (!res.ok) throw await responseError(res)
    return { status: res.status, headers: res.headers, encoding: mediaType(res), body: cappedChunks(res, bytesMax, signal) }
  }

  async #call<T>(method: string, nsid: string, input: unknown, opts: CallOptions): Promise<XrpcResponse<T>> {
    const { res, signal, bytesMax } = await this.#fetch(method, nsid, input, opts)
    if (!res.ok) throw await responseError(res)
    const bytes = await readCapped(res, bytesMax, signal)
    const encoding = mediaType(res)
    if (encoding !== 'application/json') return { status: res.status, headers: res.headers, encoding, body: bytes as T }
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    } catch (err) {
      throw new XrpcClientError(0, 'InvalidResponse', 'response body is not valid JSON', { cause: err })
    }
    return { status: res.status, headers: res.headers, encoding, body: body as T }
  }

  async #fetch(method: string, nsid: string, input: unknown, opts: CallOptions) {
    const url = new URL(`/xrpc/${nsid}${formatQueryParams(opts.params ?? {})}`, this.service)
    const headers = new Headers(this.#opts.headers)
    for (const [name, value] of Object.entries(opts.headers ?? {})) headers.set(name, value)
    if (opts.token !== undefined) headers.set('Authorization', `Bearer ${opts.token}`)
    let body: RequestBody | string | undefined
    if (input instanceof Uint8Array || input instanceof ReadableStream) {
      body = input as RequestBody
      headers.set('Content-Type', opts.encoding ?? 'application/octet-stream')
    } else if (input !== undefined) {
      body = JSON.stringify(input)
      headers.set('Content-Type', 'application/json')
    }
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.#opts.timeoutMs ?? XRPC_CLIENT_TIMEOUT_MS)
    const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal])
    const bytesMax = opts.responseBytesMax ?? this.#opts.responseBytesMax ?? XRPC_CLIENT_RESPONSE_BYTES_MAX
    const doFetch = this.#opts.fetch ?? fetch
    const init: RequestInit & { duplex?: 'half' } = { method, headers, signal, redirect: 'error' }
    if (body !== undefined) init.body = body
    if (body instanceof ReadableStream) init.duplex = 'half'
    try {
      return { res: await doFetch(url, init), signal, bytesMax }
    } catch (err) {
      throw transportError(err, signal)
    }
  }
}

function transportError(err: unknown, signal: AbortSignal): XrpcClientError {
  if (err instanceof XrpcClientError) return err
  if (signal.aborted) {
    const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError'
    return new XrpcClientError(0, timedOut ? 'UpstreamTimeout' : 'UpstreamFailure', timedOut ? 'request timed out' : 'request aborted', { cause: err })
  }
  return new XrpcClientError(0, 'UpstreamFailure', `request failed: ${causeText(err)}`, { cause: err })
}

/** fetch's own message is only "fetch failed"; the reason (`connect ECONNREFUSED 127.0.0.1:9`) is in its cause. */
function causeText(err: unknown): string {
  const message = (err as Error)?.message ?? String(err)
  const cause = (err as { cause?: unknown })?.cause
  const reason = cause instanceof Error ? cause.message : undefined
  return reason === undefined || reason === '' || message.includes(reason) ? message : `${message} (${reason})`
}

function mediaType(res: Response): string | undefined {
  const type = res.headers.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase()
  return type === '' ? undefined : type
}

function tooLarge(bytesMax: number): XrpcClientError {
  return new XrpcClientError(0, 'ResponseTooLarge', `response body is larger than ${bytesMax} bytes`)
}

async function* cappedChunks(res: Response, bytesMax: number, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > bytesMax) {
    await res.body?.cancel().catch(() => {})
    throw tooLarge(bytesMax)
  }
  if (res.body === null) return
  const reader = res.body.getReader()
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      total += value.byteLength
      if (total > bytesMax) throw tooLarge(bytesMax)
      yield value
    }
  } catch (err) {
    throw transportError(err, signal)
  } finally {
    await reader.cancel().catch(() => {})
  }
}

async function readCapped(res: Response, bytesMax: number, signal: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of cappedChunks(res, bytesMax, signal)) chunks.push(chunk)
  return new Uint8Array(Buffer.concat(chunks))
}

async function responseError(res: Response): Promise<XrpcClientError> {
  const fallbackName = DEFAULT_ERROR_NAMES[res.status] ?? (res.status >= 500 ? 'UpstreamFailure' : 'InvalidRequest')
  let error = fallbackName
  let message = res.statusText || `HTTP ${res.status}`
  try {
    const bytes = await readCapped(res, XRPC_CLIENT_ERROR_BYTES_MAX, AbortSignal.timeout(XRPC_CLIENT_TIMEOUT_MS))
    const body: unknown = JSON.parse(new TextDecoder().decode(bytes))
    if (typeof body === 'object' && body !== null) {
      const { error: e, message: m } = body as { error?: unknown; message?: unknown }
      if (typeof e === 'string' && e !== '') error = e.slice(0, 256)
      if (typeof m === 'string') message = m.slice(0, 4_096)
    }
  } catch {
    // Not XRPC JSON (a proxy's HTML page, a cut connection): keep the defaults.
  }
  return new XrpcClientError(res.status, error, message)
}
