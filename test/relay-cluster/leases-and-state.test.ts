/**
 * The relay cluster's two KV pieces on a real single-node nats-server:
 * host leases (one owner per host, fair shares, takeover after the TTL when
 * a worker's connection dies, release before hand-over) and the shared
 * state (host records and account states mirrored between processes, one
 * writer per key).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Kvm } from '@nats-io/kv'
import type { KV } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { AccountStore } from '../../relay/accounts.ts'
import type { AccountState } from '../../relay/accounts.ts'
import { HostLeases } from '../../relay/cluster/host-leases.ts'
import { clusterBuckets, keyOf, nameOfKey } from '../../relay/cluster/kv-names.ts'
import { SharedState } from '../../relay/cluster/shared-state.ts'
import { HostRegistry } from '../../relay/hosts/host-registry.ts'
import type { HostName } from '../../relay/hosts/host-name.ts'
import { openRelayDb } from '../../relay/relay-db.ts'
import type { RelayDb } from '../../relay/relay-db.ts'
import type { Did } from '../../core/syntax/did.ts'
import { startNats } from '../helpers/nats.ts'
import { startWatchdog } from '../helpers/watchdog.ts'

startWatchdog(90_000, 'test/relay-cluster/leases-and-state.test.ts')
const nats = await startNats()
const connections: NatsConnection[] = []
const dirs: string[] = []
after(async () => {
  for (const nc of connections) await nc.close().catch(() => {})
  await nats.stop()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

async function natsConnection(): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.urls, maxReconnectAttempts: 0 })
  connections.push(nc)
  return nc
}

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - start
}

const HOSTS = ['a.test', 'b.test', 'c.test', 'd.test'] as HostName[]
const TTL_MS = 1_500

type Worker = { leases: HostLeases; log: string[]; ownerWhileLosing: string[] }

/** A lease holder that logs `+host` / `-host`; with `kv`, it also notes the lease's owner while `onLost` runs. */
async function worker(bucket: string, nc: NatsConnection, kv?: KV): Promise<Worker> {
  const log: string[] = []
  const ownerWhileLosing: string[] = []
  const leases: HostLeases = await HostLeases.open(nc, {
    bucket,
    replicas: 1,
    ttlMs: TTL_MS,
    candidates: () => HOSTS,
    onAcquired: async (host) => void log.push(`+${host}`),
    onLost: async (host) => {
      log.push(`-${host}`)
      if (kv !== undefined) ownerWhileLosing.push((await kv.get(`h.${keyOf(host)}`))?.string() === leases.workerId ? 'self' : 'other')
    },
    logLine: () => {},
  })
  return { leases, log, ownerWhileLosing }
}

test('kv names: DIDs and hostnames with ports round-trip through base64url keys', () => {
  for (const name of ['did:web:localhost%3A2583', 'localhost:2583', 'did:plc:abcdefghijklmnopqrstuvwx']) {
    assert.match(keyOf(name), /^[-_A-Za-z0-9]+$/)
    assert.equal(nameOfKey(keyOf(name)), name)
  }
  assert.deepEqual(clusterBuckets('R'), { hosts: 'R_HOSTS', accounts: 'R_ACCOUNTS', leases: 'R_LEASES' })
})

test('leases: two workers split four hosts; one dies; the other has all within the TTL; one owner per host', { timeout: 30_000 }, async () => {
  const a = await worker('L1', await natsConnection())
  const bConn = await natsConnection()
  const b = await worker('L1', bConn)
  a.leases.start()
  b.leases.start()
  try {
    await waitFor('a 2/2 split', () => a.leases.held.length === 2 && b.leases.held.length === 2, 10_000)
    assert.equal(new Set([...a.leases.held, ...b.leases.held]).size, 4, 'no host held twice')
    const aHosts = a.leases.held
    // a dies: its connection is gone, it can neither renew nor release.
    await (connections[connections.length - 2] as NatsConnection).close()
    const movedMs = await waitFor('b holds all four', () => b.leases.held.length === 4, 4 * TTL_MS)
    assert.ok(movedMs <= TTL_MS + TTL_MS, `hosts moved after ${movedMs} ms (TTL ${TTL_MS} ms)`)
    for (const host of aHosts) assert.equal(b.log.filter((e) => e === `+${host}`).length, 1, `${host} taken over once`)
    const kv = await new Kvm(bConn).open('L1')
    for (const host of HOSTS) assert.equal((await kv.get(`h.${keyOf(host)}`))?.string(), b.leases.workerId)
  } finally {
    await b.leases.close()
    await a.leases.close().catch(() => {})
  }
})

