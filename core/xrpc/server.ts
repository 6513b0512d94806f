/**
 * The XRPC router: `/xrpc/<nsid>` for express, one handler per method.
 *
 * A request goes through these steps; the first failure is rendered as
 * `{error, message}` (respond.ts) and ends it:
 * 1. the NSID from the path (400 if malformed); an unregistered method is
 *    501 `MethodNotImplemented`, or goes to `next()` with `unknownMethods:
 *    'next'` (the PDS's catch-all proxy);
 * 2. the verb: GET/HEAD for queries, POST for procedures; a wrong verb is 400
 *    `InvalidRequest` "Incorrect HTTP method", as the reference answers;
 * 3. router-wide rate limits (e.g. `global` per IP), unless bypassed;
 * 4. the method's `auth` hook (its result reaches the handler as `auth`;
 *    authenticated responses get `Cache-Control: private`, `Vary: Authorization`);
 * 5. params: the query string (params.ts), then the `params` hook (lexicon);
 * 6. the body as the method's `input` spec says (input.ts), then the
 *    `validateInput` hook for JSON;
 * 7. the method's own rate limits (they may price the input, e.g. applyWrites);
 * 8. the handler; its output through `validateOutput` (JSON), then sent.
 * Hooks set on the router (`defaults`) apply to every method unless the
 * method sets its own, or `null` to switch one off. With a LexiconRegistry:
 * `params: (raw, nsid) => validateParams(registry, nsid, raw)` and
 * `validateInput: (body, nsid) => validateInput(registry, nsid, jsonToLex(body))`;
 * the router itself knows nothing about lexicons or the data model.
 *
 * Errors thrown anywhere become XrpcErrors (errors.ts `toXrpcError`): 500s are
 * logged through `onInternalError` and rendered without detail. An unread
 * request body is abandoned with `Connection: close` (body.ts).
 * Subscriptions (WebSocket) are not served here.
 */
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import express from 'express'
import { assert } from '../errors.ts'
import { isNsid, type Nsid } from '../syntax/nsid.ts'
import { discardRequestBody } from './body.ts'
import { XrpcError, invalidRequest, toXrpcError } from './errors.ts'
import { readInput, type InputSpec, type XrpcInput } from './input.ts'
import { parseQueryParams, type RawParams } from './params.ts'
import { enforceRateLimits, type RateLimiter } from './rate-limit.ts'
import { sendError, sendOutput, type XrpcOutput } from './respond.ts'

export type { InputSpec, XrpcInput } from './input.ts'
export type { RawParams } from './params.ts'
export type { XrpcOutput } from './respond.ts'

/**
 * What a handler gets as `params`: the raw query params (params.ts) or
 * whatever the `params` hook returned. Handlers that know their hook name a
 * precise type with the second type argument of `query`/`procedure`.
 */
export type XrpcParams = { readonly [name: string]: unknown }

export type XrpcRequest = { readonly req: express.Request; readonly res: express.Response; readonly nsid: Nsid }

export type XrpcHandlerContext<A = unknown, P = XrpcParams> = XrpcRequest & {
  readonly params: P
  readonly input: XrpcInput | undefined
  readonly auth: A
  /** Aborted when the client goes away before the response is finished. */
  readonly signal: AbortSignal
}

export type XrpcHandler<A = unknown, P = XrpcParams> = (
  ctx: XrpcHandlerContext<A, P>,
) => Promise<XrpcOutput | undefined | void> | XrpcOutput | undefined | void

export type RateLimitRule<C> = {
  readonly bucket: string
  /** What to count against (an IP, a DID); `null` skips the rule for this request. */
  readonly key: (ctx: C) => string | null
  /** Points this request costs; default 1. */
  readonly points?: (ctx: C) => number
}

export type ParamsHook = (raw: RawParams, nsid: Nsid) => unknown
export type BodyHook = (body: unknown, nsid: Nsid) => unknown

