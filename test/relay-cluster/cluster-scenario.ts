/**
 * The relay cluster scenario both end-to-end files run (cluster-e2e on one
 * NATS node, cluster-r3 on three with R3): every service a real process —
 * three `atfed pds`, two `atfed relay --role ingest` workers (both told
 * every PDS; the leases split the hosts) and two `--role serve` frontends
 * (cluster-network.ts). Accounts on each PDS write in one burst during which
 *   `kill.natsLeader`: the NATS node leading the stream is killed with
 *      SIGKILL: the stream elects another leader, publishers and readers
 *      move on;
 *   `kill.workerAndFrontend`: the ingest worker holding the most hosts is
 *      killed with SIGKILL: its hosts must be leased by the other within the
 *      lease TTL plus a round (with room for a loaded machine) and followed
 *      on from the cursors in the shared state; then frontend 1 is killed
 *      with SIGKILL.
 * Either way a consumer reading frontend 1 moves to frontend 0 with its
 * cursor. Both at once (cluster-r3): right after a node loss a takeover
 * takes longer (up to 22 s seen: the cluster's own recovery adds to the
 * TTL), so that test allows `moveMsMax`.
 * Then, from frontend 0:
 * - seqs contiguous, no repeat; a replay from 0 has the same frames;
 * - the consumer that moved frontends sees no gap and no duplicate;
 * - per repo, the #commit/#sync events are exactly the PDS's own firehose's,
 *   in order (every commit exactly once), and every acknowledged write is
 *   there with the commit CID the PDS answered;
 * - the Jetstream JSON endpoint has every acknowledged commit;
 * - listHosts lists the three hosts, each with its PDS's last seq as cursor
 *   (read from the shared state).
 * On a failure it prints where the events stopped and each relay's stderr.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { WebSocket } from 'ws'
import { RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL, RELAY_CLUSTER_LEASE_TTL_MS } from '../../core/limits.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import type { NatsCluster } from '../helpers/nats.ts'
import { startPlcForPds } from '../helpers/pds.ts'
import { writeBurst } from '../helpers/pds-writers.ts'
import { assertContiguous, assertNoDroppedRepeats, assertSameEvents } from '../helpers/stream-checks.ts'
import { collectStream } from '../helpers/stream-collector.ts'
import type { StreamCollector } from '../helpers/stream-collector.ts'
import { checkFirehose, collectAfter, untilFollowed, waitFor, writerAccounts, wsOf } from './cluster-checks.ts'
import { startClusterNetwork } from './cluster-network.ts'
import type { ClusterNetwork } from './cluster-network.ts'

const ACCOUNTS_PER_PDS = 2
const WRITES_PER_ACCOUNT = 14
const KILL_AFTER_COMMITS = 20
/** Hosts must have moved within the TTL plus one lease round, with room for a loaded machine. */
const MOVE_MS_MAX = RELAY_CLUSTER_LEASE_TTL_MS + 2 * (RELAY_CLUSTER_LEASE_TTL_MS / RELAY_CLUSTER_LEASE_ROUNDS_PER_TTL) + 3_000

/** Which processes die mid-burst: the stream's NATS leader, and/or an ingest worker plus a frontend. */
export type ScenarioOptions = { nats: NatsCluster; stream: string; replicas: number; kill: { natsLeader: boolean; workerAndFrontend: boolean }; moveMsMax?: number }

/** Index of the node leading the stream (its Raft leader). */
async function streamLeader(nats: NatsCluster, nc: NatsConnection, stream: string): Promise<number> {
  const leader = (await (await jetstreamManager(nc)).streams.info(stream)).cluster?.leader
  const index = nats.nodes.findIndex((n) => n.name === leader)
  assert.ok(index >= 0, `the stream has a leader (${String(leader)})`)
  return index
}

