import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { safeFetch, FetchFailedError } from '../../did-resolver/safe-fetch.ts'
import { makeDnsResolver, resolverHostLookup } from '../../did-resolver/host-lookup.ts'
import type { HostLookup } from '../../did-resolver/host-lookup.ts'
import { startHttpServer } from '../helpers/http-server.ts'
import type { TestHttpServer } from '../helpers/http-server.ts'
import { startDnsServer } from '../helpers/dns-server.ts'
import type { TestDnsServer } from '../helpers/dns-server.ts'

let server: TestHttpServer
let dns: TestDnsServer

before(async () => {
  server = await startHttpServer((req, res) => {
    switch (req.url) {
      case '/ok':
        res.setHeader('content-type', 'text/plain')
        return res.end('hello')
      case '/redirect':
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' })
        return res.end()
      case '/big-declared':
        res.writeHead(200, { 'content-length': '1000000' })
        return res.end(Buffer.alloc(1_000_000))
      case '/big-chunked': {
        // Streams forever; the client must stop reading past its cap.
        res.writeHead(200)
        const timer = setInterval(() => res.write(Buffer.alloc(16_384)), 1)
        res.on('close', () => clearInterval(timer))
        return
      }
      case '/never':
        return // never answers
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'text/plain' })
        const timer = setInterval(() => res.write('x'), 20)
        res.on('close', () => clearInterval(timer))
        return
      }
      case '/missing':
        res.writeHead(404)
        return res.end('DID not registered')
      default:
        res.writeHead(500)
        res.end()
    }
  })
  dns = await startDnsServer({
    'rebind.test': { a: ['127.0.0.1'] },
    'internal.test': { a: ['10.1.2.3'] },
    'metadata.test': { a: ['169.254.169.254'] },
    'v6loop.test': { aaaa: ['::1'] },
    'mixed.test': { a: ['93.184.216.34', '127.0.0.1'] },
  })
})

after(async () => {
  await server.close()
  await dns.close()
})

const dev = { bytesMax: 1_024, allowPrivateAddresses: true, timeoutMs: 2_000 }
const strict = { bytesMax: 1_024, timeoutMs: 2_000 }
const toLoopback: HostLookup = async () => [{ address: '127.0.0.1', family: 4 }]

test('a 2xx answer returns status, headers and body', async () => {
  const res = await safeFetch(`${server.origin}/ok`, dev)
  assert.equal(res.status, 200)
  assert.equal(res.headers['content-type'], 'text/plain')
  assert.equal(Buffer.from(res.body).toString(), 'hello')
})

test('literal non-public IP hosts are refused before any connection', async () => {
  const before = server.requests.length
  for (const host of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '192.168.1.1', '100.64.0.1', '0.0.0.0', '[::1]', '[::ffff:127.0.0.1]', '[fd00::1]', '[fe80::1]']) {
    await assert.rejects(safeFetch(`http://${host}:${server.port}/ok`, strict), { name: 'ForbiddenAddress' }, host)
  }
  assert.equal(server.requests.length, before)
})

test('a name that resolves to loopback is refused at connect time; the dev flag allows it', async () => {
  const before = server.requests.length
  // The lookup the socket uses is the one vetted: called once, at connect.
  let calls = 0
  const counted: HostLookup = async (name) => {
    calls++
    return toLoopback(name)
  }
  await assert.rejects(safeFetch(`http://rebind.test:${server.port}/ok`, { ...strict, lookup: counted }), {
    name: 'ForbiddenAddress',
  })
  assert.equal(calls, 1)
  await assert.rejects(
    safeFetch(`http://rebind.test:${server.port}/ok`, { ...strict, lookup: toLoopback }),
    { name: 'ForbiddenAddress' },
  )
  await assert.rejects(
    safeFetch(`https://rebind.test:${server.port}/ok`, { ...strict, lookup: toLoopback }),
    { name: 'ForbiddenAddress' },
    'the https transport uses the same guarded lookup',
  )
  assert.equal(server.requests.length, before)
  const res = await safeFetch(`http://rebind.test:${server.port}/ok`, { ...dev, lookup: toLoopback })
  assert.equal(Buffer.from(res.body).toString(), 'hello')
})