export type ValidationHooks = {
  /** Coerce and check params (e.g. lexicon `validateParams`); returns what the handler gets. */
  params?: ParamsHook | null
  /** Check a JSON input; returns what the handler gets. */
  validateInput?: BodyHook | null
  /** Check a JSON output; returns what is sent. */
  validateOutput?: BodyHook | null
}

export type MethodOptions<A = unknown> = ValidationHooks & {
  auth?: (request: XrpcRequest) => Promise<A> | A
  /** Procedures only; absent means no body is allowed. */
  input?: InputSpec
  rateLimits?: readonly RateLimitRule<XrpcHandlerContext<A, unknown>>[]
}

export type XrpcRouterOptions = {
  defaults?: ValidationHooks
  rateLimiter?: RateLimiter
  /** Rules applied to every method before auth (e.g. `global` per IP). */
  globalRateLimits?: readonly RateLimitRule<XrpcRequest>[]
  /** True to skip every rate limit for this request (bypass key or IP). */
  rateLimitBypass?: (req: express.Request) => boolean
  /** `reject` (default): 501 MethodNotImplemented; `next`: leave it to later middleware. */
  unknownMethods?: 'reject' | 'next'
  /** Where 500s go; default console.error. */
  onInternalError?: (err: unknown, request: { nsid: string; method: string }) => void
}

type MethodType = 'query' | 'procedure'
type Registered = { type: MethodType; handler: XrpcHandler<unknown, unknown>; opts: MethodOptions<unknown> }

export class XrpcRouter {
  /** Mount with `app.use(router.middleware)`. */
  readonly middleware: express.Router
  readonly #methods = new Map<string, Registered>()
  readonly #opts: XrpcRouterOptions

  constructor(opts: XrpcRouterOptions = {}) {
    this.#opts = opts
    this.middleware = express.Router()
    this.middleware.all('/xrpc/:nsid', (req, res, next) => {
      void this.#dispatch(req, res, next)
    })
  }

  query<A = unknown, P = XrpcParams>(nsid: string, handler: XrpcHandler<A, P>, opts?: MethodOptions<A>): this {
    return this.#add('query', nsid, handler, opts)
  }

  procedure<A = unknown, P = XrpcParams>(nsid: string, handler: XrpcHandler<A, P>, opts?: MethodOptions<A>): this {
    return this.#add('procedure', nsid, handler, opts)
  }

  /** Registered NSIDs. */
  methods(): string[] {
    return [...this.#methods.keys()]
  }

  #add<A, P>(type: MethodType, nsid: string, handler: XrpcHandler<A, P>, opts: MethodOptions<A> | undefined): this {
    assert(isNsid(nsid), `not an NSID: ${nsid}`)
    assert(!this.#methods.has(nsid), `XRPC method registered twice: ${nsid}`)
    assert(type === 'procedure' || opts?.input === undefined, `a query takes no input: ${nsid}`)
    this.#methods.set(nsid, { type, handler, opts: opts ?? {} } as unknown as Registered)
    return this
  }

  /**
   * Serve one request directly, without the express router: `req.params.nsid`
   * must be set (pds/xrpc-fast-path.ts routes registered methods this way).
   */
  dispatch(req: express.Request, res: express.Response, next: express.NextFunction): Promise<void> {
    return this.#dispatch(req, res, next)
  }

  async #dispatch(req: express.Request, res: express.Response, next: express.NextFunction): Promise<void> {
    const nsidParam = req.params['nsid']
    const nsidText = typeof nsidParam === 'string' ? nsidParam : ''
    const method = this.#methods.get(nsidText)
    if (method === undefined && this.#opts.unknownMethods === 'next') return next()
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    let input: XrpcInput | undefined
    try {
      if (!isNsid(nsidText)) throw invalidRequest('invalid xrpc path')
      if (method === undefined) throw new XrpcError(501, 'MethodNotImplemented', 'Method Not Implemented')
      const request: XrpcRequest = { req, res, nsid: nsidText }
      checkVerb(req.method, method.type)
      const bypass = this.#opts.rateLimitBypass?.(req) === true
      if (!bypass) this.#charge(this.#opts.globalRateLimits, request)
      const auth = await this.#authenticate(method.opts, request)
      const rawParams = parseQueryParams(req.originalUrl)
      const paramsHook = this.#hook('params', method.opts)
      const params = paramsHook ? paramsHook(rawParams, request.nsid) : rawParams
      input = await readInput(req, method.opts.input)
      input = this.#checkInput(input, method.opts, request.nsid)
      const ctx = { ...request, params, input, auth, signal: abort.signal }
      if (!bypass) this.#charge(method.opts.rateLimits, ctx)
      const output = (await method.handler(ctx)) ?? undefined
      const checked = this.#checkOutput(output, method.opts, request.nsid)
      discardRequestBody(req, res)
      await sendOutput(res, checked)
    } catch (err) {
      discardRequestBody(req, res)
      this.#fail(req, res, err, abort.signal.aborted)
    } finally {
      if (input !== undefined && input.body instanceof Readable) input.body.destroy()
    }
  }

  async #authenticate(opts: MethodOptions<unknown>, request: XrpcRequest): Promise<unknown> {
    if (opts.auth === undefined) return undefined
    request.res.setHeader('Cache-Control', 'private')
    request.res.setHeader('Vary', 'Authorization')
    return await opts.auth(request)
  }