test('leases: a worker alone takes all; a second joins and gets its share, each released host written before hand-over', { timeout: 30_000 }, async () => {
  const nc = await natsConnection()
  const kv = await new Kvm(nc).create('L2', { history: 1, ttl: TTL_MS })
  const a = await worker('L2', nc, kv)
  a.leases.start()
  await waitFor('a has all four', () => a.leases.held.length === 4, 5_000)
  const b = await worker('L2', await natsConnection())
  b.leases.start()
  try {
    await waitFor('2/2 after the join', () => a.leases.held.length === 2 && b.leases.held.length === 2, 10_000)
    assert.equal(a.log.filter((e) => e.startsWith('-')).length, 2)
    // While `onLost` ran the lease was still a's: the host's last batch and cursor reach the bucket first.
    assert.deepEqual(a.ownerWhileLosing, ['self', 'self'])
    assert.equal(new Set([...a.leases.held, ...b.leases.held]).size, 4)
    for (const host of b.leases.held) assert.equal((await kv.get(`h.${keyOf(host)}`))?.string(), b.leases.workerId)
  } finally {
    await a.leases.close()
    await b.leases.close()
  }
  // A clean close releases everything at once (no TTL wait for the next worker).
  const keys: string[] = []
  for await (const key of await kv.keys()) keys.push(key)
  assert.deepEqual(keys, [])
})

test('leases: a takeover that takes several TTLs (onAcquired slow) does not let the worker\'s other leases expire', { timeout: 30_000 }, async () => {
  const nc = await natsConnection()
  const kv = await new Kvm(nc).create('L3', { history: 1, ttl: TTL_MS })
  const log: string[] = []
  let slowUntil = 0
  const leases: HostLeases = await HostLeases.open(nc, {
    bucket: 'L3',
    replicas: 1,
    ttlMs: TTL_MS,
    candidates: () => HOSTS,
    onAcquired: async (host) => {
      log.push(`+${host}`)
      if (host === HOSTS[3] && slowUntil === 0) {
        slowUntil = Date.now() + 3 * TTL_MS
        await new Promise((resolve) => setTimeout(resolve, 3 * TTL_MS))
      }
    },
    onLost: async (host) => void log.push(`-${host}`),
    logLine: () => {},
  })
  leases.start()
  try {
    await waitFor('the slow takeover to end', () => slowUntil !== 0 && Date.now() > slowUntil + 200, 4 * TTL_MS + 5_000)
    assert.deepEqual(log.filter((e) => e.startsWith('-')), [], 'no lease lost while one took long')
    for (const host of HOSTS) assert.equal((await kv.get(`h.${keyOf(host)}`))?.string(), leases.workerId, `${host} still held`)
  } finally {
    await leases.close()
  }
})

type Side = { db: RelayDb; hosts: HostRegistry; accounts: AccountStore; shared: SharedState; owned: Set<HostName> }

async function side(stream: string, nc: NatsConnection): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-cluster-state-'))
  dirs.push(dir)
  const db = await openRelayDb(dir)
  const hosts = await HostRegistry.open(db)
  const accounts = await AccountStore.open(db)
  const owned = new Set<HostName>()
  const shared = await SharedState.open(nc, { buckets: clusterBuckets(stream), replicas: 1, hosts, accounts, owns: (h) => owned.has(h), poke: () => {}, logLine: () => {} })
  await shared.start()
  return { db, hosts, accounts, shared, owned }
}

/** What the sequencer does after a batch: stage the stores, write, mirror (then wait for the queued KV writes). */
async function writeBatch(s: Side): Promise<void> {
  const staged = [s.hosts.stage(), s.accounts.stage()]
  const ops = staged.flatMap((x) => x.ops)
  await s.db.batch(ops)
  await s.shared.mirror(ops)
  assert.ok(await s.shared.drain(5_000), 'the queued writes reached the buckets')
  for (const x of staged) x.settled()
}

test('shared state: the owner mirrors its host record and accounts; others apply them; a non-owner cannot move a cursor back', { timeout: 30_000 }, async () => {
  const a = await side('S1', await natsConnection())
  const b = await side('S1', await natsConnection())
  try {
    const h1 = 'h1.test' as HostName
    const did = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did
    a.owned.add(h1)
    const record = a.hosts.add({ hostname: h1, secure: true }, { trusted: true, nowIso: new Date(0).toISOString() })
    a.hosts.update(record, (r) => (r.cursor = 41))
    const account: AccountState = { did, host: h1, rev: '3kabcdefghij2' as AccountState['rev'], commit: null, data: null, status: 'desynchronized', upstream: 'active' }
    a.accounts.put(account)
    await writeBatch(a)
    assert.ok(await b.shared.catchUp())
    assert.equal(b.hosts.get(h1)?.cursor, 41)
    assert.deepEqual({ ...b.accounts.get(did) }, { ...account })
    // b does not own h1: its (stale) record of it never reaches the bucket.
    b.hosts.update(b.hosts.get(h1) as NonNullable<ReturnType<HostRegistry['get']>>, (r) => (r.cursor = 0))
    await writeBatch(b)
    b.owned.add(h1) // b takes the lease over: it reads the cursor from the bucket
    const taken = await b.shared.takeOver(h1)
    assert.equal(taken?.cursor, 41)
    // A host first seen by a non-owner is created in the bucket; its owner's later writes win.
    const h2 = 'h2.test' as HostName
    b.owned.clear()
    b.hosts.add({ hostname: h2, secure: true }, { trusted: false, nowIso: new Date(0).toISOString() })
    await writeBatch(b)
    assert.ok(await a.shared.catchUp())
    assert.equal(a.hosts.get(h2)?.trusted, false)
  } finally {
    for (const s of [a, b]) {
      s.shared.close()
      await s.db.close()
    }
  }
})