/** Each host's getHostStatus (cursor, status, drop counters) as one relay process sees it. */
async function hostStatuses(url: string): Promise<string> {
  const client = new XrpcClient({ service: url })
  const { hosts } = (await client.query<{ hosts: { hostname: string }[] }>('com.atproto.sync.listHosts')).body
  const statuses = await Promise.all(hosts.map(async (h) => (await client.query('com.atproto.sync.getHostStatus', { hostname: h.hostname })).body))
  return JSON.stringify(statuses)
}

/** On a stall: where the events stopped (the stream, or a frontend) and each relay's last stderr lines. */
async function explainStall(t: TestContext, net: ClusterNetwork, nc: NatsConnection, stream: string, live: StreamCollector): Promise<void> {
  const info = await (await jetstreamManager(nc)).streams.info(stream).catch((err: unknown) => String(err))
  t.diagnostic(`stall: the live consumer is at seq ${live.events.at(-1)?.seq}; the stream: ${typeof info === 'string' ? info : `last seq ${info.state.last_seq}, leader ${info.cluster?.leader}`}`)
  for (const [role, children] of [['ingest', net.ingest], ['serve', net.serve]] as const) {
    for (const [i, child] of children.entries()) {
      const hosts = child.child.exitCode === null && child.child.signalCode === null
        ? await hostStatuses(child.url).catch((err: unknown) => String(err))
        : 'exited'
      t.diagnostic(`${role} ${i}: listHosts ${hosts}; stderr:\n${child.stderr.join('\n')}`)
    }
  }
}

