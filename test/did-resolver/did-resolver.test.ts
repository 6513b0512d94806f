import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DidResolver } from '../../did-resolver/did-resolver.ts'
import { makeDnsResolver, resolverHostLookup } from '../../did-resolver/host-lookup.ts'
import type { HostLookup } from '../../did-resolver/host-lookup.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { DID_DOC_BYTES_MAX, PLC_FETCH_SOCKETS_MAX } from '../../core/limits.ts'
import { startHttpServer } from '../helpers/http-server.ts'
import type { TestHttpServer } from '../helpers/http-server.ts'
import { startDnsServer } from '../helpers/dns-server.ts'
import type { TestDnsServer } from '../helpers/dns-server.ts'
import { makeDidDoc } from '../helpers/did-doc.ts'

const KEY = 'did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme'

/** A syntactically valid did:plc from a short name of base32 letters. */
function plcDid(name: string): Did {
  return parseDid(`did:plc:${name.padEnd(24, 'a')}`)
}

const ALICE = plcDid('alice')
let plc: TestHttpServer
let web: TestHttpServer
let dns: TestDnsServer
const accepts: string[] = []

before(async () => {
  plc = await startHttpServer((req, res) => {
    accepts.push(req.headers.accept ?? '')
    const did = decodeURIComponent((req.url ?? '').slice(1))
    const send = (status: number, body: string, type = 'application/did+ld+json') => {
      res.writeHead(status, { 'content-type': type })
      res.end(body)
    }
    if (did === ALICE) return send(200, JSON.stringify(makeDidDoc({ did, handle: 'alice.test', signingKey: KEY, pds: 'https://pds.example.com' })))
    if (did === plcDid('gone')) return send(410, '{"message":"DID not available"}', 'application/json')
    if (did === plcDid('tomb')) return send(404, `{"message":"DID not available: ${did}"}`, 'application/json')
    if (did === plcDid('slow')) return // never answers
    if (did === plcDid('big')) return send(200, JSON.stringify({ id: did, pad: 'x'.repeat(DID_DOC_BYTES_MAX) }))
    if (did === plcDid('redir')) {
      res.writeHead(301, { location: `/${ALICE}` })
      return res.end()
    }
    if (did === plcDid('notjson')) return send(200, '<html>hello</html>')
    if (did === plcDid('mismatch')) return send(200, JSON.stringify(makeDidDoc({ did: ALICE })))
    if (did === plcDid('broken')) return send(500, 'oops', 'text/plain')
    send(404, `{"message":"DID not registered: ${did}"}`, 'application/json')
  })
  web = await startHttpServer((req, res) => {
    if (req.url !== '/.well-known/did.json') {
      res.writeHead(404)
      return res.end()
    }
    const did = `did:web:${(req.headers.host ?? '').replace(':', '%3A')}`
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(makeDidDoc({ did, signingKey: KEY })))
  })
  dns = await startDnsServer({
    'loopback.evil.org': { a: ['127.0.0.1'] },
    'private.evil.org': { a: ['10.0.0.7'] },
    'metadata.evil.org': { a: ['169.254.169.254'] },
    'v6.evil.org': { aaaa: ['::1'] },
    'rebind.test': { a: ['127.0.0.1'] },
  })
})

after(async () => {
  await plc.close()
  await web.close()
  await dns.close()
})

const lookupVia = (): HostLookup => resolverHostLookup(makeDnsResolver({ servers: [dns.address], timeoutMs: 1_000 }))

test('did:plc: GET <plcUrl>/<did> returns the checked document', async () => {
  const resolver = new DidResolver({ plcUrl: `${plc.origin}/` })
  const doc = await resolver.resolveDid(ALICE)
  assert.equal(doc.id, ALICE)
  assert.deepEqual(doc.alsoKnownAs, ['at://alice.test'])
  assert.match(accepts.at(-1) ?? '', /application\/did\+ld\+json/)
  assert.ok(plc.requests.includes(`GET /${ALICE}`))
})

