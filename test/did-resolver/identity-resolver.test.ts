import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import type { IdentityResolverOptions } from '../../did-resolver/identity-resolver.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { verifySignature } from '../../core/crypto/verify.ts'
import { startHttpServer } from '../helpers/http-server.ts'
import type { TestHttpServer } from '../helpers/http-server.ts'
import { startDnsServer } from '../helpers/dns-server.ts'
import type { TestDnsServer } from '../helpers/dns-server.ts'
import { makeDidDoc } from '../helpers/did-doc.ts'
import { HANDLE_FAILURE_STALE_MS } from '../../core/limits.ts'

const plcDid = (name: string): Did => parseDid(`did:plc:${name.padEnd(24, 'a')}`)
const ALICE = plcDid('alice')
const BOB = plcDid('bob')
const CAROL = plcDid('carol')
const DAVE = plcDid('dave')
const ERIN = plcDid('erin')
const KEY1 = generateKeypair('k256')
const KEY2 = generateKeypair('p256')

let plc: TestHttpServer
let dns: TestDnsServer
const docs = new Map<string, Record<string, unknown>>()
const plcGets = (did: Did) => plc.requests.filter((r) => r === `GET /${did}`).length

function setDoc(did: Did, opts: { handle?: string; key?: string; pds?: string } = {}): void {
  docs.set(did, makeDidDoc({ did, handle: opts.handle, signingKey: opts.key, pds: opts.pds ?? 'https://pds.example.com' }))
}

before(async () => {
  plc = await startHttpServer((req, res) => {
    const doc = docs.get((req.url ?? '').slice(1))
    res.writeHead(doc === undefined ? 404 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(doc ?? { message: 'DID not registered' }))
  })
  dns = await startDnsServer({
    '_atproto.alice.test': { txt: [`did=${ALICE}`] },
    '_atproto.alice2.test': { txt: [`did=${ALICE}`] },
    '_atproto.bobhandle.test': { txt: [`did=${BOB}`] },
    '_atproto.bob.test': { txt: [`did=${BOB}`] },
  })
  setDoc(ALICE, { handle: 'alice.test', key: KEY1.publicKey.didKey })
  setDoc(BOB, { handle: 'bob.test', key: KEY1.publicKey.didKey })
  setDoc(CAROL, { handle: 'alice.test', key: KEY1.publicKey.didKey }) // claims someone else's handle
  setDoc(DAVE, { handle: 'nowhere.test', key: KEY1.publicKey.didKey }) // handle resolves nowhere
  setDoc(ERIN) // no handle, no key
})

after(async () => {
  await plc.close()
  await dns.close()
})

function makeResolver(extra: IdentityResolverOptions = {}): IdentityResolver {
  return new IdentityResolver({
    plcUrl: plc.origin,
    dnsServers: [dns.address],
    dnsTimeoutMs: 500,
    timeoutMs: 500,
    allowPrivateAddresses: true,
    // Every host resolves to 127.0.0.1, where nothing serves well-known files: DNS decides.
    wellKnownUrl: (h) => `http://${h}:${plc.port}/.well-known/atproto-did`,
    ...extra,
  })
}

test('a DID whose handle resolves back to it is verified', async () => {
  const resolver = makeResolver()
  const id = await resolver.resolveIdentity(ALICE)
  assert.equal(id.did, ALICE)
  assert.equal(id.handle, 'alice.test')
  assert.equal(id.handleVerified, true)
  assert.equal(id.signingKey?.didKey, KEY1.publicKey.didKey)
  assert.equal(id.pds, 'https://pds.example.com')
  assert.equal(id.doc.id, ALICE)
})

