import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { HandleResolver } from '../../did-resolver/handle-resolver.ts'
import type { HandleResolverOptions } from '../../did-resolver/handle-resolver.ts'
import { parseHandle } from '../../core/syntax/handle.ts'
import { ATPROTO_DID_BODY_BYTES_MAX } from '../../core/limits.ts'
import { startHttpServer } from '../helpers/http-server.ts'
import type { TestHttpServer } from '../helpers/http-server.ts'
import { startDnsServer } from '../helpers/dns-server.ts'
import type { TestDnsServer } from '../helpers/dns-server.ts'

const DID_A = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
const DID_B = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'
const DID_WEB = 'did:web:example.com'

let dns: TestDnsServer
let http: TestHttpServer
/** Body (or status / behaviour) of /.well-known/atproto-did by Host name. */
const WELL_KNOWN: Record<string, string | number | 'never' | 'redirect' | 'huge'> = {
  'https-only.test': `${DID_A}\n`,
  'both.test': DID_A,
  'disagree.test': DID_B,
  'multiline.test': `  ${DID_B}  \nsomething else\n`,
  'garbage-body.test': 'hello world',
  'slow.test': 'never',
  'redirect.test': 'redirect',
  'huge.test': 'huge',
  'ambiguous.test': DID_B,
  'dns-slow.test': DID_B,
  'loopback.evil.org': DID_A,
}

before(async () => {
  const a = ['127.0.0.1']
  dns = await startDnsServer({
    '_atproto.dns-only.test': { txt: [`did=${DID_A}`, 'v=spf1 -all'] },
    '_atproto.both.test': { txt: [`did=${DID_A}`] },
    '_atproto.slow.test': { txt: [`did=${DID_A}`] },
    '_atproto.disagree.test': { txt: [`did=${DID_A}`] },
    '_atproto.chunked.test': { txt: [['did=did:plc:aaaaaaaa', 'aaaaaaaaaaaaaaaa']] },
    '_atproto.duplicate.test': { txt: [`did=${DID_A}`, `did=${DID_A}`] },
    '_atproto.ambiguous.test': { txt: [`did=${DID_A}`, `did=${DID_WEB}`] },
    '_atproto.garbage.test': { txt: ['did=not a did'] },
    '_atproto.unrelated.test': { txt: ['google-site-verification=abc', 'hello'] },
    ...Object.fromEntries(Object.keys(WELL_KNOWN).map((host) => [host, { a }])),
    'dns-only.test': { a },
    'nothing.test': { a },
    'loopback.evil.org': { a: ['127.0.0.1'] },
    'private.evil.org': { a: ['10.9.8.7'] },
    'metadata.evil.org': { a: ['169.254.169.254'] },
    'v6.evil.org': { aaaa: ['::1'] },
  })
  http = await startHttpServer((req, res) => {
    const host = (req.headers.host ?? '').split(':')[0] as string
    const entry = req.url === '/.well-known/atproto-did' ? WELL_KNOWN[host] : undefined
    if (entry === undefined) {
      res.writeHead(404)
      return res.end('not found')
    }
    if (entry === 'never') return
    if (entry === 'redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/' })
      return res.end()
    }
    if (entry === 'huge') {
      res.writeHead(200)
      return res.end(`${DID_A}\n${'x'.repeat(ATPROTO_DID_BODY_BYTES_MAX)}`)
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(String(entry))
  })
})

after(async () => {
  await dns.close()
  await http.close()
})

function resolver(extra: HandleResolverOptions = {}): HandleResolver {
  return new HandleResolver({
    dnsServers: [dns.address],
    dnsTimeoutMs: 500,
    timeoutMs: 500,
    allowPrivateAddresses: true,
    wellKnownUrl: (h) => `http://${h}:${http.port}/.well-known/atproto-did`,
    ...extra,
  })
}

const h = (s: string) => parseHandle(s)

test('DNS only, HTTPS only, and both agreeing all resolve', async () => {
  const r = resolver()
  assert.equal(await r.resolveHandle(h('dns-only.test')), DID_A)
  assert.equal(await r.resolveHandle(h('https-only.test')), DID_A)
  assert.equal(await r.resolveHandle(h('both.test')), DID_A)
  assert.equal(await r.resolveDns(h('Chunked.TEST')), DID_A, 'TXT chunks are joined; names are case-insensitive')
  assert.equal(await r.resolveDns(h('duplicate.test')), DID_A, 'identical records count once')
  assert.equal(await r.resolveHttps(h('multiline.test')), DID_B, 'first line, trimmed')
})

