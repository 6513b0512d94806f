/**
 * The account states a worker takes a host over with, forced into the two
 * races that made the end-to-end files flaky (a taken-over host dropped its
 * next commit as ChainBroken), on a real single-node nats-server:
 * 1. the previous owner's last KV write reaches the new owner's mirror only
 *    after the new owner holds the lease (before the fix, the watch ignored
 *    it: keys of an owned host were taken for echoes of its own writes);
 * 2. the previous owner published commits and died before writing their
 *    states to the KV bucket: the new owner must hold the state of the last
 *    commit published and resume after it (read back from the stream), not
 *    the bucket's; and it must not read past an event whose state the
 *    previous owner could not tell (relay/cluster/stream-states.ts).
 * Both sides are in-process (stores, SharedState, JetStreamEventLog), the
 * "sequencer" is the same stage → publish → write → mirror steps by hand.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import type { CID } from '../../core/data/cid.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import { AccountStore, decodeAccountJson } from '../../relay/accounts.ts'
import type { AccountState } from '../../relay/accounts.ts'
import { pullRevisions } from '../../relay/cluster/bucket-pull.ts'
import type { BucketRevision } from '../../relay/cluster/bucket-pull.ts'
import { accountKey, clusterBuckets, keyOf } from '../../relay/cluster/kv-names.ts'
import { SharedState } from '../../relay/cluster/shared-state.ts'
import { accountAnnotator } from '../../relay/cluster/stream-states.ts'
import { HostRegistry } from '../../relay/hosts/host-registry.ts'
import type { HostName } from '../../relay/hosts/host-name.ts'
import { JetStreamEventLog } from '../../relay/log/jetstream-event-log.ts'
import { openRelayDb } from '../../relay/relay-db.ts'
import type { RelayDb } from '../../relay/relay-db.ts'
import { startNats } from '../helpers/nats.ts'
import { startWatchdog } from '../helpers/watchdog.ts'

startWatchdog(60_000, 'test/relay-cluster/takeover-state.test.ts')
const nats = await startNats()
const connections: NatsConnection[] = []
const open: Worker[] = []
const dirs: string[] = []
after(async () => {
  for (const w of [...open]) await closeWorker(w).catch(() => {})
  for (const nc of connections) await nc.close().catch(() => {})
  await nats.stop()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const H1 = 'h1.test' as HostName
const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did
const REVS = ['3kaaaaaaaaa22', '3kaaaaaaaaa23', '3kaaaaaaaaa24', '3kaaaaaaaaa25'] as Tid[]


type Worker = { db: RelayDb; hosts: HostRegistry; accounts: AccountStore; shared: SharedState; log: JetStreamEventLog | null; owned: Set<HostName> }

async function worker(stream: string, options: { log: boolean; mirrorAccounts?: boolean }): Promise<Worker> {
  const nc = await connect({ servers: nats.urls, maxReconnectAttempts: 0 })
  connections.push(nc)
  const dir = mkdtempSync(join(tmpdir(), 'atfed-cluster-takeover-'))
  dirs.push(dir)
  const db = await openRelayDb(dir)
  const hosts = await HostRegistry.open(db)
  const accounts = await AccountStore.open(db)
  const owned = new Set<HostName>()
  const log = options.log ? await JetStreamEventLog.open(nc, { stream, subject: `atfed.test.${stream}` }) : null
  if (log !== null) log.annotate = accountAnnotator(accounts)
  const streamOptions = log === null ? {} : { streamSeq: () => log.lastSeq(), streamStates: (host: HostName, afterSeq: number) => log.hostAccountStates(host, afterSeq, 10_000) }
  const mirror = options.mirrorAccounts === undefined ? {} : { mirrorAccounts: options.mirrorAccounts }
  const shared = await SharedState.open(nc, { buckets: clusterBuckets(stream), replicas: 1, hosts, accounts, owns: (h) => owned.has(h), poke: () => {}, logLine: () => {}, ...streamOptions, ...mirror })
  await shared.start()
  const w = { db, hosts, accounts, shared, log, owned }
  open.push(w)
  return w
}

async function closeWorker(w: Worker): Promise<void> {
  const i = open.indexOf(w)
  if (i < 0) return
  open.splice(i, 1)
  w.shared.close()
  await w.log?.close()
  await w.db.close()
}

/** The sequencer's cluster path by hand: stage, publish the events, write the db, mirror to the buckets (drained). */
async function writeBatch(w: Worker, events: UnsequencedEvent[], options: { mirror: boolean } = { mirror: true }): Promise<void> {
  const staged = [w.hosts.stage(), w.accounts.stage()]
  if (events.length > 0) await w.log?.append(events)
  const ops = staged.flatMap((x) => x.ops)
  await w.db.batch(ops)
  if (options.mirror) {
    await w.shared.mirror(ops)
    assert.ok(await w.shared.drain(5_000), 'the queued writes reached the buckets')
  }
  for (const x of staged) x.settled()
}

