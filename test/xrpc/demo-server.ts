/**
 * A demo XRPC server on 127.0.0.1 for the router tests: a few methods that
 * exercise params (through the real lexicon validator as the params hook),
 * JSON and binary inputs, outputs of every kind, auth, and rate limits.
 * Also a raw HTTP helper for requests fetch cannot make (slow bodies, bad
 * headers).
 */
import http from 'node:http'
import express from 'express'
import { AtfedError } from '../../core/errors.ts'
import { LexiconRegistry } from '../../core/lexicon/registry.ts'
import { parseLexiconDoc } from '../../core/lexicon/schema.ts'
import { validateParams } from '../../core/lexicon/validate.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import { RateLimiter } from '../../core/xrpc/rate-limit.ts'
import { clientIp, createXrpcRouter } from '../../core/xrpc/server.ts'
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.ts'

export const JSON_CAP = 1_000
export const BLOB_CAP = 10_000
export const RATE_POINTS = 5

const registry = new LexiconRegistry()
registry.add(parseLexiconDoc({
  lexicon: 1,
  id: 'io.example.getThing',
  defs: {
    main: {
      type: 'query',
      parameters: {
        type: 'params',
        required: ['name'],
        properties: { name: { type: 'string', maxLength: 10 }, limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
      },
      output: { encoding: 'application/json' },
    },
  },
}))

export type DemoServer = TestHttpServer & { internalErrors: unknown[]; limiter: RateLimiter }

export async function startDemoServer(): Promise<DemoServer> {
  const internalErrors: unknown[] = []
  const limiter = new RateLimiter({ buckets: { global: { points: RATE_POINTS, windowMs: 60_000 } } })
  const router = createXrpcRouter({
    rateLimiter: limiter,
    onInternalError: (err) => internalErrors.push(err),
  })
  router.query('io.example.getThing', ({ params }) => ({ encoding: 'application/json', body: { params } }), {
    params: (raw, nsid) => validateParams(registry, nsid, raw),
  })
  router.query('io.example.rawParams', ({ params }) => ({ encoding: 'application/json', body: { params } }))
  router.procedure('io.example.echoJson', ({ input }) => ({ encoding: 'application/json', body: { got: input?.body } }), {
    input: { kind: 'json', bytesMax: JSON_CAP },
  })
  router.procedure('io.example.upload', async ({ input }) => {
    let size = 0
    for await (const chunk of input!.body as AsyncIterable<Buffer>) size += chunk.length
    return { encoding: 'application/json', body: { size, encoding: input!.encoding } }
  }, { input: { kind: 'bytes', bytesMax: BLOB_CAP, timeoutMs: 500 } })
  router.procedure('io.example.noInput', () => undefined)
  router.query('io.example.bytes', () => ({ encoding: 'application/octet-stream', body: Uint8Array.of(1, 2, 3) }))
  router.query('io.example.stream', () => ({
    encoding: 'text/plain',
    body: (async function* () {
      yield Buffer.from('a')
      yield Buffer.from('b')
    })(),
  }))
  router.query('io.example.crash', () => {
    throw new Error('secret detail: db password is hunter2')
  })
  router.query('io.example.notFound', () => {
    throw new XrpcError(400, 'RecordNotFound', 'Could not locate record')
  })
  router.query('io.example.atfedError', () => {
    throw new AtfedError('InvalidSwap', 'swap failed')
  })
  router.query('io.example.authed', ({ auth }) => ({ encoding: 'application/json', body: { who: auth } }), {
    auth: ({ req }) => {
      if (req.headers.authorization !== 'Bearer good') throw new AtfedError('AuthMissing', 'Authentication Required')
      return 'alice'
    },
  })
  router.query('io.example.limited', () => ({ encoding: 'application/json', body: {} }), {
    rateLimits: [{ bucket: 'global', key: (ctx) => clientIp(ctx) }],
  })
  const app = express()
  app.use(router.middleware)
  const server = await startHttpServer(app)
  return Object.assign(server, { internalErrors, limiter })
}

export type RawResponse = { status: number; headers: http.IncomingHttpHeaders; body: string }

/**
 * One raw HTTP request. `chunks` are written in order with `gapMs` between
 * them; `end: false` leaves the body open (a stalled client).
 */
export function rawRequest(
  origin: string,
  opts: { method: string; path: string; headers?: http.OutgoingHttpHeaders; chunks?: Uint8Array[]; gapMs?: number; end?: boolean },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}${opts.path}`, { method: opts.method, headers: opts.headers ?? {} }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    const chunks = opts.chunks ?? []
    let i = 0
    const writeNext = () => {
      if (i < chunks.length) {
        req.write(chunks[i++])
        setTimeout(writeNext, opts.gapMs ?? 0)
      } else if (opts.end !== false) {
        req.end()
      }
    }
    writeNext()
  })
}
