/**
 * Our relay's ingest path under a clock: commits verified + sequenced per
 * second, each run on a fresh relay data dir with the DID cache warmed
 * (every account resolved once) and the verifier JIT-warm (`warmUp`
 * verifies a slice of the frames once, results unused):
 * - `ingestInProcess`: frames parsed (as the stream client does) and pushed
 *   straight into a HostIngest → verify → accept → sequencer → level (fsync
 *   batches); the clock runs from the first push to the last batch being
 *   durable;
 * - `ingestOverWebSocket`: a scripted host in a child process
 *   (relay-ingest-host.ts, `startHostChild`) serves every frame over a
 *   loopback WebSocket and the relay subscribes from cursor 0; the clock runs
 *   until the host cursor reaches the last seq and the batch is durable. CPU
 *   is the relay process's only.
 * Both fail loudly if a single commit was dropped.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseFrame } from '../core/stream/event-parse.ts'
import type { Did } from '../core/syntax/did.ts'
import { closeRelayContext, createRelayContext } from '../relay/context.ts'
import type { RelayContext } from '../relay/context.ts'
import type { RelayConfig } from '../relay/config.ts'
import { parseHostInput } from '../relay/hosts/host-name.ts'
import { HostIngest } from '../relay/ingest.ts'
import { startRelay } from '../relay/server.ts'
import { writeFrames } from './relay-data.ts'

/** Commits per wall second, and CPU time per commit (all threads of this process). */
export type IngestRates = { perSecond: number; cpuUsPerCommit: number }
export type IngestRun = { plcUrl: string; frames: readonly Uint8Array[]; dids: readonly string[]; workers: number; warmUp: number }

function rates(commits: number, seconds: number, cpu: NodeJS.CpuUsage): IngestRates {
  return { perSecond: commits / seconds, cpuUsPerCommit: (cpu.user + cpu.system) / commits }
}

export function benchRelayConfig(plcUrl: string, dataDir: string, workers: number): RelayConfig {
  return {
    port: 0, bind: '127.0.0.1', dataDir, plcUrl, hosts: [], adminPassword: null, dev: true,
    retentionMs: 72 * 3600_000, dnsServers: [], tuning: { verifyWorkers: workers, trimIntervalMs: 3_600_000 },
  }
}

/** Resolve every DID once (cache warm), then verify the first `count` frames once (JIT warm). */
export async function warmUp(ctx: RelayContext, run: Pick<IngestRun, 'frames' | 'dids' | 'warmUp'>): Promise<void> {
  for (const did of run.dids) await ctx.resolver.resolveDid(did as Did)
  const jobs: Promise<unknown>[] = []
  for (const bytes of run.frames.slice(0, run.warmUp)) {
    const parsed = parseFrame(bytes)
    if (parsed.kind !== 'message' || parsed.message.t !== '#commit') continue
    const identity = await ctx.resolver.resolveDid(parsed.message.repo)
    jobs.push(ctx.verifier.commit(parsed.message, identity.signingKey!))
  }
  await Promise.all(jobs)
}

export async function ingestInProcess(run: IngestRun, origin: string): Promise<IngestRates> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-'))
  const ctx = await createRelayContext(benchRelayConfig(run.plcUrl, dir, run.workers), { logLine: () => {} })
  try {
    const record = ctx.hosts.add(parseHostInput(origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    await warmUp(ctx, run)
    const ingest = new HostIngest(record, ctx.ingest)
    const cpu = process.cpuUsage()
    const start = performance.now()
    for (const bytes of run.frames) {
      const parsed = parseFrame(bytes)
      if (parsed.kind !== 'message' || parsed.message.t === '#info') throw new Error('bad bench frame')
      await ingest.push({ kind: 'event', event: parsed.message, frameBytes: bytes })
    }
    await ingest.drain()
    await ctx.sequencer.flush()
    const seconds = (performance.now() - start) / 1000
    if (record.accepted !== run.frames.length) throw new Error(`accepted ${record.accepted} of ${run.frames.length}: ${JSON.stringify(record.drops)}`)
    return rates(run.frames.length, seconds, process.cpuUsage(cpu))
  } finally {
    await closeRelayContext(ctx)
    rmSync(dir, { recursive: true, force: true })
  }
}

export type HostChild = { child: ChildProcess; origin: string; close(): Promise<void> }

/** relay-ingest-host.ts in a child process: a scripted upstream host on 127.0.0.1. */
export async function startHostChild(): Promise<HostChild> {
  const child = fork(new URL('./relay-ingest-host.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'] })
  const [message] = (await once(child, 'message')) as [{ origin: string }]
  const close = async (): Promise<void> => {
    if (child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.send({ exit: true })
    await exited
  }
  return { child, origin: message.origin, close }
}

/** Hand the host child its frames (seqs 1..n) through a file in `dir`. */
export async function loadHostChild(host: HostChild, frames: readonly Uint8Array[], dir: string): Promise<void> {
  const file = join(dir, 'host-frames.bin')
  writeFrames(file, frames)
  host.child.send({ file })
  await once(host.child, 'message')
  rmSync(file, { force: true })
}

export async function ingestOverWebSocket(run: IngestRun, host: HostChild): Promise<IngestRates> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-'))
  const relay = await startRelay(benchRelayConfig(run.plcUrl, dir, run.workers), { logLine: () => {} })
  try {
    const ctx = relay.ctx
    await warmUp(ctx, run)
    const record = ctx.hosts.add(parseHostInput(host.origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    record.cursor = 0
    const total = run.frames.length
    const cpu = process.cpuUsage()
    const start = performance.now()
    ctx.slurper.subscribe(record)
    while (record.cursor !== total) await new Promise((resolve) => setTimeout(resolve, 2))
    await ctx.sequencer.flush()
    const seconds = (performance.now() - start) / 1000
    if (record.accepted !== total) throw new Error(`accepted ${record.accepted} of ${total}: ${JSON.stringify(record.drops)}`)
    return rates(total, seconds, process.cpuUsage(cpu))
  } finally {
    await relay.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