async function dataCid(i: number): Promise<CID> {
  return cidForCbor(encodeCbor({ mst: i }))
}

/** What accept does for a chaining commit of DID on H1: the state moves to `rev` and the event is queued. */
async function acceptCommit(w: Worker, i: number): Promise<UnsequencedEvent> {
  const account = w.accounts.get(DID) ?? { did: DID, host: H1, rev: null, commit: null, data: null, status: 'active', upstream: 'active' }
  const commit = await cidForCbor(encodeCbor({ commit: i }))
  const event: UnsequencedEvent = { t: '#commit', seq: 100 + i, repo: DID, commit, rev: REVS[i] as Tid, since: account.rev, blocks: new Uint8Array(0), ops: [], prevData: account.data, time: new Date(0).toISOString() as Datetime }
  account.rev = REVS[i] as Tid
  account.commit = commit
  account.data = await dataCid(i)
  w.accounts.put(account)
  const record = w.hosts.get(H1) ?? w.hosts.add({ hostname: H1, secure: true }, { trusted: true, nowIso: new Date(0).toISOString() })
  w.hosts.update(record, (r) => (r.cursor = 100 + i))
  return event
}

function stateOf(w: Worker): Pick<AccountState, 'rev' | 'status'> & { data: string | undefined } {
  const account = w.accounts.get(DID)
  return { rev: account?.rev ?? null, status: account?.status ?? 'active', data: account?.data?.toString() }
}

test('takeover: the previous owner\'s last KV write lands after the lease moved; the new owner still applies it', { timeout: 30_000 }, async () => {
  const a = await worker('T1', { log: false })
  const b = await worker('T1', { log: false })
  try {
    a.owned.add(H1)
    await writeBatch(a, [await acceptCommit(a, 0)])
    assert.ok(await b.shared.catchUp())
    assert.equal(stateOf(b).rev, REVS[0])
    // The lease moves to b (a's hand-over, or a's lease expired) while a's last batch is still being written.
    b.owned.add(H1)
    await writeBatch(a, [await acceptCommit(a, 1)])
    assert.ok(await b.shared.catchUp(), 'b\'s watch has seen every revision of the buckets')
    const record = await b.shared.takeOver(H1)
    assert.equal(record?.cursor, 101, 'the cursor is the bucket\'s (after rev 1)')
    assert.deepEqual(stateOf(b), { rev: REVS[1], status: 'active', data: (await dataCid(1)).toString() }, 'the account state matches that cursor')
  } finally {
    await closeWorker(a)
    await closeWorker(b)
  }
})

test('takeover: the previous owner published two commits and died before writing them to the KV bucket; the new owner holds the last one published', { timeout: 30_000 }, async () => {
  const a = await worker('T2', { log: true })
  const b = await worker('T2', { log: true })
  try {
    a.owned.add(H1)
    await writeBatch(a, [await acceptCommit(a, 0)])
    // Two more batches published, never mirrored (a is killed between publish and its KV writes).
    await writeBatch(a, [await acceptCommit(a, 1)], { mirror: false })
    await writeBatch(a, [await acceptCommit(a, 2)], { mirror: false })
    // A commit a had applied but not yet published when it died: not in the stream, so not taken over.
    await acceptCommit(a, 3)
    await closeWorker(a)
    b.owned.add(H1)
    const record = await b.shared.takeOver(H1)
    assert.deepEqual(stateOf(b), { rev: REVS[2], status: 'active', data: (await dataCid(2)).toString() }, 'the state of the last commit on the stream')
    assert.equal(record?.cursor, 102, 'b resumes right after the last upstream event published (the bucket says 100)')
    // b's next host record says which seq its account states cover: a third worker needs nothing from the stream before it.
    await writeBatch(b, [await acceptCommit(b, 3)])
    const c = await worker('T2', { log: true })
    try {
      c.owned.add(H1)
      await c.shared.takeOver(H1)
      assert.deepEqual(stateOf(c), { rev: REVS[3], status: 'active', data: (await dataCid(3)).toString() })
    } finally {
      await closeWorker(c)
    }
  } finally {
    await closeWorker(b)
  }
})

