/**
 * Bench section `relay-cluster`: the relay as a cluster on NATS JetStream
 * (one nats-server on loopback) beside the single-process `level` relay,
 * all measured in the same run on the same frames.
 *
 * Upstream: two scripted hosts (relay-ingest-host.ts children), each with
 * its own accounts and commits (relay-data.ts frames: ~4–5 KB, k256, full
 * inversion). Every relay runs in its own process (relay-cluster-node.ts,
 * DID cache warm, verification on its main thread) and reads both hosts
 * from cursor 0.
 * - ingest: the clock runs from "follow these hosts" until the log holds
 *   every commit. Level: one process. Cluster: 1 then 2 `ingest` workers on
 *   a fresh stream; the leases give each worker its share of the hosts.
 *   CPU per commit = all workers' CPU / commits (what a core buys).
 * - fan-out: 1,000 live `ws` consumers (stream-fanout-clients.ts), half on
 *   each of two `serve` frontends, connected before 2 ingest workers start;
 *   the clock runs until every consumer has every event. Beside it, the
 *   level relay's own fan-out to 1,000 consumers (relay-fanout.ts, one host).
 * Everything shares this machine's cores (the nats-server, hosts, workers,
 * frontends and consumer processes): the ratios are what this measures, not
 * what separate machines would give.
 */
import { fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createInterface } from 'node:readline'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { clusterBuckets } from '../relay/cluster/kv-names.ts'
import { startNats } from '../test/helpers/nats.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { buildRelayFrames, plcRegistrar } from './relay-data.ts'
import { measureFanout } from './relay-fanout.ts'
import { loadHostChild, startHostChild } from './relay-ingest-modes.ts'
import type { HostChild } from './relay-ingest-modes.ts'

const FULL = { perHost: { dids: 4, records: 1_500, commits: 1_000 }, consumers: 1_000 }
const QUICK = { perHost: { dids: 2, records: 300, commits: 200 }, consumers: 1_000 }
type Sizes = typeof FULL

const NOTE_INGEST = 'commits/s from "follow" until the log holds every commit: 2 upstream hosts from cursor 0, verification on each relay\'s main thread; cluster rows publish to a 1-node JetStream stream (R1) and keep host/account state in KV; all processes share 2 cores'
const NOTE_CPU = 'CPU of every relay process (ingest workers) per commit, from the same runs: the cost one core pays, to size worker counts'
const NOTE_FANOUT = 'events delivered per second, all consumers, clock until each of the 1,000 live consumers has every event (ingest included); cluster: 2 ingest workers + 2 serve frontends (500 consumers each); level: one relay process, one host'

type Node = { child: ChildProcess; url: string; request(message: object): Promise<Record<string, number | string | boolean>> }

async function startNode(args: object): Promise<Node> {
  const child = fork(new URL('./relay-cluster-node.ts', import.meta.url).pathname, [JSON.stringify(args)], { execArgv: ['--import', 'tsx'] })
  const [ready] = (await once(child, 'message')) as [{ url: string }]
  const request = async (message: object): Promise<Record<string, number | string | boolean>> => {
    const reply = once(child, 'message') as Promise<[Record<string, number | string | boolean>]>
    child.send(message)
    return (await reply)[0]
  }
  return { child, url: ready.url, request }
}

async function stopNode(node: Node): Promise<void> {
  if (node.child.exitCode !== null) return
  const exited = once(node.child, 'exit')
  node.child.send({ exit: true })
  await exited
}

type Run = { plcUrl: string; dids: string[]; hosts: HostChild[]; total: number; natsUrl: string; nc: NatsConnection }
type IngestResult = { perSecond: number; cpuUsPerCommit: number }