test('bi-directional: a handle claimed by the doc but pointing elsewhere reads handle.invalid', async () => {
  const resolver = makeResolver()
  const carol = await resolver.resolveIdentity(CAROL)
  assert.equal(carol.handle, 'handle.invalid')
  assert.equal(carol.handleVerified, false)
  assert.equal(carol.signingKey?.didKey, KEY1.publicKey.didKey, 'the rest of the identity is still there')
  const dave = await resolver.resolveIdentity(DAVE)
  assert.equal(dave.handle, 'handle.invalid')
  const erin = await resolver.resolveIdentity(ERIN)
  assert.equal(erin.handle, 'handle.invalid')
  assert.equal(erin.signingKey, null)
  await assert.rejects(resolver.resolveSigningKey(ERIN), { name: 'MissingSigningKey' })
})

test('by handle: resolves to the DID; verified only if that doc claims the handle back', async () => {
  const resolver = makeResolver()
  const alice = await resolver.resolveIdentity('Alice.TEST')
  assert.equal(alice.did, ALICE)
  assert.equal(alice.handle, 'alice.test')
  assert.equal(alice.handleVerified, true)
  // bobhandle.test points at BOB, but BOB's doc says bob.test.
  const bob = await resolver.resolveIdentity('bobhandle.test')
  assert.equal(bob.did, BOB)
  assert.equal(bob.handle, 'handle.invalid')
  assert.equal(bob.handleVerified, false)
  await assert.rejects(resolver.resolveIdentity('nothing.test'), { name: 'HandleNotFound' })
  await assert.rejects(resolver.resolveIdentity('printer.local'), { name: 'ReservedHandleTld' })
  await assert.rejects(resolver.resolveIdentity('not a handle'), { name: 'InvalidHandle' })
  await assert.rejects(resolver.resolveIdentity('did:'), { name: 'InvalidDid' })
  await assert.rejects(resolver.resolveIdentity(plcDid('nobody')), { name: 'DidNotFound' })
})

test('cached: repeated resolutions hit neither PLC nor DNS', async () => {
  const resolver = makeResolver()
  await resolver.resolveIdentity(BOB)
  const gets = plcGets(BOB)
  const txt = dns.queries.get('TXT _atproto.bob.test')
  for (let i = 0; i < 50; i++) assert.equal((await resolver.resolveIdentity(BOB)).handleVerified, true)
  assert.equal(plcGets(BOB), gets)
  assert.equal(dns.queries.get('TXT _atproto.bob.test'), txt)
  // Failed handle resolutions are cached too (until stale).
  await resolver.resolveIdentity(DAVE)
  const daveTxt = dns.queries.get('TXT _atproto.nowhere.test')
  await resolver.resolveIdentity(DAVE)
  assert.equal(dns.queries.get('TXT _atproto.nowhere.test'), daveTxt)
})