test('takeover: an event appended after its account moved on (two of its events in one batch) is inexact: the new owner stops reading there', { timeout: 30_000 }, async () => {
  const a = await worker('T3', { log: true })
  const b = await worker('T3', { log: true })
  a.owned.add(H1)
  await writeBatch(a, [await acceptCommit(a, 0)])
  const first = await acceptCommit(a, 1)
  await writeBatch(a, [first], { mirror: false })
  // Revs 2 and 3 both applied before rev 2 is appended (both in one batch).
  const second = await acceptCommit(a, 2)
  const third = await acceptCommit(a, 3)
  await a.log?.append([second])
  await a.log?.append([third])
  await closeWorker(a)
  b.owned.add(H1)
  const record = await b.shared.takeOver(H1)
  assert.deepEqual(stateOf(b), { rev: REVS[1], status: 'active', data: (await dataCid(1)).toString() }, 'the last state the stream vouches for')
  assert.equal(record?.cursor, 101, 'b receives rev 2 and 3 again (2 chains onto 1; both are de-duplicated on publish)')
  await closeWorker(b)
})

test('takeover: an #account appended after a later commit of its batch was applied vouches for no state; the new owner does not skip that commit', { timeout: 30_000 }, async () => {
  const a = await worker('T3A', { log: true })
  const b = await worker('T3A', { log: true })
  a.owned.add(H1)
  await writeBatch(a, [await acceptCommit(a, 0)])
  await writeBatch(a, [await acceptCommit(a, 1)], { mirror: false })
  // One batch: an #account (upstream seq 102), then the commit of rev 2 (seq 103), both applied before
  // either is appended; the worker dies after appending the #account only.
  const accountEvent: UnsequencedEvent = { t: '#account', seq: 102, did: DID, active: true, status: null, time: new Date(0).toISOString() as Datetime }
  await acceptCommit(a, 2)
  await a.log?.append([accountEvent])
  await closeWorker(a)
  b.owned.add(H1)
  const record = await b.shared.takeOver(H1)
  assert.equal(stateOf(b).rev, REVS[1], 'not rev 2: its commit was never published')
  assert.equal(record?.cursor, 101, 'b receives the #account and rev 2 again')
  await closeWorker(b)
})

test('bucket pull: a bucket\'s revisions read straight from its stream (what catch-up uses when a watch stalls), overwritten ones gone, deletes marked; the same without a consumer (one get per message)', { timeout: 20_000 }, async () => {
  const nc = await connect({ servers: nats.urls, maxReconnectAttempts: 0 })
  connections.push(nc)
  const jsm = await jetstreamManager(nc)
  const kv = await new Kvm(nc).create('PULL', { history: 1 })
  await kv.put('a', '1') // 1: overwritten by 3, gone
  await kv.put('b', '2') // 2
  await kv.put('a', '3') // 3
  await kv.delete('b') // 4: a delete marker (b's put at 2 is gone)
  await kv.put('c', '5') // 5
  // No consumer can be made through this client (no JetStream API under that prefix): reads fall back to gets.
  for (const js of [jetstream(nc), jetstream(nc, { apiPrefix: 'NO.SUCH.API', timeout: 500 })]) {
    const got: BucketRevision[] = []
    assert.equal(await pullRevisions(js, jsm, { bucket: 'PULL', after: 0, upTo: 5, timeoutMs: 5_000 }, (r) => got.push(r)), true)
    assert.deepEqual(got.map((r) => [r.revision, r.key, r.operation, r.operation === 'PUT' ? r.value : '']), [[3, 'a', 'PUT', '3'], [4, 'b', 'DEL', ''], [5, 'c', 'PUT', '5']])
    const after: BucketRevision[] = []
    await pullRevisions(js, jsm, { bucket: 'PULL', after: 4, upTo: 5, timeoutMs: 5_000 }, (r) => after.push(r))
    assert.deepEqual(after.map((r) => r.revision), [5])
    const none: BucketRevision[] = []
    await pullRevisions(js, jsm, { bucket: 'PULL', after: 5, upTo: 5, timeoutMs: 5_000 }, (r) => none.push(r))
    assert.deepEqual(none, [])
  }
})

