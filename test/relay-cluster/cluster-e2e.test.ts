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
import { WebSocket } from 'ws'
import { RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL, RELAY_CLUSTER_LEASE_TTL_MS } from '../../core/limits.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import { startNats } from '../helpers/nats.ts'
import type { NatsCluster } from '../helpers/nats.ts'
import { startPlcForPds } from '../helpers/pds.ts'
import { writeBurst } from '../helpers/pds-writers.ts'
import { assertContiguous, assertNoDroppedRepeats, assertSameEvents } from '../helpers/stream-checks.ts'
import { collectStream } from '../helpers/stream-collector.ts'
import type { StreamCollector } from '../helpers/stream-collector.ts'
import { startWatchdog } from '../helpers/watchdog.ts'
import { checkFirehose, collectAfter, untilFollowed, waitFor, writerAccounts, wsOf } from './cluster-checks.ts'
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

/** `did rev` of the commit messages a frontend's Jetstream endpoint replays from its oldest event, until all of `wanted` came (bounded). */
async function jetstreamRevs(frontend: string, wanted: ReadonlySet<string>): Promise<Set<string>> {
  const seen = new Set<string>()
  const ws = new WebSocket(`${frontend.replace(/^http/, 'ws')}/subscribe?cursor=1`)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => resolve(), 15_000)
      ws.on('error', (err) => (clearTimeout(timer), reject(err)))
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { did: string; kind: string; commit?: { rev: string } }
        if (message.kind === 'commit' && message.commit !== undefined) seen.add(`${message.did} ${message.commit.rev}`)
        if ([...wanted].every((k) => seen.has(k))) (clearTimeout(timer), resolve())
      })
    })
  } finally {
    ws.terminate()
  }
  return seen
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
      const who = [...owners.values()]
      return owners.size === 3 && new Set(who).size === 2 && !who.includes(-1) ? owners : null
    }, 3 * RELAY_CLUSTER_LEASE_TTL_MS)
    t.diagnostic(`cluster up in ${Date.now() - started} ms; leases: ${JSON.stringify([...balanced])}`)
    const live = watch(collectStream(wsOf(f0), { cursor: 0 }))
    await Promise.all(net.pdsUrls.map((url, p) => untilFollowed(url, p, live)))
    t.diagnostic(`every PDS followed at ${Date.now() - started} ms`)
    const accounts = await writerAccounts(net.pdsUrls, ACCOUNTS_PER_PDS)

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

    const collected = await collectAfter({ frontend: f0, live, pdsUrls: net.pdsUrls, accounts, acked, open: watch })
    const { own, replay } = collected
    await returner.until(() => returner.events.at(-1)?.seq === live.events.at(-1)!.seq, 'the moved consumer to catch up')
    checkFirehose(collected, { pdsUrls: net.pdsUrls, accounts, acked })
    assertNoDroppedRepeats(leaver, 'leaver')
    assertNoDroppedRepeats(returner, 'returner')
    assertContiguous([...leaver.events, ...returner.events], 'consumer moved from frontend 1 to frontend 0')
    assertSameEvents([...leaver.events, ...returner.events], replay.events, 'moved consumer vs replay')

    const relay = new XrpcClient({ service: f0 })
    const hosts = await waitFor('listHosts cursors at each PDS head', async () => {
      const listed = (await relay.query<{ hosts: { hostname: string; seq?: number }[] }>('com.atproto.sync.listHosts')).body.hosts
      const atHead = own.every((s, p) => listed.some((h) => h.hostname.endsWith(`:${new URL(net!.pdsUrls[p]!).port}`) && h.seq === s.events.at(-1)!.seq))
      return listed.length === 3 && atHead ? listed : null
    }, 15_000)
    const jsonRevs = await jetstreamRevs(f0, new Set(acked.map((w) => `${w.did} ${w.rev}`)))
    for (const w of acked) assert.ok(jsonRevs.has(`${w.did} ${w.rev}`), `Jetstream endpoint has ${w.did} ${w.rev}`)
    t.diagnostic(`${live.events.length} firehose events, ${acked.length} writes; hosts ${JSON.stringify(hosts.map((h) => h.seq))}; ${Date.now() - started} ms`)
  } finally {
    for (const c of collectors) c.close()
    await net?.close()
    await plc.stop()
    await nats.stop()
    rmSync(root, { recursive: true, force: true })
  }
})
