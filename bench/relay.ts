/**
 * Bench section `relay`: commits verified + sequenced per second on
 * synthetic traffic shaped like the live network (relay-data.ts: ~4–5 KB
 * frames, ~10 blocks, k256 keys, full sync-1.1 inversion), and fan-out to
 * 100 and 1,000 consumers.
 *
 * ours (relay-ingest-modes.ts, relay-fanout.ts): our relay's ingest path fed
 *   in-process and over a loopback WebSocket from a host in another process,
 *   on the main thread and with 2 verification workers; then fan-out with
 *   the relay and the consumers each in their own process. The frames and
 *   keys are left in a temp dir for the reference side of the same run.
 * reference (relay-reference.ts): a pipeline built from @ipld/dag-cbor and
 *   @atproto/repo (CAR, verifyCommitSig, its MST undoing the ops to prevData)
 *   plus a level log, over the same frames (a prefix: it is slower), fed the
 *   same two ways. It has no worker pool or fan-out, so those rows show '-';
 *   the info lines give our best rate over its.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cryptoBackend } from '../core/crypto/secp256k1-native.ts'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { datetimeToUs, messageSlots } from '../relay/jetstream/clock.ts'
import { clockInfo } from '../relay/jetstream/frame-clock-info.ts'
import { readEvent, stampOf } from '../relay/jetstream/render.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { buildRelayFrames, frameShape, plcRegistrar, readFrames, writeFrames } from './relay-data.ts'
import type { RelayBenchData } from './relay-data.ts'
import { measureFanout } from './relay-fanout.ts'
import type { FanoutResult } from './relay-fanout.ts'
import { ingestInProcess, ingestOverWebSocket, loadHostChild, startHostChild } from './relay-ingest-modes.ts'
import type { HostChild, IngestRates } from './relay-ingest-modes.ts'
import { referenceInProcess, referenceOverWebSocket } from './relay-reference.ts'

const FULL = { dids: 10, records: 8_000, commits: 4_000, warmUp: 1_000, referenceCommits: 1_000, fanout: [[100, 2_000], [1_000, 400]] }
const QUICK = { dids: 3, records: 1_500, commits: 600, warmUp: 200, referenceCommits: 150, fanout: [[100, 300], [1_000, 60]] }
type Sizes = typeof FULL
const WORKERS = 2

const INPROC = 'verify + sequence, in-process source'
const WS = 'verify + sequence, loopback WebSocket'
const NOTE_INGEST = 'commits/s through the whole ingest path: frame decode, CAR + block hashes, k256 signature, since/prevData chain, sync-1.1 inversion to prevData, re-sequenced into a level log (fsync batches); reference: @ipld/dag-cbor + @atproto/repo + level, one thread'
const NOTE_FANOUT_CPU = 'events delivered (all consumers) per second of the relay process\'s CPU, its ingest of the same events included: what the relay costs, whatever else the machine runs'
const NOTE_TIME_INDEX = 'read the clock input (message count, time) from each bench #commit frame without decoding it (relay/jetstream/frame-clock-info.ts), best of 5 passes; paid once per event, with or without Jetstream subscribers'
const NOTE_PER_CONSUMER = 'relay process RSS at its peak while every consumer receives, minus its RSS before they connected, over the number of consumers (includes V8 heap sizing, which does not grow with the consumers)'
const NOTE_FANOUT = 'relay, ws consumers and upstream host each in their own process on 2 shared cores; consumers connected live before ingest starts; clock until every consumer has every event'

/** Where ours leaves the frames for the reference side of the same run (both are children of one runner). */
const sharedDir = (): string => join(tmpdir(), `atfed-bench-relay-${process.ppid}`)

function recordIngest(context: SectionContext, name: string, rates: IngestRates): void {
  context.record({ name, value: rates.perSecond, unit: 'commits/s', higherIsBetter: true, note: NOTE_INGEST })
}

function shareData(data: RelayBenchData): void {
  mkdirSync(sharedDir(), { recursive: true })
  writeFrames(join(sharedDir(), 'frames.bin'), data.frames)
  writeFileSync(join(sharedDir(), 'keys.json'), JSON.stringify([...data.keys]))
}

async function runIngest(context: SectionContext, sizes: Sizes, run: { plcUrl: string; data: RelayBenchData; host: HostChild }): Promise<IngestRates[]> {
  const best: IngestRates[] = []
  for (const workers of [0, WORKERS]) {
    const args = { plcUrl: run.plcUrl, frames: run.data.frames, dids: run.data.dids, workers, warmUp: sizes.warmUp }
    const label = workers === 0 ? 'main thread' : `${workers} verify workers`
    context.progress(`ingest ${label}: in-process`)
    const inproc = await ingestInProcess(args, run.host.origin)
    recordIngest(context, `${INPROC}, ${label}`, inproc)
    context.progress(`ingest ${label}: WebSocket`)
    const ws = await ingestOverWebSocket(args, run.host)
    recordIngest(context, `${WS}, ${label}`, ws)
    if (workers === 0) context.record({ name: 'CPU per commit, in-process, main thread', value: inproc.cpuUsPerCommit, unit: 'µs', higherIsBetter: false })
    best.push(inproc, ws)
  }
  return best
}