/** Kill the worker holding the most hosts; resolves with how long until the other held all of them. */
async function killIngestWorker(net: ClusterNetwork, waitMs: number): Promise<{ victim: number; moved: number; movedMs: number; survivorLog: string }> {
  const owners = await waitFor('the lease owners', () => net.owners().catch(() => null), 45_000) // this test's own KV reads wait out a node loss too
  const counts = [0, 1].map((w) => [...owners.values()].filter((o) => o === w).length)
  const victim = (counts[0] ?? 0) >= (counts[1] ?? 0) ? 0 : 1
  const killedAt = Date.now()
  await net.ingest[victim]!.kill('SIGKILL')
  await waitFor('every host leased by the surviving worker', async () => {
    const now = await net.owners().catch(() => null)
    return now !== null && now.size === 3 && [...now.values()].every((o) => o === 1 - victim) ? true : null
  }, waitMs)
  const survivorLog = (net.clusterLines[1 - victim] ?? []).filter((l) => l.at >= killedAt).map((l) => `+${l.at - killedAt} ms ${l.line}`).join('\n')
  return { victim, moved: counts[victim] ?? 0, movedMs: Date.now() - killedAt, survivorLog }
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

/** Run the scenario (see the module header) on `options.nats`, which the caller started and stops. */
export async function runClusterScenario(t: TestContext, options: ScenarioOptions): Promise<void> {
  const { nats, stream } = options
  const plc = await startPlcForPds()
  const root = mkdtempSync(join(tmpdir(), 'atfed-relay-cluster-'))
  const collectors: StreamCollector[] = []
  const watch = (collector: StreamCollector): StreamCollector => (collectors.push(collector), collector)
  let net: ClusterNetwork | null = null
  let nc: NatsConnection | null = null
  try {
    const started = Date.now()
    net = await startClusterNetwork({ plcUrl: plc.url, natsUrls: nats.urls, root, stream, ingest: 2, serve: 2, replicas: options.replicas })
    nc = await connect({ servers: nats.urls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 })
    const [f0, f1] = net.serve.map((s) => s.url) as [string, string]
    const balanced = await waitFor('both workers to hold hosts', async () => {
      const owners = await net!.owners().catch(() => null)
      const who = [...(owners?.values() ?? [])]
      return owners !== null && owners.size === 3 && new Set(who).size === 2 && !who.includes(-1) ? owners : null
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
    t.diagnostic(`${KILL_AFTER_COMMITS} burst commits on the firehose at ${Date.now() - started} ms`)
    if (options.kill.natsLeader) {
      const leader = await streamLeader(nats, nc, stream)
      const atKill = sequenced()
      const killedAt = Date.now()
      await nats.kill(leader)
      await live.until(() => sequenced() >= atKill + 5, 'the firehose flowing again after the node loss', 45_000)
      t.diagnostic(`NATS node ${nats.nodes[leader]!.name} (the stream's leader) killed with ${atKill} burst commits on the firehose; 5 more within ${Date.now() - killedAt} ms`)
    }
    if (options.kill.workerAndFrontend) {
      const kill = await killIngestWorker(net, (options.moveMsMax ?? MOVE_MS_MAX) + 10_000)
      t.diagnostic(`ingest worker ${kill.victim} (holding ${kill.moved} hosts) killed; its hosts moved in ${kill.movedMs} ms (TTL ${RELAY_CLUSTER_LEASE_TTL_MS} ms); the survivor since the kill:\n${kill.survivorLog}`)
      if (kill.movedMs > (options.moveMsMax ?? MOVE_MS_MAX)) await explainStall(t, net, nc, stream, live)
      assert.ok(kill.movedMs <= (options.moveMsMax ?? MOVE_MS_MAX), `hosts moved in ${kill.movedMs} ms`)
      await net.serve[1]!.kill('SIGKILL')
    }
    leaver.close()
    const resumeFrom = leaver.events.at(-1)?.seq ?? 0
    const returner = watch(collectStream(wsOf(f0), { cursor: resumeFrom }))
    const acked = await burst.done
    t.diagnostic(`${acked.length} writes acknowledged; the consumer of frontend 1 moved to frontend 0 after ${leaver.events.length} events`)

    const collected = await collectAfter({ frontend: f0, live, pdsUrls: net.pdsUrls, accounts, acked, open: watch }).catch(async (err: unknown) => {
      await explainStall(t, net!, nc!, stream, live)
      throw err
    })
    const { own, replay } = collected
    // (The moved consumer may already have had everything: then it has nothing more to get.)
    await returner.until(() => (returner.events.at(-1)?.seq ?? resumeFrom) === live.events.at(-1)!.seq, 'the moved consumer to catch up').catch((err: unknown) => {
      t.diagnostic(`moved consumer: cursor ${resumeFrom}, head ${live.events.at(-1)!.seq}, client ${JSON.stringify(returner.client.stats())}, frontend 0 stderr:\n${net!.serve[0]!.stderr.join('\n')}`)
      throw err
    })
    checkFirehose(collected, { pdsUrls: net.pdsUrls, accounts, acked })
    assertNoDroppedRepeats(leaver, 'leaver')
    assertNoDroppedRepeats(returner, 'returner')
    assertContiguous([...leaver.events, ...returner.events], 'consumer moved from frontend 1 to frontend 0')
    assertSameEvents([...leaver.events, ...returner.events], replay.events, 'moved consumer vs replay')

    const jsonRevs = await jetstreamRevs(f0, new Set(acked.map((w) => `${w.did} ${w.rev}`)))
    for (const w of acked) assert.ok(jsonRevs.has(`${w.did} ${w.rev}`), `Jetstream endpoint has ${w.did} ${w.rev}`)
    const relay = new XrpcClient({ service: f0 })
    const hosts = await waitFor('listHosts cursors at each PDS head', async () => {
      const listed = (await relay.query<{ hosts: { hostname: string; seq?: number }[] }>('com.atproto.sync.listHosts')).body.hosts
      const atHead = own.every((s, p) => listed.some((h) => h.hostname.endsWith(`:${new URL(net!.pdsUrls[p]!).port}`) && h.seq === s.events.at(-1)!.seq))
      return listed.length === 3 && atHead ? listed : null
    }, 20_000)
    t.diagnostic(`${live.events.length} firehose events, ${acked.length} writes; host cursors ${JSON.stringify(hosts.map((h) => h.seq))}; ${Date.now() - started} ms in all`)
  } finally {
    for (const c of collectors) c.close()
    await nc?.close().catch(() => {})
    await net?.close()
    await plc.stop()
    rmSync(root, { recursive: true, force: true })
  }
}