/** Wait until `count` ingest workers heartbeat in the stream's leases bucket (so the first lease round splits the hosts). */
async function workersRegistered(run: Run, stream: string, count: number): Promise<void> {
  const kv = await new Kvm(run.nc).create(clusterBuckets(stream).leases, { history: 1 })
  const deadline = Date.now() + 30_000
  for (;;) {
    let n = 0
    for await (const _ of await kv.keys('w.*')) n++
    if (n >= count) return
    if (Date.now() > deadline) throw new Error(`only ${n} of ${count} ingest workers registered`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Level (workers 0) or a cluster of `workers` ingest processes: follow both hosts, time until the log has every commit. */
async function measureIngest(run: Run, workers: number, stream: string, extra: Node[] = []): Promise<IngestResult> {
  const base = { plcUrl: run.plcUrl, dids: run.dids, nats: run.natsUrl, stream }
  const nodes = workers === 0 ? [await startNode({ ...base, mode: 'level' })] : await Promise.all(Array.from({ length: workers }, () => startNode({ ...base, mode: 'ingest' })))
  try {
    if (workers > 0) await workersRegistered(run, stream, workers)
    const cpuBefore = await Promise.all(nodes.map((n) => n.request({ cpu: true })))
    const start = performance.now()
    await (nodes[0] as Node).request({ follow: run.hosts.map((h) => h.origin) })
    await Promise.all([...nodes, ...extra].map((n) => n.request({ waitSeq: run.total })))
    const seconds = (performance.now() - start) / 1000
    const cpuAfter = await Promise.all(nodes.map((n) => n.request({ cpu: true })))
    const cpuMs = cpuAfter.reduce((sum, c, i) => sum + (c['cpuMs'] as number) - ((cpuBefore[i] as Record<string, number>)['cpuMs'] as number), 0)
    return { perSecond: run.total / seconds, cpuUsPerCommit: (cpuMs * 1000) / run.total }
  } finally {
    await Promise.all(nodes.map(stopNode))
  }
}

/** 1,000 live consumers over two frontends while 2 ingest workers read both hosts; deliveries per second. */
async function measureClusterFanout(run: Run, consumers: number, stream: string): Promise<{ deliveriesPerSecond: number; seconds: number }> {
  const base = { plcUrl: run.plcUrl, dids: run.dids, nats: run.natsUrl, stream }
  const frontends = await Promise.all([startNode({ ...base, mode: 'serve' }), startNode({ ...base, mode: 'serve' })])
  const clients: ChildProcess[] = []
  try {
    const ready: Promise<IteratorResult<string>>[] = []
    const done: Promise<IteratorResult<string>>[] = []
    for (const frontend of frontends) {
      const url = `${frontend.url.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`
      const child = spawn(process.execPath, ['--import', 'tsx', new URL('./stream-fanout-clients.ts', import.meta.url).pathname, url, String(consumers / 2), String(run.total)], { stdio: ['ignore', 'pipe', 'inherit'] })
      clients.push(child)
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
      ready.push(lines.next())
      done.push(ready[ready.length - 1]!.then(() => lines.next()))
    }
    for (const r of await Promise.all(ready)) if (r.value !== 'ready') throw new Error('consumers did not connect')
    const start = performance.now()
    await measureIngest(run, 2, stream, frontends)
    for (const d of await Promise.all(done)) if (!String(d.value).startsWith('done')) throw new Error(`consumers: ${String(d.value)}`)
    const seconds = (performance.now() - start) / 1000
    return { deliveriesPerSecond: (run.total * consumers) / seconds, seconds }
  } finally {
    for (const c of clients) c.kill()
    await Promise.all(frontends.map(stopNode))
  }
}

function recordIngest(context: SectionContext, label: string, r: IngestResult): void {
  context.record({ name: `verified commits/s, ${label}`, value: r.perSecond, unit: 'commits/s', higherIsBetter: true, note: NOTE_INGEST })
  context.record({ name: `CPU per commit, ${label}`, value: r.cpuUsPerCommit, unit: 'µs', higherIsBetter: false, note: NOTE_CPU })
}

async function runOurs(context: SectionContext, sizes: Sizes): Promise<void> {
  const nats = await startNats()
  const plcDir = mkdtempSync(`${tmpdir()}/atfed-bench-cluster-plc-`)
  const plc = await startPlcServer({ port: 0, dataDir: plcDir })
  const hosts = [await startHostChild(), await startHostChild()]
  const nc = await connect({ servers: nats.urls })
  try {
    const dids: string[] = []
    for (const host of hosts) {
      context.progress(`building ${sizes.perHost.dids} repos, ${sizes.perHost.commits} commits for ${host.origin}`)
      const data = await buildRelayFrames(sizes.perHost, plcRegistrar(plc.url, host.origin))
      dids.push(...data.dids)
      await loadHostChild(host, data.frames, tmpdir())
    }
    const run: Run = { plcUrl: plc.url, dids, hosts, total: 2 * sizes.perHost.commits, natsUrl: nats.urls, nc }
    const stamp = Date.now().toString(36)
    context.progress('ingest: level, one process')
    const level = await measureIngest(run, 0, 'unused')
    recordIngest(context, 'level relay, one process', level)
    const cluster: IngestResult[] = []
    for (const workers of [1, 2]) {
      context.progress(`ingest: cluster, ${workers} ingest worker(s)`)
      const r = await measureIngest(run, workers, `B${workers}_${stamp}`)
      recordIngest(context, `cluster, ${workers} ingest worker${workers === 1 ? '' : 's'}`, r)
      cluster.push(r)
    }
    const [one, two] = cluster as [IngestResult, IngestResult]
    context.info(`ingest (${run.total} commits, 2 hosts): level ${Math.round(level.perSecond)}/s; cluster 1 worker ${Math.round(one.perSecond)}/s (${(one.perSecond / level.perSecond).toFixed(2)}x level), 2 workers ${Math.round(two.perSecond)}/s (${(two.perSecond / one.perSecond).toFixed(2)}x 1 worker); CPU per commit ${Math.round(level.cpuUsPerCommit)} µs level, ${Math.round(one.cpuUsPerCommit)} µs cluster: one core verifies ~${Math.round(1e6 / one.cpuUsPerCommit)} commits/s in a worker`)
    context.progress(`fan-out: ${sizes.consumers} consumers over 2 frontends`)
    const fan = await measureClusterFanout(run, sizes.consumers, `F_${stamp}`)
    context.record({ name: `fan-out to ${sizes.consumers.toLocaleString('en-US')}, cluster (2 frontends): deliveries/s`, value: fan.deliveriesPerSecond, unit: 'events/s', higherIsBetter: true, note: NOTE_FANOUT })
    context.progress(`fan-out: ${sizes.consumers} consumers, level relay`)
    const levelFan = await measureFanout({ plcUrl: plc.url, dids, hostOrigin: (hosts[0] as HostChild).origin, consumers: sizes.consumers, events: sizes.perHost.commits })
    context.record({ name: `fan-out to ${sizes.consumers.toLocaleString('en-US')}, level relay: deliveries/s`, value: levelFan.deliveriesPerSecond, unit: 'events/s', higherIsBetter: true, note: NOTE_FANOUT })
    context.info(`fan-out to ${sizes.consumers}: cluster ${(fan.deliveriesPerSecond / 1000).toFixed(0)}k deliveries/s (${fan.seconds.toFixed(1)} s for ${run.total} events), level ${(levelFan.deliveriesPerSecond / 1000).toFixed(0)}k/s (${levelFan.seconds.toFixed(1)} s for ${sizes.perHost.commits})`)
  } finally {
    await nc.close()
    for (const host of hosts) await host.close()
    await plc.close()
    await nats.stop()
    rmSync(plcDir, { recursive: true, force: true })
  }
}

export const section: BenchSection = {
  name: 'relay-cluster',
  title: 'Relay cluster on NATS JetStream: verified commits/s with 1 and 2 ingest workers, fan-out to 1,000 consumers over 2 frontends, beside the level relay',
  sides: ['ours'],
  async run(_side, context) {
    await runOurs(context, context.quick ? QUICK : FULL)
  },
}