function recordFanout(context: SectionContext, r: FanoutResult): void {
  const n = r.consumers.toLocaleString('en-US')
  context.record({ name: `fan-out to ${n}: events/s per consumer`, value: r.perConsumerPerSecond, unit: 'events/s', higherIsBetter: true, note: NOTE_FANOUT })
  context.record({ name: `fan-out to ${n}: deliveries/s, all consumers`, value: r.deliveriesPerSecond, unit: 'events/s', higherIsBetter: true, note: NOTE_FANOUT })
  const perCpuSecond = (r.deliveriesPerSecond * r.seconds) / (r.relayCpuMs / 1000)
  context.record({ name: `fan-out to ${n}: deliveries per relay CPU-second`, value: perCpuSecond, unit: 'events', higherIsBetter: true, note: NOTE_FANOUT_CPU })
  context.record({ name: `fan-out to ${n}: relay peak RSS`, value: r.peakRssMb, unit: 'MB', higherIsBetter: false, note: NOTE_FANOUT })
  context.record({ name: `fan-out to ${n}: relay RSS per consumer, live (peak − start)`, value: perConsumerKb(r.peakRssMb - r.startRssMb, r.consumers), unit: 'KB', higherIsBetter: false, note: NOTE_PER_CONSUMER })
}

/** MB over `consumers` → KB each (MB = 10^6 bytes, KB = 10^3). */
const perConsumerKb = (mb: number, consumers: number): number => Math.round((mb * 1000) / consumers)

/** RSS before/idle/peak/after at both sizes, per consumer, and the marginal cost from the small run to the large one. */
function fanoutMemoryLines(context: SectionContext, small: FanoutResult, large: FanoutResult): void {
  for (const r of [small, large]) {
    const kb = (mb: number): number => perConsumerKb(mb - r.startRssMb, r.consumers)
    context.info(
      `fan-out to ${r.consumers}: relay RSS ${r.startRssMb} MB before, ${r.connectedRssMb} MB with the consumers idle, peak ${r.peakRssMb} MB live, ${r.settledRssMb} MB once they had every event (full GC); ` +
        `per consumer: ${kb(r.connectedRssMb)} KB idle, ${kb(r.peakRssMb)} KB live (peak), ${kb(r.settledRssMb)} KB after; ` +
        `JS heap after a full GC: ${r.heap.startMb} MB before, ${r.heap.connectedMb} MB idle, ${r.heap.afterMb} MB once they had every event (${perConsumerKb(r.heap.connectedMb - r.heap.startMb, r.consumers)} / ${perConsumerKb(r.heap.afterMb - r.heap.startMb, r.consumers)} KB per consumer)`,
    )
  }
  const extra = large.consumers - small.consumers
  const marginal = (a: number, b: number): number => perConsumerKb(b - a, extra)
  context.info(
    `relay memory, each of the ${extra} extra consumers (${small.consumers} → ${large.consumers}): RSS ${marginal(small.connectedRssMb, large.connectedRssMb)} KB idle, ` +
      `${marginal(small.peakRssMb, large.peakRssMb)} KB live (peak), ${marginal(small.settledRssMb, large.settledRssMb)} KB after; JS heap ${marginal(small.heap.connectedMb, large.heap.connectedMb)} KB idle, ${marginal(small.heap.afterMb, large.heap.afterMb)} KB after (target: < 20 KB, a flat line)`,
  )
}

/** Best-of-5 µs per frame of `stamp` over `frames`. */
function usPerFrame(frames: readonly Uint8Array[], stamp: (frame: Uint8Array) => unknown): number {
  let best = Infinity
  for (let round = 0; round < 5; round++) {
    const start = performance.now()
    for (const frame of frames) stamp(frame)
    best = Math.min(best, performance.now() - start)
  }
  return (best * 1000) / frames.length
}

/**
 * The Jetstream time index stamps every published event, subscribers or
 * not: its cost per event now (the frame-clock-info.ts walk) and with the
 * full frame parse it used before, over the same frames.
 */
function measureTimeIndex(context: SectionContext, frames: readonly Uint8Array[]): void {
  const now = usPerFrame(frames, (frame) => stampOf(clockInfo(frame), 0, Number.MAX_SAFE_INTEGER))
  const fullParse = usPerFrame(frames, (frame) => {
    const event = readEvent(frame)
    return event === null || event.t === '#info' ? 0 : datetimeToUs(event.time) + messageSlots(event)
  })
  context.record({ name: 'Jetstream time index: stamp one published event', value: now, unit: 'µs', higherIsBetter: false, note: NOTE_TIME_INDEX })
  context.info(`Jetstream time index: ${now.toFixed(1)} µs per event (a full frame parse, as it did before: ${fullParse.toFixed(1)} µs; ${(fullParse / now).toFixed(1)}x)`)
}