test('the rule: when DNS and HTTPS disagree, DNS wins', async () => {
  const r = resolver()
  assert.equal(await r.resolveDns(h('disagree.test')), DID_A)
  assert.equal(await r.resolveHttps(h('disagree.test')), DID_B)
  assert.equal(await r.resolveHandle(h('disagree.test')), DID_A)
  // A DNS answer does not wait for a hanging HTTPS fetch (it is aborted).
  const started = Date.now()
  assert.equal(await resolver({ timeoutMs: 5_000 }).resolveHandle(h('slow.test')), DID_A)
  assert.ok(Date.now() - started < 1_000)
})

test('DNS failures fall back to HTTPS: ambiguous records, garbage, and a silent DNS server', async () => {
  const r = resolver()
  await assert.rejects(r.resolveDns(h('ambiguous.test')), { name: 'HandleAmbiguous' })
  assert.equal(await r.resolveHandle(h('ambiguous.test')), DID_B)
  await assert.rejects(r.resolveDns(h('garbage.test')), { name: 'InvalidHandleRecord' })
  await assert.rejects(r.resolveDns(h('unrelated.test')), { name: 'HandleNotFound' })
  // The DNS server stops answering: the TXT query times out, HTTPS still answers.
  const hosts = resolver({ lookup: async () => [{ address: '127.0.0.1', family: 4 }] })
  dns.silent = true
  try {
    const started = Date.now()
    await assert.rejects(hosts.resolveDns(h('dns-slow.test')), { name: 'DnsTimeout' })
    assert.ok(Date.now() - started < 1_500)
    assert.equal(await hosts.resolveHandle(h('dns-slow.test')), DID_B)
  } finally {
    dns.silent = false
  }
})

test('neither method: HandleNotFound with both causes', async () => {
  const r = resolver()
  const err = await r.resolveHandle(h('nothing.test')).catch((e: unknown) => e)
  assert.ok(err instanceof Error)
  assert.equal(err.name, 'HandleNotFound')
  const causes = (err.cause as AggregateError).errors as Error[]
  assert.deepEqual(causes.map((e) => e.name), ['HandleNotFound', 'HandleNotFound'])
})

test('HTTPS method limits: time, size, redirects, body shape', async () => {
  const r = resolver()
  await assert.rejects(r.resolveHttps(h('slow.test')), { name: 'FetchTimeout' })
  await assert.rejects(r.resolveHttps(h('huge.test')), { name: 'ResponseTooLarge' })
  await assert.rejects(r.resolveHttps(h('redirect.test')), { name: 'RedirectRefused' })
  await assert.rejects(r.resolveHttps(h('garbage-body.test')), { name: 'InvalidHandleRecord' })
  await assert.rejects(r.resolveHttps(h('dns-only.test')), { name: 'HandleNotFound' })
})

test('reserved TLDs never touch the network; .test needs the dev flag', async () => {
  const r = resolver()
  const before = dns.queries.size
  for (const handle of ['printer.local', 'secret.onion', 'handle.invalid', 'x.localhost', 'a.internal', 'a.example', 'b.arpa', 'c.alt']) {
    await assert.rejects(r.resolveHandle(h(handle)), { name: 'ReservedHandleTld' }, handle)
  }
  await assert.rejects(resolver({ allowPrivateAddresses: false }).resolveHandle(h('dns-only.test')), {
    name: 'ReservedHandleTld',
  })
  assert.equal(dns.queries.size, before)
})

test('SSRF: a handle whose host resolves to a non-public address is refused without the dev flag', async () => {
  const strictDefault = new HandleResolver({ dnsServers: [dns.address], dnsTimeoutMs: 500, timeoutMs: 500 })
  for (const handle of ['loopback.evil.org', 'private.evil.org', 'metadata.evil.org', 'v6.evil.org']) {
    await assert.rejects(strictDefault.resolveHttps(h(handle)), { name: 'ForbiddenAddress' }, handle)
    const err = await strictDefault.resolveHandle(h(handle)).catch((e: unknown) => e)
    assert.equal((err as Error).name, 'HandleNotFound')
    const causes = ((err as Error).cause as AggregateError).errors as Error[]
    assert.equal(causes[1]?.name, 'ForbiddenAddress', handle)
  }
  // The same handle and server with the dev flag resolves.
  const dev = resolver()
  assert.equal(await dev.resolveHttps(h('loopback.evil.org')), DID_A)
  const strictPort = resolver({ allowPrivateAddresses: false })
  await assert.rejects(strictPort.resolveHttps(h('loopback.evil.org')), { name: 'ForbiddenAddress' })
})