test('names resolved by a (loopback) DNS server to private addresses are refused', async () => {
  const lookup = resolverHostLookup(makeDnsResolver({ servers: [dns.address], timeoutMs: 1_000 }))
  for (const name of ['rebind.test', 'internal.test', 'metadata.test', 'v6loop.test', 'mixed.test']) {
    await assert.rejects(
      safeFetch(`http://${name}:${server.port}/ok`, { ...strict, lookup }),
      { name: 'ForbiddenAddress' },
      name,
    )
  }
  assert.ok((dns.queries.get('A rebind.test') ?? 0) >= 1, 'the name went through the DNS server')
  const res = await safeFetch(`http://rebind.test:${server.port}/ok`, { ...dev, lookup })
  assert.equal(res.status, 200)
  await assert.rejects(safeFetch(`http://nxdomain.test:${server.port}/ok`, { ...dev, lookup }), {
    name: 'FetchFailed',
  })
})

test('redirects are refused, not followed', async () => {
  await assert.rejects(safeFetch(`${server.origin}/redirect`, dev), { name: 'RedirectRefused' })
})

test('bodies past bytesMax fail with ResponseTooLarge (declared and streamed)', async () => {
  await assert.rejects(safeFetch(`${server.origin}/big-declared`, dev), { name: 'ResponseTooLarge' })
  const started = Date.now()
  await assert.rejects(safeFetch(`${server.origin}/big-chunked`, { ...dev, bytesMax: 65_536 }), {
    name: 'ResponseTooLarge',
  })
  assert.ok(Date.now() - started < 1_500, 'stopped reading instead of waiting for the end')
  // Exactly at the cap is fine.
  const res = await safeFetch(`${server.origin}/ok`, { ...dev, bytesMax: 5 })
  assert.equal(res.body.length, 5)
  await assert.rejects(safeFetch(`${server.origin}/ok`, { ...dev, bytesMax: 4 }), { name: 'ResponseTooLarge' })
})

test('a server that never answers, or trickles forever, fails with FetchTimeout', async () => {
  for (const path of ['/never', '/trickle']) {
    const started = Date.now()
    await assert.rejects(safeFetch(`${server.origin}${path}`, { ...dev, timeoutMs: 200 }), { name: 'FetchTimeout' })
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 190 && elapsed < 1_500, `${path} took ${elapsed} ms`)
  }
})

test('non-2xx answers fail with FetchFailed carrying the status and body text', async () => {
  const err = await safeFetch(`${server.origin}/missing`, dev).then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof FetchFailedError)
  assert.equal(err.status, 404)
  assert.equal(err.bodyText, 'DID not registered')
})

test('connection failures are FetchFailed with no status', async () => {
  const closed = await startHttpServer(() => {})
  await closed.close()
  const err = await safeFetch(`http://127.0.0.1:${closed.port}/`, dev).catch((e: unknown) => e)
  assert.ok(err instanceof FetchFailedError)
  assert.equal(err.status, null)
})

test('bad URLs and aborts fail by name', async () => {
  await assert.rejects(safeFetch('ftp://example.com/x', strict), { name: 'InvalidUrl' })
  await assert.rejects(safeFetch('file:///etc/passwd', strict), { name: 'InvalidUrl' })
  await assert.rejects(safeFetch('not a url', strict), { name: 'InvalidUrl' })
  await assert.rejects(safeFetch('http://user:pw@example.com/', strict), { name: 'InvalidUrl' })
  const controller = new AbortController()
  const pending = safeFetch(`${server.origin}/never`, { ...dev, signal: controller.signal })
  controller.abort()
  await assert.rejects(pending, { name: 'FetchAborted' })
})
