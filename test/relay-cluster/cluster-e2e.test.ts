/**
 * The relay cluster end to end, every service a real process: a single-node
 * nats-server, three `atfed pds`, two `atfed relay --role ingest` workers
 * (both told every PDS; the leases split the hosts) and two `atfed relay
 * --role serve` frontends (cluster-network.ts). Accounts on each PDS write
 * in one burst during which
 *   1. the ingest worker holding the most hosts is killed with SIGKILL: its
 *      hosts must be leased by the other within the lease TTL (plus one
 *      lease round) and followed on from the cursors in the shared state;
 *   2. frontend 1 is killed with SIGKILL: a consumer that was reading it
 *      reconnects to frontend 0 with its cursor.
 * Then, from frontend 0:
 * - seqs contiguous, no repeat; a replay from 0 has the same frames;
 * - the consumer that moved frontends sees no gap and no duplicate;
 * - per repo, the #commit/#sync events are exactly the PDS's own firehose's,
 *   in order (every commit exactly once), and every acknowledged write is
 *   there with the commit CID the PDS answered;
 * - listHosts on the surviving frontend lists the three hosts, each with
 *   its PDS's last seq as cursor (read from the shared state).
 * Bounded everywhere: per-test timeout, every wait has a deadline, and a
 * watchdog kills every child and exits if the file still runs past it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL, RELAY_CLUSTER_LEASE_TTL_MS } from '../../core/limits.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import { startNats } from '../helpers/nats.ts'
import type { NatsCluster } from '../helpers/nats.ts'
import { startPlcForPds } from '../helpers/pds.ts'
import { createWriterAccount, writeBurst } from '../helpers/pds-writers.ts'
import type { WriterAccount } from '../helpers/pds-writers.ts'
import { assertContiguous, assertNoDroppedRepeats, assertSameEvents, repoTimeline } from '../helpers/stream-checks.ts'
import { collectStream, eventDid } from '../helpers/stream-collector.ts'
import type { CollectedEvent, StreamCollector } from '../helpers/stream-collector.ts'
import { startWatchdog } from '../helpers/watchdog.ts'
import { startClusterNetwork } from './cluster-network.ts'
import type { ClusterNetwork } from './cluster-network.ts'

startWatchdog(170_000, 'test/relay-cluster/cluster-e2e.test.ts')

const ACCOUNTS_PER_PDS = 2
const WRITES_PER_ACCOUNT = 14
const KILL_AFTER_COMMITS = 20
/** Hosts must have moved within the TTL plus one lease round, with room for a loaded machine. */
const MOVE_MS_MAX = RELAY_CLUSTER_LEASE_TTL_MS + 2 * (RELAY_CLUSTER_LEASE_TTL_MS / RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL) + 3_000

const collectors: StreamCollector[] = []
function watch(collector: StreamCollector): StreamCollector {
  collectors.push(collector)
  return collector
}

const wsOf = (httpUrl: string): string => httpUrl.replace(/^http/, 'ws') + '/xrpc/com.atproto.sync.subscribeRepos'
const commitKeys = (c: StreamCollector): Set<string> => new Set(c.events.flatMap((e) => (e.event.t === '#commit' ? [`${e.event.repo} ${e.event.rev}`] : [])))

async function waitFor<T>(what: string, probe: () => Promise<T | null>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Canary accounts on `pds` until one reaches the firehose (hosts are read live from when they are first followed). */
async function untilFollowed(pds: string, p: number, live: StreamCollector): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const canary = await createWriterAccount(pds, `canary${p}x${i}.test`)
    try {
      return await live.until(() => live.events.some((e) => eventDid(e.event) === canary.did), `canary ${canary.handle}`, 1_500)
    } catch {
      // not followed yet
    }
  }
  throw new Error(`the cluster never followed ${pds}`)
}

/** Kill the worker holding the most hosts; resolves with how long until the other held all of them. */
async function killIngestWorker(net: ClusterNetwork): Promise<{ victim: number; moved: number; movedMs: number }> {
  const owners = await net.owners()
  const counts = [0, 1].map((w) => [...owners.values()].filter((o) => o === w).length)
  const victim = (counts[0] ?? 0) >= (counts[1] ?? 0) ? 0 : 1
  const killedAt = Date.now()
  await net.ingest[victim]!.kill('SIGKILL')
  await waitFor('every host leased by the surviving worker', async () => {
    const now = await net.owners()
    return now.size === 3 && [...now.values()].every((o) => o === 1 - victim) ? true : null
  }, MOVE_MS_MAX + 5_000)
  return { victim, moved: counts[victim] ?? 0, movedMs: Date.now() - killedAt }
}

