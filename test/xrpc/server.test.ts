/**
 * The XRPC router over real HTTP on 127.0.0.1: routing and verbs, params
 * through the lexicon hook, outputs, auth, error rendering (500s without
 * detail), and the rate limit at its edge.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { RATE_POINTS, rawRequest, startDemoServer, type DemoServer } from './demo-server.ts'

let server: DemoServer
before(async () => {
  server = await startDemoServer()
})
after(async () => {
  await server.close()
})

async function call(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${server.origin}${path}`, init)
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, headers: res.headers, json }
}

test('unknown method → 501 MethodNotImplemented; malformed NSID → 400', async () => {
  const r = await call('/xrpc/io.example.nope')
  assert.equal(r.status, 501)
  assert.equal(r.json.error, 'MethodNotImplemented')
  assert.equal(typeof r.json.message, 'string')
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/)
  const bad = await call('/xrpc/not_an_nsid')
  assert.equal(bad.status, 400)
  assert.equal(bad.json.error, 'InvalidRequest')
})

test('wrong HTTP verb → 400 InvalidRequest (reference wording)', async () => {
  const q = await call('/xrpc/io.example.getThing?name=a', { method: 'POST' })
  assert.equal(q.status, 400)
  assert.deepEqual(q.json, { error: 'InvalidRequest', message: 'Incorrect HTTP method (POST) expected GET' })
  const p = await call('/xrpc/io.example.noInput')
  assert.equal(p.status, 400)
  assert.equal(p.json.message, 'Incorrect HTTP method (GET) expected POST')
  const put = await call('/xrpc/io.example.noInput', { method: 'PUT' })
  assert.equal(put.status, 400)
})

test('params: lexicon hook coerces and fills defaults; bad params → 400 naming the param', async () => {
  const ok = await call('/xrpc/io.example.getThing?name=abc&limit=7')
  assert.equal(ok.status, 200)
  assert.deepEqual(ok.json, { params: { name: 'abc', limit: 7 } })
  const dflt = await call('/xrpc/io.example.getThing?name=abc')
  assert.deepEqual(dflt.json, { params: { name: 'abc', limit: 50 } })
  for (const [qs, message] of [
    ['', 'Params/name is required'],
    ['?name=abc&limit=0', 'Params/limit must not be less than 1'],
    ['?name=abc&limit=x', 'Params/limit must be an integer'],
    ['?name=abcdefghijk', 'Params/name must not be longer than 10 bytes'],
  ] as const) {
    const r = await call(`/xrpc/io.example.getThing${qs}`)
    assert.equal(r.status, 400, qs)
    assert.equal(r.json.error, 'InvalidRequest', qs)
    assert.equal(r.json.message, message, qs)
  }
})

test('params without a hook: strings, repeated keys as arrays, __proto__ and floods refused', async () => {
  const r = await call('/xrpc/io.example.rawParams?a=1&b=x&b=y&c=%20+')
  assert.deepEqual(r.json, { params: { a: '1', b: ['x', 'y'], c: '  ' } })
  const proto = await call('/xrpc/io.example.rawParams?__proto__=1')
  assert.equal(proto.status, 400)
  const ok = await call(`/xrpc/io.example.rawParams?${'a=1&'.repeat(999)}a=1`)
  assert.equal(ok.status, 200)
  assert.equal(ok.json.params.a.length, 1_000)
  const flood = await call(`/xrpc/io.example.rawParams?${'a=1&'.repeat(1_000)}a=1`)
  assert.equal(flood.status, 400)
  assert.equal(flood.json.error, 'InvalidRequest')
})

test('outputs: JSON, bytes, stream, empty', async () => {
  const bytes = await fetch(`${server.origin}/xrpc/io.example.bytes`)
  assert.equal(bytes.headers.get('content-type'), 'application/octet-stream')
  assert.deepEqual(new Uint8Array(await bytes.arrayBuffer()), Uint8Array.of(1, 2, 3))
  const stream = await fetch(`${server.origin}/xrpc/io.example.stream`)
  assert.equal(await stream.text(), 'ab')
  const empty = await fetch(`${server.origin}/xrpc/io.example.noInput`, { method: 'POST' })
  assert.equal(empty.status, 200)
  assert.equal(await empty.text(), '')
  const head = await fetch(`${server.origin}/xrpc/io.example.bytes`, { method: 'HEAD' })
  assert.equal(head.status, 200)
})

test('errors: XrpcError and AtfedError keep their names; a plain Error is 500 with no detail, logged', async () => {
  const nf = await call('/xrpc/io.example.notFound')
  assert.equal(nf.status, 400)
  assert.deepEqual(nf.json, { error: 'RecordNotFound', message: 'Could not locate record' })
  const swap = await call('/xrpc/io.example.atfedError')
  assert.equal(swap.status, 400)
  assert.deepEqual(swap.json, { error: 'InvalidSwap', message: 'swap failed' })
  const before = server.internalErrors.length
  const crash = await call('/xrpc/io.example.crash')
  assert.equal(crash.status, 500)
  assert.deepEqual(crash.json, { error: 'InternalServerError', message: 'Internal Server Error' })
  assert.doesNotMatch(JSON.stringify(crash.json), /hunter2|secret/)
  assert.equal(server.internalErrors.length, before + 1)
  assert.match(String(server.internalErrors.at(-1)), /hunter2/)
})

test('auth hook: its result reaches the handler; failure renders its name and status; private caching', async () => {
  const ok = await call('/xrpc/io.example.authed', { headers: { authorization: 'Bearer good' } })
  assert.equal(ok.status, 200)
  assert.deepEqual(ok.json, { who: 'alice' })
  assert.equal(ok.headers.get('cache-control'), 'private')
  assert.equal(ok.headers.get('vary'), 'Authorization')
  const missing = await call('/xrpc/io.example.authed')
  assert.equal(missing.status, 401)
  assert.equal(missing.json.error, 'AuthMissing')
})

test('bodies where none is expected → 400; a bodiless POST with no Content-Type is fine', async () => {
  const r = await call('/xrpc/io.example.noInput', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  assert.equal(r.status, 400)
  assert.equal(r.json.message, 'A request body was provided when none was expected')
  const raw = await rawRequest(server.origin, { method: 'POST', path: '/xrpc/io.example.noInput' })
  assert.equal(raw.status, 200)
  const zero = await rawRequest(server.origin, { method: 'POST', path: '/xrpc/io.example.noInput', headers: { 'content-length': '0' } })
  assert.equal(zero.status, 200)
})

test('rate limit at its edge: the 5th request passes, the 6th is 429 with RateLimit-* and Retry-After', async () => {
  for (let i = 1; i <= RATE_POINTS; i++) {
    const r = await call('/xrpc/io.example.limited')
    assert.equal(r.status, 200, `request ${i}`)
    assert.equal(r.headers.get('ratelimit-limit'), String(RATE_POINTS))
    assert.equal(r.headers.get('ratelimit-remaining'), String(RATE_POINTS - i))
    assert.equal(r.headers.get('ratelimit-policy'), `${RATE_POINTS};w=60`)
    const reset = Number(r.headers.get('ratelimit-reset'))
    assert.ok(reset > Date.now() / 1000 && reset <= Date.now() / 1000 + 61)
  }
  const r = await call('/xrpc/io.example.limited')
  assert.equal(r.status, 429)
  assert.equal(r.json.error, 'RateLimitExceeded')
  assert.equal(r.headers.get('ratelimit-remaining'), '0')
  const retry = Number(r.headers.get('retry-after'))
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  assert.match(r.headers.get('access-control-expose-headers') ?? '', /Retry-After/)
})
