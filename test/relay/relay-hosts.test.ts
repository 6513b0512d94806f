/**
 * Host management over HTTP: requestCrawl (describeServer probe, relay-loop
 * refusal, new-host limits, host caps), the admin routes (Basic auth, ban,
 * unban, limits), an upstream FutureCursor (→ idle, revived by
 * requestCrawl), a host that goes away (→ offline, retried on its own) and
 * an account migrating between hosts.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { RELAY_HOST_ACCOUNTS_MAX_NEW, RELAY_HOST_EVENTS_PER_SECOND_BASE } from '../../core/limits.ts'
import type { HostName } from '../../relay/hosts/host-name.ts'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import type { FakePdsHost } from '../helpers/fake-pds-host.ts'
import { startRelayHarness, waitUntil } from './relay-harness.ts'
import type { RelayHarness } from './relay-harness.ts'

let h: RelayHarness
const extra: FakePdsHost[] = []
let hostA: FakePdsHost
let hostB: FakePdsHost
const ADMIN = `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}`

before(async () => {
  h = await startRelayHarness({ hosts: 2, configuredHosts: false, tuning: { newHostsPerDayMax: 2, hostsMax: 4, offlineRetryMs: 100, failuresMax: 3 } })
})
after(async () => {
  await h?.close()
  for (const host of extra) await host.close()
})

async function call(path: string, body?: unknown, auth: string | null = null): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (auth !== null) headers['authorization'] = auth
  const res = await fetch(`${h.relay.url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

const crawl = (hostname: string) => call('/xrpc/com.atproto.sync.requestCrawl', { hostname })

test('requestCrawl: a live PDS is added with new-host limits and subscribed live', async () => {
  const host = h.hosts[0]!
  const res = await crawl(host.origin)
  assert.equal(res.status, 200)
  await host.waitForConnections(1)
  assert.deepEqual(host.cursors, [null])
  const status = await call(`/xrpc/com.atproto.sync.getHostStatus?hostname=${host.hostname}`)
  assert.equal(status.body.status, 'active')
  assert.equal(status.body.trusted, false)
  assert.equal(status.body.limits.accountsMax, RELAY_HOST_ACCOUNTS_MAX_NEW)
  assert.equal(status.body.limits.eventsPerSecond, RELAY_HOST_EVENTS_PER_SECOND_BASE)
  const alice = await h.account(host, 'alice.test')
  host.emit(alice.commit().event)
  await h.settle(host, 1)
  const list = await call('/xrpc/com.atproto.sync.listHosts')
  assert.deepEqual(list.body.hosts, [{ hostname: host.hostname, seq: 1, accountCount: 1, status: 'active' }])
  assert.equal((await crawl(host.hostname)).status, 200, 'crawling a known host again is fine')
})

test('requestCrawl refusals, by error name', async () => {
  assert.equal((await crawl('http://127.0.0.1:1')).body.error, 'HostNotFound')
  const relayLike = await startFakePdsHost()
  extra.push(relayLike)
  relayLike.serverHeader = 'indigo-relay (atproto-relay)'
  assert.equal((await crawl(relayLike.origin)).body.error, 'HostIsRelay')
  assert.equal((await crawl('ftp://nope.example')).body.error, 'InvalidHostname')
  assert.equal((await call('/xrpc/com.atproto.sync.requestCrawl', { host: 'x' })).status, 400)
  assert.equal((await call('/xrpc/com.atproto.sync.getHostStatus?hostname=unknown.example.com')).body.error, 'HostNotFound')
})

test('admin: Basic auth, ban (stream closed, crawl refused), limits, unban (stream back)', async () => {
  const host = h.hosts[0]!
  assert.equal((await call('/admin/pds/list')).status, 401)
  assert.equal((await call('/admin/pds/list', undefined, `Basic ${Buffer.from('admin:wrong').toString('base64')}`)).status, 401)
  const list = await call('/admin/pds/list', undefined, ADMIN)
  assert.equal(list.body.hosts.length, 1)
  assert.equal((await call('/admin/pds/block', { host: host.hostname }, ADMIN)).status, 200)
  await waitUntil(() => host.connections() === 0, 'the banned host to be disconnected')
  assert.equal((await crawl(host.origin)).body.error, 'HostBanned')
  assert.equal((await call(`/xrpc/com.atproto.sync.getHostStatus?hostname=${host.hostname}`)).body.status, 'banned')
  const limits = await call('/admin/pds/changeLimits', { host: host.hostname, accountsMax: 5000 }, ADMIN)
  assert.equal(limits.body.limits.eventsPerSecond, 55)
  assert.equal((await call('/admin/pds/changeLimits', { host: host.hostname, accountsMax: -1 }, ADMIN)).body.error, 'InvalidRequest')
  assert.equal((await call('/admin/pds/changeLimits', { host: 'nope.example.com', accountsMax: 1 }, ADMIN)).body.error, 'HostNotFound')
  const before = host.cursors.length
  assert.equal((await call('/admin/pds/unblock', { host: host.hostname }, ADMIN)).status, 200)
  await waitUntil(() => host.cursors.length > before, 'the unbanned host to be resubscribed')
  assert.equal(host.cursors[host.cursors.length - 1], 1, 'from its cursor')
})

test('new hosts per day and the host cap', async () => {
  // One host was added today (refused crawls do not count); the daily budget is 2.
  const a = await startFakePdsHost()
  const b = await startFakePdsHost()
  const c = await startFakePdsHost()
  extra.push(a, b, c)
  hostA = a
  hostB = b
  assert.equal((await crawl(a.origin)).status, 200)
  const refused = await crawl(b.origin)
  assert.equal(refused.status, 429)
  assert.equal(refused.body.error, 'RateLimitExceeded')
  assert.equal((await call('/admin/pds/requestCrawl', { hostname: b.origin }, ADMIN)).status, 200, 'admins skip the daily budget')
  assert.equal((await call('/admin/pds/requestCrawl', { hostname: c.origin }, ADMIN)).status, 200)
  const full = await call('/admin/pds/requestCrawl', { hostname: h.hosts[1]!.origin }, ADMIN)
  assert.equal(full.status, 503)
  assert.equal(full.body.error, 'TooManyHosts')
})

test('an upstream FutureCursor makes the host idle; requestCrawl brings it back live', async () => {
  const host = hostB
  await host.waitForConnections(1)
  const ctx = h.relay.ctx
  const record = ctx.hosts.get(host.hostname as HostName)!
  // As if the host had lost its history: our cursor is now in its future.
  await ctx.slurper.unsubscribe(record.hostname)
  ctx.hosts.update(record, (r) => (r.cursor = 100))
  ctx.slurper.subscribe(record)
  await waitUntil(() => record.status === 'idle', 'the host to turn idle')
  assert.equal(record.cursor, null)
  assert.equal((await call(`/xrpc/com.atproto.sync.getHostStatus?hostname=${host.hostname}`)).body.status, 'idle')
  assert.equal((await crawl(host.origin)).status, 200)
  await waitUntil(() => host.connections() === 1, 'a new subscription')
  assert.deepEqual(host.cursors.slice(-2), [100, null])
  assert.equal(record.status, 'active')
})

test('a host that goes away turns offline and is retried on its own until it answers', async () => {
  const host = hostA
  await host.waitForConnections(1)
  const port = Number(host.hostname.split(':')[1])
  await host.close()
  const record = h.relay.ctx.hosts.get(host.hostname as HostName)!
  await waitUntil(() => record.status === 'offline', 'the host to be marked offline')
  // Bring a server back on the same port: the slow retry finds it.
  const { createServer } = await import('node:http')
  const back = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"did":"did:web:back"}'))
  await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve))
  try {
    await waitUntil(() => record.status === 'active', 'the host to be back to active')
  } finally {
    await h.relay.ctx.slurper.unsubscribe(host.hostname as HostName)
    back.closeAllConnections()
    await new Promise((resolve) => back.close(resolve))
  }
})

test('an account migrating to another host: the new host is accepted, the old one no longer', async () => {
  const [oldHost, newHost] = [h.hosts[0]!, h.hosts[1]!]
  const ctx = h.relay.ctx
  if (!ctx.slurper.isSubscribed(newHost.hostname as HostName)) {
    const record = ctx.crawler.addConfigured(newHost.origin)
    ctx.slurper.subscribe(record)
  }
  await newHost.waitForConnections(1)
  const mover = await h.account(oldHost, 'mover.test')
  const taken = h.taken(oldHost)
  oldHost.emit(mover.commit().event)
  await h.settle(oldHost, taken + 1)
  const oldCount = h.hostRecord(oldHost).accountCount
  await mover.moveTo(newHost)
  const first = mover.commit().event
  const takenNew = h.taken(newHost)
  newHost.emit(first)
  await h.settle(newHost, takenNew + 1)
  assert.equal(ctx.accounts.get(mover.did)!.host, newHost.hostname)
  assert.equal(ctx.accounts.get(mover.did)!.rev, first.rev)
  assert.equal(h.hostRecord(oldHost).accountCount, oldCount - 1)
  const stale = mover.detached().event
  const dropsBefore = h.hostRecord(oldHost).drops.WrongHost ?? 0
  oldHost.emit(stale)
  await waitUntil(() => (h.hostRecord(oldHost).drops.WrongHost ?? 0) === dropsBefore + 1, 'the old host to be refused')
})

test('a rotated signing key: the relay re-resolves once and accepts; the old key is refused after that', async () => {
  const host = h.hosts[1]!
  const rotating = await h.account(host, 'rotating.test')
  let taken = h.taken(host)
  host.emit(rotating.commit().event)
  await h.settle(host, ++taken)
  const oldKey = rotating.keypair
  await rotating.rotateKey()
  const signedNew = rotating.commit().event
  host.emit(signedNew)
  await h.settle(host, ++taken)
  assert.equal(h.relay.ctx.accounts.get(rotating.did)!.rev, signedNew.rev, 'the commit with the new key was accepted')
  const drops = h.hostRecord(host).drops.BadCommitSignature ?? 0
  host.emit(rotating.detached({ keypair: oldKey }).event)
  await h.settle(host, ++taken)
  assert.equal(h.hostRecord(host).drops.BadCommitSignature, drops + 1)
})