test('stale identities are served at once while one re-fetch runs in the background', async () => {
  let clock = 0
  const resolver = makeResolver({ cache: { staleMs: 1_000, expireMs: 10_000, now: () => clock } })
  await resolver.resolveIdentity(ALICE)
  const gets = plcGets(ALICE)
  setDoc(ALICE, { handle: 'alice.test', key: KEY2.publicKey.didKey })
  clock += 1_500
  const stale = await Promise.all([resolver.resolveDid(ALICE), resolver.resolveDid(ALICE), resolver.resolveDid(ALICE)])
  assert.ok(stale.every((s) => s.signingKey?.didKey === KEY1.publicKey.didKey))
  // Wait (bounded) for the background fetch to land; reads meanwhile start no new fetch.
  for (let i = 0; i < 100; i++) {
    if ((await resolver.resolveDid(ALICE)).signingKey?.didKey === KEY2.publicKey.didKey) break
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.equal(plcGets(ALICE), gets + 1, 'one background fetch')
  assert.equal((await resolver.resolveDid(ALICE)).signingKey?.didKey, KEY2.publicKey.didKey)
  setDoc(ALICE, { handle: 'alice.test', key: KEY1.publicKey.didKey })
})

test('a stale identity whose DID is gone upstream is dropped, not served on', async () => {
  let clock = 0
  const resolver = makeResolver({ cache: { staleMs: 1_000, expireMs: 10_000, now: () => clock } })
  const FRANK = plcDid('frank')
  setDoc(FRANK, { key: KEY1.publicKey.didKey })
  await resolver.resolveDid(FRANK)
  docs.delete(FRANK) // deleted / tombstoned at the directory: 404
  clock += 1_500
  assert.equal((await resolver.resolveDid(FRANK)).did, FRANK, 'stale value served while re-fetching')
  let err: unknown
  for (let i = 0; i < 100 && err === undefined; i++) {
    await new Promise((r) => setTimeout(r, 10))
    err = await resolver.resolveDid(FRANK).then(() => undefined, (e: unknown) => e)
  }
  assert.equal((err as Error | undefined)?.name, 'DidNotFound')
})

test('a failed handle check is retried after HANDLE_FAILURE_STALE_MS, not after the full stale period', async () => {
  let clock = 0
  const resolver = makeResolver({ cache: { now: () => clock } })
  const GRACE = plcDid('grace')
  setDoc(GRACE, { handle: 'grace.test', key: KEY1.publicKey.didKey })
  assert.equal((await resolver.resolveIdentity(GRACE)).handleVerified, false, 'no TXT record yet')
  dns.records.set('_atproto.grace.test', { txt: [`did=${GRACE}`] }) // published late
  clock += HANDLE_FAILURE_STALE_MS - 1
  assert.equal((await resolver.resolveIdentity(GRACE)).handleVerified, false, 'still cached')
  clock += 2
  await resolver.resolveIdentity(GRACE) // stale: served, and re-checked in the background
  let verified = false
  for (let i = 0; i < 100 && !verified; i++) {
    await new Promise((r) => setTimeout(r, 10))
    verified = (await resolver.resolveIdentity(GRACE)).handleVerified
  }
  assert.equal(verified, true)
})

test('bounded: the DID cache evicts past entriesMax', async () => {
  const resolver = makeResolver({ cache: { entriesMax: 2 } })
  const before = plcGets(ALICE)
  for (const did of [ALICE, BOB, CAROL]) await resolver.resolveDid(did)
  await resolver.resolveDid(ALICE)
  assert.equal(plcGets(ALICE), before + 2, 'ALICE was evicted and fetched again')
  assert.equal(resolver.cacheStats.dids.evictions >= 1, true)
})

test('refresh(did) re-fetches the document and re-verifies the new handle', async () => {
  const resolver = makeResolver()
  assert.equal((await resolver.resolveIdentity(ALICE)).handle, 'alice.test')
  setDoc(ALICE, { handle: 'alice2.test', key: KEY1.publicKey.didKey })
  assert.equal((await resolver.resolveIdentity(ALICE)).handle, 'alice.test', 'still cached')
  const refreshed = await resolver.refresh(ALICE)
  assert.equal(refreshed.handle, 'alice2.test')
  assert.equal(refreshed.handleVerified, true)
  assert.equal((await resolver.resolveIdentity(ALICE)).handle, 'alice2.test')
  setDoc(ALICE, { handle: 'alice.test', key: KEY1.publicKey.didKey })
  await tick()
})

test('verifyWithRefresh: a signature by a rotated key triggers one re-fetch, then verifies', async () => {
  const resolver = makeResolver({ cache: { forcedRefreshMinMs: 0 } })
  const message = new TextEncoder().encode('commit bytes')
  const byNewKey = KEY2.sign(message)
  assert.equal((await resolver.resolveSigningKey(BOB)).didKey, KEY1.publicKey.didKey)
  setDoc(BOB, { handle: 'bob.test', key: KEY2.publicKey.didKey }) // rotated at the directory
  const gets = plcGets(BOB)
  assert.equal(await resolver.verifyWithRefresh(BOB, (key) => verifySignature(key, message, byNewKey)), true)
  assert.equal(plcGets(BOB), gets + 1)
  // A forged signature: one re-fetch, then false.
  const forged = generateKeypair('k256').sign(message)
  assert.equal(await resolver.verifyWithRefresh(BOB, (key) => verifySignature(key, message, forged)), false)
  assert.equal(plcGets(BOB), gets + 2)
  setDoc(BOB, { handle: 'bob.test', key: KEY1.publicKey.didKey })
})