test('takeover by an ingest worker (no accounts mirror): it loads the host\'s accounts by key prefix, nobody else\'s, and does not write them back unchanged', { timeout: 30_000 }, async () => {
  const a = await worker('T4', { log: true })
  const b = await worker('T4', { log: true, mirrorAccounts: false })
  a.owned.add(H1)
  await writeBatch(a, [await acceptCommit(a, 0)])
  await writeBatch(a, [await acceptCommit(a, 1)])
  // An account of another host, also a's.
  const h2 = 'h2.test' as HostName
  const other = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb' as Did
  a.owned.add(h2)
  a.hosts.add({ hostname: h2, secure: true }, { trusted: true, nowIso: new Date(0).toISOString() })
  a.accounts.put({ did: other, host: h2, rev: REVS[0] as Tid, commit: null, data: null, status: 'active', upstream: 'active' })
  await writeBatch(a, [])
  assert.ok(await b.shared.catchUp())
  assert.equal(b.accounts.get(DID), null, 'an ingest worker does not mirror accounts')
  await closeWorker(a)
  b.owned.add(H1)
  await b.shared.takeOver(H1)
  assert.deepEqual(stateOf(b), { rev: REVS[1], status: 'active', data: (await dataCid(1)).toString() })
  assert.equal(b.accounts.get(other), null, 'nor those of hosts it did not take')
  const kv = await new Kvm(connections[connections.length - 1]!).open(clusterBuckets('T4').accounts)
  const key = accountKey(H1, DID)
  const before = (await kv.get(key))?.revision
  await writeBatch(b, [])
  assert.equal((await kv.get(key))?.revision, before, 'the loaded state is not written back unchanged')
  await writeBatch(b, [await acceptCommit(b, 2)])
  assert.equal(decodeAccountJson((await kv.get(key))!.string()).rev, REVS[2], 'a changed one is')
  await closeWorker(b)
})

test('mirror: a batch\'s host record (its cursor) reaches the bucket after every account state of that batch, even when the writer was idle', { timeout: 30_000 }, async () => {
  const a = await worker('T5', { log: true })
  a.owned.add(H1)
  const dids = Array.from({ length: 5 }, (_, i) => `did:plc:${String(i).padStart(24, 'c')}` as Did)
  a.hosts.add({ hostname: H1, secure: true }, { trusted: true, nowIso: new Date(0).toISOString() })
  for (const did of dids) a.accounts.put({ did, host: H1, rev: REVS[0] as Tid, commit: null, data: null, status: 'active', upstream: 'active' })
  a.hosts.update(a.hosts.get(H1)!, (r) => (r.cursor = 7))
  await writeBatch(a, [])
  const kv = await new Kvm(connections[connections.length - 1]!).open(clusterBuckets('T5').hosts)
  const accountsKv = await new Kvm(connections[connections.length - 1]!).open(clusterBuckets('T5').accounts)
  const hostRevision = (await kv.get(keyOf(H1)))!.revision
  const accountRevisions = await Promise.all(dids.map(async (did) => (await accountsKv.get(accountKey(H1, did)))!.revision))
  // Both buckets count revisions separately: compare by write time instead.
  const hostAt = (await kv.get(keyOf(H1)))!.created.getTime()
  const accountsAt = await Promise.all(dids.map(async (did) => (await accountsKv.get(accountKey(H1, did)))!.created.getTime()))
  assert.ok(hostRevision > 0 && accountRevisions.every((r) => r > 0))
  assert.ok(accountsAt.every((t) => t <= hostAt), `every account state was written before the host record (${JSON.stringify(accountsAt)} vs ${hostAt})`)
  await closeWorker(a)
})