test('relay cluster: 2 ingest workers, 2 frontends, 3 PDSes; kill -9 a worker and a frontend mid-burst; every commit exactly once, in order', { timeout: 160_000 }, async (t) => {
  const nats: NatsCluster = await startNats()
  const plc = await startPlcForPds()
  const root = mkdtempSync(join(tmpdir(), 'atfed-relay-cluster-'))
  let net: ClusterNetwork | null = null
  try {
    const started = Date.now()
    net = await startClusterNetwork({ plcUrl: plc.url, natsUrls: nats.urls, root, stream: 'E2E', ingest: 2, serve: 2 })
    const [f0, f1] = net.serve.map((s) => s.url) as [string, string]
    const balanced = await waitFor('both workers to hold hosts', async () => {
      const owners = await net!.owners()
      return owners.size === 3 && new Set(owners.values()).size === 2 && !owners.has('') ? owners : null
    }, 3 * RELAY_CLUSTER_LEASE_TTL_MS)
    t.diagnostic(`cluster up in ${Date.now() - started} ms; leases: ${JSON.stringify([...balanced])}`)
    const live = watch(collectStream(wsOf(f0), { cursor: 0 }))
    await Promise.all(net.pdsUrls.map((url, p) => untilFollowed(url, p, live)))
    const accounts: WriterAccount[] = []
    for (const [p, url] of net.pdsUrls.entries()) {
      accounts.push(...(await Promise.all(Array.from({ length: ACCOUNTS_PER_PDS }, (_, i) => createWriterAccount(url, `user${p}x${i}.test`)))))
    }

    const before = live.events.length
    const leaver = watch(collectStream(wsOf(f1), { cursor: before > 0 ? live.events[before - 1]!.seq : 0 }))
    const burst = writeBurst(accounts, { writesPerAccount: WRITES_PER_ACCOUNT, seed: 9, label: 'cluster' })
    const sequenced = (): number => live.events.slice(before).filter((e) => e.event.t === '#commit').length
    await live.until(() => sequenced() >= KILL_AFTER_COMMITS, `${KILL_AFTER_COMMITS} burst commits on the firehose`, 30_000)
    const kill = await killIngestWorker(net)
    t.diagnostic(`ingest worker ${kill.victim} (holding ${kill.moved} hosts) killed; its hosts moved in ${kill.movedMs} ms (TTL ${RELAY_CLUSTER_LEASE_TTL_MS} ms)`)
    assert.ok(kill.movedMs <= MOVE_MS_MAX, `hosts moved in ${kill.movedMs} ms`)
    await net.serve[1]!.kill('SIGKILL')
    leaver.close()
    const resumeFrom = leaver.events.at(-1)?.seq ?? 0
    const returner = watch(collectStream(wsOf(f0), { cursor: resumeFrom }))
    const acked = await burst.done
    t.diagnostic(`${acked.length} writes acknowledged; frontend 1 killed after its consumer had ${leaver.events.length} events`)

    await live.until(() => acked.every((w) => commitKeys(live).has(`${w.did} ${w.rev}`)), 'every acknowledged write on the firehose', 40_000)
    const head = live.events.at(-1)!.seq
    await returner.until(() => returner.events.at(-1)?.seq === head, 'the moved consumer to catch up')
    const replay = watch(collectStream(wsOf(f0), { cursor: 0 }))
    await replay.until(() => replay.events.at(-1)?.seq === head, 'a replay from 0')
    const own = net.pdsUrls.map((url) => watch(collectStream(wsOf(url), { cursor: 0 })))
    for (const [p, stream] of own.entries()) {
      const mine = acked.filter((w) => accounts.find((a) => a.did === w.did)?.pds === net!.pdsUrls[p])
      await stream.until(() => mine.every((w) => commitKeys(stream).has(`${w.did} ${w.rev}`)), `PDS ${p}'s own firehose`)
    }

    for (const [c, what] of [[live, 'live'], [leaver, 'leaver'], [returner, 'returner'], [replay, 'replay']] as const) assertNoDroppedRepeats(c, what)
    assertContiguous(live.events, 'live consumer')
    assertContiguous(replay.events, 'replay')
    assertSameEvents(live.events, replay.events, 'live vs replay')
    assertContiguous([...leaver.events, ...returner.events], 'consumer moved from frontend 1 to frontend 0')
    assertSameEvents([...leaver.events, ...returner.events], replay.events, 'moved consumer vs replay')
    for (const account of accounts) {
      const pdsEvents: CollectedEvent[] = own[net.pdsUrls.indexOf(account.pds)]!.events
      assert.deepEqual(repoTimeline(live.events, account.did), repoTimeline(pdsEvents, account.did), `${account.handle}: firehose vs its PDS`)
    }
    const commitCid = new Map(live.events.flatMap((e) => (e.event.t === '#commit' ? [[`${e.event.repo} ${e.event.rev}`, e.event.commit.toString()]] : [])))
    for (const w of acked) assert.equal(commitCid.get(`${w.did} ${w.rev}`), w.commit, `${w.did} ${w.rev}`)

    const relay = new XrpcClient({ service: f0 })
    const hosts = await waitFor('listHosts cursors at each PDS head', async () => {
      const listed = (await relay.query<{ hosts: { hostname: string; seq?: number }[] }>('com.atproto.sync.listHosts')).body.hosts
      const atHead = own.every((s, p) => listed.some((h) => h.hostname.endsWith(`:${new URL(net!.pdsUrls[p]!).port}`) && h.seq === s.events.at(-1)!.seq))
      return listed.length === 3 && atHead ? listed : null
    }, 15_000)
    t.diagnostic(`${live.events.length} firehose events, ${acked.length} writes; hosts ${JSON.stringify(hosts.map((h) => h.seq))}; ${Date.now() - started} ms`)
  } finally {
    for (const c of collectors) c.close()
    await net?.close()
    await plc.stop()
    await nats.stop()
    rmSync(root, { recursive: true, force: true })
  }
})
