/**
 * XrpcClient against the demo router and against a misbehaving raw server:
 * params encoding, JSON and bytes in both directions, bearer tokens,
 * `{error, message}` parsed into XrpcClientError, non-XRPC error bodies,
 * time limits, response caps (declared and streamed), redirects refused.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type http from 'node:http'
import { XrpcClient, XrpcClientError } from '../../core/xrpc/client.ts'
import { toXrpcError } from '../../core/xrpc/errors.ts'
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.ts'
import { BLOB_CAP, startDemoServer, type DemoServer } from './demo-server.ts'

let demo: DemoServer
let weird: TestHttpServer
let client: XrpcClient

const weirdRoutes: { [path: string]: http.RequestListener } = {
  '/xrpc/io.example.html500': (_req, res) => {
    res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>oops</h1>')
  },
  '/xrpc/io.example.slow': () => {
    // never answers
  },
  '/xrpc/io.example.big': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ s: 'x'.repeat(5_000) }))
  },
  '/xrpc/io.example.bigChunked': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.write(new Uint8Array(3_000))
    res.end(new Uint8Array(3_000))
  },
  '/xrpc/io.example.badJson': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":')
  },
  '/xrpc/io.example.redirect': (_req, res) => {
    res.writeHead(302, { location: '/xrpc/io.example.big' }).end()
  },
  '/xrpc/io.example.echoHeaders': (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, auth: req.headers.authorization ?? null }))
  },
}

before(async () => {
  demo = await startDemoServer()
  weird = await startHttpServer((req, res) => weirdRoutes[(req.url ?? '').split('?')[0]!]?.(req, res))
  client = new XrpcClient({ service: demo.origin })
})
after(async () => {
  await demo.close()
  await weird.close()
})

async function clientError(promise: Promise<unknown>): Promise<XrpcClientError> {
  try {
    await promise
  } catch (err) {
    assert.ok(err instanceof XrpcClientError, `expected XrpcClientError, got ${String(err)}`)
    assert.equal(err.name, 'XrpcClientError')
    return err
  }
  assert.fail('expected a failure')
}

test('query: params encoded (arrays repeated, booleans, numbers), JSON body parsed', async () => {
  const r = await client.query<{ params: unknown }>('io.example.rawParams', { a: 1, b: ['x', 'y'], c: true, d: undefined })
  assert.equal(r.status, 200)
  assert.equal(r.encoding, 'application/json')
  assert.deepEqual(r.body, { params: { a: '1', b: ['x', 'y'], c: 'true' } })
  const w = new XrpcClient({ service: weird.origin, headers: { 'x-extra': '1' } })
  const echoed = await w.query<{ url: string; auth: string | null }>('io.example.echoHeaders', { q: 'a b' }, { token: 'tok' })
  assert.deepEqual(echoed.body, { url: '/xrpc/io.example.echoHeaders?q=a+b', auth: 'Bearer tok' })
})

test('procedure: JSON input, bytes input with an encoding, no input; bytes output', async () => {
  const json = await client.procedure<{ got: unknown }>('io.example.echoJson', { hello: 'world' })
  assert.deepEqual(json.body, { got: { hello: 'world' } })
  const up = await client.procedure<{ size: number; encoding: string }>('io.example.upload', new Uint8Array(100), { encoding: 'image/png' })
  assert.deepEqual(up.body, { size: 100, encoding: 'image/png' })
  const none = await client.procedure('io.example.noInput')
  assert.equal(none.status, 200)
  const bytes = await client.query<Uint8Array>('io.example.bytes')
  assert.deepEqual(bytes.body, Uint8Array.of(1, 2, 3))
  const chunks: Uint8Array[] = []
  const streamed = await client.queryStream('io.example.stream')
  for await (const chunk of streamed.body) chunks.push(chunk)
  assert.equal(Buffer.concat(chunks).toString(), 'ab')
})

test('XRPC errors are parsed into status, error and message', async () => {
  const nf = await clientError(client.query('io.example.notFound'))
  assert.equal(nf.status, 400)
  assert.equal(nf.error, 'RecordNotFound')
  assert.equal(nf.message, 'Could not locate record')
  const missing = await clientError(client.query('io.example.nope'))
  assert.equal(missing.status, 501)
  assert.equal(missing.error, 'MethodNotImplemented')
  const big = await clientError(client.procedure('io.example.upload', new Uint8Array(BLOB_CAP + 1)))
  assert.equal(big.status, 413)
  assert.equal(big.error, 'PayloadTooLarge')
  const crash = await clientError(client.query('io.example.crash'))
  assert.deepEqual([crash.status, crash.error, crash.message], [500, 'InternalServerError', 'Internal Server Error'])
  // At our own edge, an upstream failure is a 502.
  assert.deepEqual([toXrpcError(crash).status, toXrpcError(crash).name], [502, 'UpstreamFailure'])
})

test('non-XRPC error bodies get the default name for the status', async () => {
  const w = new XrpcClient({ service: weird.origin })
  const err = await clientError(w.query('io.example.html500'))
  assert.equal(err.status, 500)
  assert.equal(err.error, 'InternalServerError')
})

test('time limit, response caps, bad JSON, redirects: status 0 with a transport error name', async () => {
  const w = new XrpcClient({ service: weird.origin, timeoutMs: 200, responseBytesMax: 4_000 })
  const slow = await clientError(w.query('io.example.slow'))
  assert.deepEqual([slow.status, slow.error], [0, 'UpstreamTimeout'])
  const big = await clientError(w.query('io.example.big'))
  assert.deepEqual([big.status, big.error], [0, 'ResponseTooLarge'])
  const chunked = await clientError(w.query('io.example.bigChunked'))
  assert.equal(chunked.error, 'ResponseTooLarge')
  assert.equal((await w.query('io.example.big', {}, { responseBytesMax: 10_000 })).status, 200)
  const bad = await clientError(w.query('io.example.badJson'))
  assert.equal(bad.error, 'InvalidResponse')
  const redirect = await clientError(w.query('io.example.redirect'))
  assert.deepEqual([redirect.status, redirect.error], [0, 'UpstreamFailure'])
  const refused = await clientError(new XrpcClient({ service: 'http://127.0.0.1:1' }).query('io.example.x'))
  assert.equal(refused.error, 'UpstreamFailure')
  const controller = new AbortController()
  controller.abort()
  const aborted = await clientError(w.query('io.example.slow', {}, { signal: controller.signal }))
  assert.equal(aborted.error, 'UpstreamFailure')
})