async function runOurs(context: SectionContext, sizes: Sizes): Promise<void> {
  const backend = cryptoBackend()
  if (backend.k256 !== 'libsecp256k1-native') throw new Error(`native secp256k1 did not load: ${String(backend.nativeUnavailableReason)}`)
  const plcDir = join(sharedDir(), 'plc')
  mkdirSync(plcDir, { recursive: true })
  const plc = await startPlcServer({ port: 0, dataDir: plcDir })
  const host = await startHostChild()
  try {
    context.progress(`building ${sizes.dids} repos × ${sizes.records} records, ${sizes.commits} commits`)
    const data = await buildRelayFrames(sizes, plcRegistrar(plc.url, host.origin))
    const shape = frameShape(data.frames)
    context.info(`frames: ${sizes.commits} #commit, ${Math.round(shape.bytes)} B and ${shape.blocks.toFixed(1)} blocks on average, ${sizes.dids} accounts × ${sizes.records} records; k256 via ${backend.k256}`)
    shareData(data)
    await loadHostChild(host, data.frames, sharedDir())
    measureTimeIndex(context, data.frames)
    const rates = await runIngest(context, sizes, { plcUrl: plc.url, data, host })
    const best = Math.max(...rates.map((r) => r.perSecond))
    writeFileSync(join(sharedDir(), 'best.json'), JSON.stringify(best))
    context.info(`ingest, best of ours: ${Math.round(best)} commits/s (target: the network's 2,000/s record)`)
    const fanouts: FanoutResult[] = []
    for (const [consumers, events] of sizes.fanout as [number, number][]) {
      context.progress(`fan-out to ${consumers} consumers, ${events} events`)
      const result = await measureFanout({ plcUrl: plc.url, dids: data.dids, hostOrigin: host.origin, consumers, events })
      recordFanout(context, result)
      fanouts.push(result)
      context.info(`fan-out to ${consumers}: ${result.seconds.toFixed(1)} s; relay CPU ${Math.round(result.relayCpuMs)} ms; consumers: ${result.clientLine}`)
    }
    const [small, large] = fanouts as [FanoutResult, FanoutResult]
    fanoutMemoryLines(context, small, large)
  } finally {
    await host.close()
    await plc.close()
    rmSync(plcDir, { recursive: true, force: true })
  }
}

/** The frames ours left (or, run alone, freshly built ones: a reference pipeline needs no PLC). */
async function referenceData(sizes: Sizes, origin: string): Promise<{ frames: Uint8Array[]; keys: Map<string, string>; oursBest: number | null }> {
  const dir = sharedDir()
  if (existsSync(join(dir, 'keys.json'))) {
    const frames = readFrames(join(dir, 'frames.bin'))
    const keys = new Map(JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as [string, string][])
    const best = existsSync(join(dir, 'best.json')) ? (JSON.parse(readFileSync(join(dir, 'best.json'), 'utf8')) as number) : null
    rmSync(dir, { recursive: true, force: true })
    return { frames, keys, oursBest: best }
  }
  return { ...(await buildRelayFrames(sizes, plcRegistrar(null, origin))), oursBest: null }
}

async function runReference(context: SectionContext, sizes: Sizes): Promise<void> {
  const host = await startHostChild()
  try {
    const data = await referenceData(sizes, host.origin)
    const frames = data.frames.slice(0, sizes.referenceCommits)
    await loadHostChild(host, frames, tmpdir())
    context.progress(`reference pipeline: in-process, ${frames.length} commits`)
    const inproc = await referenceInProcess(frames, data.keys, Math.min(100, frames.length))
    context.progress('reference pipeline: WebSocket')
    const ws = await referenceOverWebSocket(host.origin, frames.length, data.keys)
    recordIngest(context, `${INPROC}, main thread`, inproc)
    recordIngest(context, `${WS}, main thread`, ws)
    context.record({ name: 'CPU per commit, in-process, main thread', value: inproc.cpuUsPerCommit, unit: 'µs', higherIsBetter: false })
    const reference = Math.max(inproc.perSecond, ws.perSecond)
    const line = `reference pipeline: ${Math.round(inproc.perSecond)} commits/s in-process, ${Math.round(ws.perSecond)} over WebSocket (${frames.length} commits, one thread)`
    context.info(data.oursBest === null ? line : `${line}; our best ingest ${Math.round(data.oursBest)} commits/s = ${(data.oursBest / reference).toFixed(1)}x its best`)
  } finally {
    await host.close()
  }
}

export const section: BenchSection = {
  name: 'relay',
  title: 'Relay: commits verified + sequenced per second; fan-out to 100 and 1,000 consumers',
  sides: ['ours', 'reference'],
  async run(side, context) {
    const sizes = context.quick ? QUICK : FULL
    if (side === 'ours') await runOurs(context, sizes)
    else await runReference(context, sizes)
  },
}
