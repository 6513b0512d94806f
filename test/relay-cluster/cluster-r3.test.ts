/**
 * The relay cluster on a 3-node NATS cluster with an R3 stream and R3 KV
 * buckets: two `ingest` workers, two `serve` frontends, three `atfed pds`
 * (cluster-network.ts). Mid-burst the node leading the stream is killed with
 * SIGKILL; the firehose must keep flowing (the stream elects a new leader,
 * publishers and readers move to the surviving nodes) and, read from a
 * frontend, hold every acknowledged commit exactly once, in per-repo order,
 * with contiguous seqs and a replay identical to what the live consumer saw.
 * Bounded: per-test timeout, deadlines on every wait, a watchdog that kills
 * every child (nats-server included) and exits if the file runs past it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { startNatsCluster } from '../helpers/nats.ts'
import type { NatsCluster } from '../helpers/nats.ts'
import { startPlcForPds } from '../helpers/pds.ts'
import { writeBurst } from '../helpers/pds-writers.ts'
import { collectStream } from '../helpers/stream-collector.ts'
import type { StreamCollector } from '../helpers/stream-collector.ts'
import { startWatchdog } from '../helpers/watchdog.ts'
import { checkFirehose, collectAfter, untilFollowed, waitFor, writerAccounts, wsOf } from './cluster-checks.ts'
import { startClusterNetwork } from './cluster-network.ts'
import type { ClusterNetwork } from './cluster-network.ts'

startWatchdog(170_000, 'test/relay-cluster/cluster-r3.test.ts')

const STREAM = 'R3E2E'
const ACCOUNTS_PER_PDS = 2
const WRITES_PER_ACCOUNT = 14
const KILL_AFTER_COMMITS = 20

const collectors: StreamCollector[] = []
function watch(collector: StreamCollector): StreamCollector {
  collectors.push(collector)
  return collector
}

/** Index of the node leading the stream (its Raft leader). */
async function streamLeader(nats: NatsCluster, nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc)
  const leader = (await jsm.streams.info(STREAM)).cluster?.leader
  const index = nats.nodes.findIndex((n) => n.name === leader)
  assert.ok(index >= 0, `the stream has a leader (${String(leader)})`)
  return index
}

/** On a stall: where the events stopped (the stream, or a frontend) and each relay's last stderr lines. */
async function explainStall(t: TestContext, net: ClusterNetwork, nc: NatsConnection, live: StreamCollector): Promise<void> {
  const info = await (await jetstreamManager(nc)).streams.info(STREAM).catch((err: unknown) => String(err))
  t.diagnostic(`stall: the live consumer is at seq ${live.events.at(-1)?.seq}; the stream: ${typeof info === 'string' ? info : `last seq ${info.state.last_seq}, leader ${info.cluster?.leader}`}`)
  for (const [role, children] of [['ingest', net.ingest], ['serve', net.serve]] as const) {
    for (const [i, child] of children.entries()) t.diagnostic(`${role} ${i} stderr:\n${child.stderr.join('\n')}`)
  }
}

test('relay cluster on 3 NATS nodes, R3: kill -9 the stream leader mid-burst; the firehose keeps every commit exactly once, in order', { timeout: 160_000 }, async (t) => {
  const nats = await startNatsCluster(3)
  const plc = await startPlcForPds()
  const root = mkdtempSync(join(tmpdir(), 'atfed-relay-r3-'))
  let net: ClusterNetwork | null = null
  let nc: NatsConnection | null = null
  try {
    const started = Date.now()
    net = await startClusterNetwork({ plcUrl: plc.url, natsUrls: nats.urls, root, stream: STREAM, ingest: 2, serve: 2, replicas: 3 })
    nc = await connect({ servers: nats.urls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 })
    const f0 = net.serve[0]!.url
    await waitFor('every host leased', async () => ((await net!.owners()).size === 3 ? true : null), 30_000)
    const live = watch(collectStream(wsOf(f0), { cursor: 0 }))
    await Promise.all(net.pdsUrls.map((url, p) => untilFollowed(url, p, live)))
    t.diagnostic(`every PDS followed at ${Date.now() - started} ms`)
    const accounts = await writerAccounts(net.pdsUrls, ACCOUNTS_PER_PDS)
    t.diagnostic(`cluster up and following in ${Date.now() - started} ms`)

    const before = live.events.length
    const burst = writeBurst(accounts, { writesPerAccount: WRITES_PER_ACCOUNT, seed: 11, label: 'r3' })
    const sequenced = (): number => live.events.slice(before).filter((e) => e.event.t === '#commit').length
    await live.until(() => sequenced() >= KILL_AFTER_COMMITS, `${KILL_AFTER_COMMITS} burst commits on the firehose`, 30_000)
    const leader = await streamLeader(nats, nc)
    const atKill = sequenced()
    await nats.kill(leader)
    t.diagnostic(`stream leader ${nats.nodes[leader]!.name} killed with ${atKill} burst commits on the firehose, ${burst.progress()} writes acknowledged`)
    const acked = await burst.done
    const flowedAt = Date.now()
    const collected = await collectAfter({ frontend: f0, live, pdsUrls: net.pdsUrls, accounts, acked, open: watch }).catch(async (err: unknown) => {
      await explainStall(t, net!, nc!, live)
      throw err
    })
    assert.ok(sequenced() > atKill, 'commits kept arriving after the node was lost')
    checkFirehose(collected, { pdsUrls: net.pdsUrls, accounts, acked })
    t.diagnostic(`${acked.length} writes, ${live.events.length} firehose events; complete ${Date.now() - flowedAt} ms after the burst ended; new leader ${await streamLeader(nats, nc).then((i) => nats.nodes[i]!.name, () => 'unknown (no answer in time)')}; ${Date.now() - started} ms in all`)
  } finally {
    for (const c of collectors) c.close()
    await nc?.close().catch(() => {})
    await net?.close()
    await plc.stop()
    await nats.stop()
    rmSync(root, { recursive: true, force: true })
  }
})