  #hook<K extends keyof ValidationHooks>(name: K, opts: ValidationHooks): ValidationHooks[K] {
    return opts[name] === undefined ? this.#opts.defaults?.[name] : opts[name]
  }

  #checkInput(input: XrpcInput | undefined, opts: MethodOptions<unknown>, nsid: Nsid): XrpcInput | undefined {
    const hook = this.#hook('validateInput', opts)
    if (input === undefined || input.encoding !== 'application/json' || !hook) return input
    return { encoding: 'application/json', body: hook(input.body, nsid) }
  }

  #checkOutput(output: XrpcOutput | undefined, opts: MethodOptions<unknown>, nsid: Nsid): XrpcOutput | undefined {
    const hook = this.#hook('validateOutput', opts)
    if (output === undefined || output.encoding !== 'application/json' || !hook) return output
    return { ...output, encoding: 'application/json', body: hook(output.body, nsid) }
  }

  #charge<C>(rules: readonly RateLimitRule<C>[] | undefined, ctx: C & { res: ServerResponse }): void {
    const limiter = this.#opts.rateLimiter
    if (limiter === undefined || rules === undefined || rules.length === 0) return
    const charges = []
    for (const rule of rules) {
      const key = rule.key(ctx)
      if (key !== null) charges.push({ bucket: rule.bucket, key, points: rule.points?.(ctx) ?? 1 })
    }
    enforceRateLimits(limiter, ctx.res, charges)
  }

  #fail(req: express.Request, res: ServerResponse, err: unknown, clientGone: boolean): void {
    const xrpcErr = toXrpcError(err)
    if (xrpcErr.status === 500 && !clientGone) {
      const log = this.#opts.onInternalError ?? defaultLog
      log(err, { nsid: String(req.params['nsid'] ?? ''), method: req.method })
    }
    sendError(res, xrpcErr)
  }
}

function checkVerb(verb: string | undefined, type: MethodType): void {
  const expected = type === 'query' ? 'GET' : 'POST'
  if (verb === expected || (type === 'query' && verb === 'HEAD')) return
  throw invalidRequest(`Incorrect HTTP method (${verb ?? '?'}) expected ${expected}`)
}

function defaultLog(err: unknown, request: { nsid: string; method: string }): void {
  console.error(`xrpc: internal error in ${request.method} ${request.nsid}:`, err)
}

export function createXrpcRouter(opts?: XrpcRouterOptions): XrpcRouter {
  return new XrpcRouter(opts)
}

/** The client address, for per-IP rate-limit keys (express `req.ip` honours `trust proxy`). */
export function clientIp(request: XrpcRequest): string {
  return request.req.ip ?? request.req.socket.remoteAddress ?? 'unknown'
}