test('did:plc: the configured PLC URL may be loopback without the dev flag (operator config)', async () => {
  const resolver = new DidResolver({ plcUrl: plc.origin, dnsServers: [dns.address] })
  assert.equal((await resolver.resolveDid(ALICE)).id, ALICE)
  // Pooled keep-alive connections: many lookups, at most PLC_FETCH_SOCKETS_MAX sockets.
  const before = plc.connections()
  await Promise.all(Array.from({ length: PLC_FETCH_SOCKETS_MAX * 3 }, () => resolver.resolveDid(ALICE)))
  assert.ok(plc.connections() - before <= PLC_FETCH_SOCKETS_MAX, `${plc.connections() - before} connections`)
  resolver.close()
})

test('did:plc answers map to stable error names', async () => {
  const resolver = new DidResolver({ plcUrl: plc.origin, timeoutMs: 300 })
  const cases: Array<[string, string]> = [
    ['nobody', 'DidNotFound'],
    ['gone', 'DidDeactivated'],
    ['tomb', 'DidDeactivated'],
    ['slow', 'FetchTimeout'],
    ['big', 'ResponseTooLarge'],
    ['redir', 'RedirectRefused'],
    ['notjson', 'InvalidDidDocument'],
    ['mismatch', 'DidDocumentMismatch'],
    ['broken', 'FetchFailed'],
  ]
  for (const [name, error] of cases) {
    await assert.rejects(resolver.resolveDid(plcDid(name)), { name: error }, name)
  }
  await assert.rejects(resolver.resolveDid(parseDid('did:plc:short')), { name: 'InvalidDid' })
  await assert.rejects(resolver.resolveDid(parseDid('did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme')), {
    name: 'UnsupportedDidMethod',
  })
})

test('did:web on localhost with a port works only with the dev flag (http)', async () => {
  const did = parseDid(`did:web:localhost%3A${web.port}`)
  const devResolver = new DidResolver({ allowPrivateAddresses: true })
  const doc = await devResolver.resolveDid(did)
  assert.equal(doc.id, did)
  assert.equal(devResolver.webDocumentUrl(did), `http://localhost:${web.port}/.well-known/did.json`)
  await assert.rejects(new DidResolver().resolveDid(did), { name: 'ForbiddenAddress' })
})

test('did:web shapes that are refused before any fetch', async () => {
  const dev = new DidResolver({ allowPrivateAddresses: true })
  const strict = new DidResolver()
  await assert.rejects(dev.resolveDid(parseDid('did:web:example.com:user:alice')), { name: 'UnsupportedDidWebPath' })
  for (const did of ['did:web:127.0.0.1', 'did:web:example.com%3A8443', 'did:web:printer.local', 'did:web:x.onion', 'did:web:a%2Fb']) {
    await assert.rejects(dev.resolveDid(parseDid(did)), { name: 'InvalidDid' }, did)
  }
  await assert.rejects(strict.resolveDid(parseDid('did:web:dev.test')), { name: 'InvalidDid' }, '.test needs the dev flag')
  assert.equal(strict.webDocumentUrl(parseDid('did:web:Example.COM')), 'https://example.com/.well-known/did.json')
})

test('SSRF: did:web hosts that resolve to non-public addresses are refused at connect time', async () => {
  const strict = new DidResolver({ dnsServers: [dns.address], timeoutMs: 1_000 })
  for (const host of ['loopback.evil.org', 'private.evil.org', 'metadata.evil.org', 'v6.evil.org']) {
    await assert.rejects(strict.resolveDid(parseDid(`did:web:${host}`)), { name: 'ForbiddenAddress' }, host)
  }
  assert.ok((dns.queries.get('A loopback.evil.org') ?? 0) >= 1, 'the name was resolved, then refused')
  // With the dev flag the address is allowed: the fetch goes on to https://rebind.test:443,
  // where nothing listens, so it fails later and differently.
  const dev = new DidResolver({ lookup: lookupVia(), allowPrivateAddresses: true, timeoutMs: 1_000 })
  await assert.rejects(dev.resolveDid(parseDid('did:web:rebind.test')), { name: 'FetchFailed' })
})
