/**
 * Child process of the relay fan-out bench (relay-fanout.ts): one relay
 * (`startRelay`, fresh data dir) alone in its process, so its RSS is its
 * own. argv[2] is JSON `{plcUrl, dids}`; the DIDs are resolved once (warm
 * cache) before it reports `{url, rssMb}`. RSS is sampled every
 * RSS_SAMPLE_MS. IPC requests, each answered with one message:
 *   {mark: true}            → {rssMb, heapMb}: the sampled peak restarts from now
 *                             (heapMb: JS heap in use after a full GC; also in
 *                             the first message and the report)
 *   {follow: origin}        → {following: true}: the host is added (trusted)
 *                             and read from cursor 0
 *   {report: true}          → {rssMb, peakRssMb, settledRssMb, accepted, cpuMs}:
 *                             settled = after a full GC (the parent runs this
 *                             child with --expose-gc), what stays once the
 *                             consumers had every event (still connected)
 *   {exit: true}            → the relay closes, the dir is removed, exit.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Did } from '../core/syntax/did.ts'
import { parseHostInput } from '../relay/hosts/host-name.ts'
import type { HostRecord } from '../relay/hosts/host-registry.ts'
import { startRelay } from '../relay/server.ts'
import { benchRelayConfig } from './relay-ingest-modes.ts'

const RSS_SAMPLE_MS = 50
const mb = (bytes: number): number => Math.round(bytes / 1e6)
/** JS heap in use after a full GC, in MB with 0.1 precision: what the relay really holds. */
const heapMb = (): number => {
  ;(globalThis as { gc?: () => void }).gc?.()
  return Math.round(process.memoryUsage().heapUsed / 1e5) / 10
}

const { plcUrl, dids } = JSON.parse(process.argv[2] ?? '{}') as { plcUrl: string; dids: string[] }
const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-fanout-'))
const relay = await startRelay(benchRelayConfig(plcUrl, dir, 0), { logLine: () => {} })
for (const did of dids) await relay.ctx.resolver.resolveDid(did as Did)

let peak = 0
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), RSS_SAMPLE_MS)
let host: HostRecord | null = null
const cpuStart = process.cpuUsage()

process.on('message', (message: { mark?: true; follow?: string; report?: true; exit?: true }) => {
  if (message.mark === true) {
    const heap = heapMb()
    peak = process.memoryUsage.rss()
    process.send?.({ rssMb: mb(peak), heapMb: heap })
  } else if (message.follow !== undefined) {
    host = relay.ctx.hosts.add(parseHostInput(message.follow, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    host.cursor = 0
    relay.ctx.slurper.subscribe(host)
    process.send?.({ following: true })
  } else if (message.report === true) {
    const rss = process.memoryUsage.rss()
    const cpu = process.cpuUsage(cpuStart)
    const heap = heapMb()
    const settled = process.memoryUsage.rss()
    process.send?.({ rssMb: mb(rss), peakRssMb: mb(Math.max(peak, rss)), settledRssMb: mb(settled), heapMb: heap, accepted: host?.accepted ?? 0, cpuMs: (cpu.user + cpu.system) / 1000 })
  } else if (message.exit === true) {
    clearInterval(sampler)
    void relay.close().then(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(0)
    })
  }
})
process.send?.({ url: relay.url, heapMb: heapMb(), rssMb: mb(process.memoryUsage.rss()) })
