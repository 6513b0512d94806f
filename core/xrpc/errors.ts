/**
 * XRPC errors: the `{ error, message }` body every non-2xx XRPC response
 * carries, with the reference's statuses and names.
 *
 * `XrpcError(status, name, message)` is what handlers throw for bad input.
 * The name is API (clients branch on it: `@atproto/api` refreshes its session
 * on 400 `ExpiredToken`); the message is for humans.
 *
 * At the edge, `toXrpcError` turns anything a handler threw into one:
 * - an XrpcError passes through;
 * - an AtfedError keeps its name, with the status from `STATUS_BY_NAME` or
 *   400 (an AtfedError is bad input by contract, and the reference answers
 *   nearly every named error with 400: RecordNotFound, InvalidSwap, ...);
 * - anything else (our bugs, `assert`, library errors) becomes 500
 *   `InternalServerError`.
 * Every 500 is rendered with a fixed message: details go to the log, never to
 * the client.
 */
import { AtfedError } from '../errors.ts'

/** Default error name per status (reference `@atproto/xrpc` ResponseType). */
export const DEFAULT_ERROR_NAMES: { readonly [status: number]: string } = {
  400: 'InvalidRequest',
  401: 'AuthenticationRequired',
  403: 'Forbidden',
  404: 'XRPCNotSupported',
  405: 'InvalidRequest',
  406: 'NotAcceptable',
  408: 'RequestTimeout',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  429: 'RateLimitExceeded',
  500: 'InternalServerError',
  501: 'MethodNotImplemented',
  502: 'UpstreamFailure',
  503: 'NotEnoughResources',
  504: 'UpstreamTimeout',
}

export const INTERNAL_ERROR_MESSAGE = 'Internal Server Error'

/**
 * Statuses for error names that are not 400. Auth names follow the reference:
 * service-JWT failures are 401; session-token failures (`InvalidToken`,
 * `ExpiredToken`) are 400 and so are absent here.
 */
export const STATUS_BY_NAME: { readonly [name: string]: number } = {
  AuthenticationRequired: 401,
  AuthMissing: 401,
  MissingJwt: 401,
  MissingTokenId: 401,
  BadJwt: 401,
  BadJwtType: 401,
  BadJwtIss: 401,
  BadJwtAudience: 401,
  BadJwtLexiconMethod: 401,
  BadJwtSignature: 401,
  JwtExpired: 401,
  UntrustedIss: 401,
  AccountTakedown: 401,
  AccountDeactivated: 401,
  Forbidden: 403,
  AccountNotFound: 403,
  XRPCNotSupported: 404,
  NotAcceptable: 406,
  RequestTimeout: 408,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  RateLimitExceeded: 429,
  // A lexicon output check failing is our bug (or an upstream's): 500, no detail.
  InvalidResponse: 500,
  InternalServerError: 500,
  NativeCryptoUnavailable: 500,
  StoreUnavailable: 503,
  MethodNotImplemented: 501,
  UpstreamFailure: 502,
  FetchAborted: 502,
  ResponseTooLarge: 502,
  RedirectRefused: 502,
  DnsFailed: 502,
  NotEnoughResources: 503,
  ResolverBusy: 503,
  DirectoryBusy: 503,
  UpstreamTimeout: 504,
  FetchTimeout: 504,
  DnsTimeout: 504,
}

export class XrpcError extends AtfedError {
  readonly status: number
  /** Extra response headers (e.g. `Retry-After` on 429). */
  readonly headers: { readonly [name: string]: string }

  constructor(
    status: number,
    name: string,
    message: string,
    options?: { cause?: unknown; headers?: { [name: string]: string } },
  ) {
    super(name, message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.status = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500
    this.headers = options?.headers ?? {}
  }

  /** The response body: a 500 never carries the original message. */
  payload(): { error: string; message: string } {
    if (this.status === 500) return { error: 'InternalServerError', message: INTERNAL_ERROR_MESSAGE }
    return { error: this.name, message: this.message }
  }
}

export function invalidRequest(message: string, name = 'InvalidRequest'): XrpcError {
  return new XrpcError(400, name, message)
}

export function isXrpcError(err: unknown, name?: string): err is XrpcError {
  return err instanceof XrpcError && (name === undefined || err.name === name)
}

/** What a handler threw, as the XrpcError to render (see the module header). */
export function toXrpcError(err: unknown): XrpcError {
  if (err instanceof XrpcError) return err
  if (err instanceof AtfedError) {
    // A failed call to another service is that service's failure, not the caller's.
    if (err.name === 'XrpcClientError') return new XrpcError(502, 'UpstreamFailure', err.message, { cause: err })
    const status = STATUS_BY_NAME[err.name] ?? 400
    return new XrpcError(status, err.name, err.message, { cause: err })
  }
  return new XrpcError(500, 'InternalServerError', INTERNAL_ERROR_MESSAGE, { cause: err })
}
