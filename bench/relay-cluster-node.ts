/**
 * Child process of the relay-cluster bench (relay-cluster.ts): one relay
 * process alone, so its CPU is its own. argv[2] is JSON
 * `{mode, plcUrl, dids, nats?, stream?}`: mode `level` (the single-machine
 * relay), `ingest` or `serve` (relay cluster members on `stream`). Every
 * DID is resolved once (warm cache) before it reports `{url}`.
 * IPC requests, each answered with one message:
 *   {follow: origins}  → {following: true}: the hosts are added (trusted,
 *                        cursor 0: read from their first event); level
 *                        follows them, a cluster member offers them to the
 *                        leases (whichever worker leases one follows it)
 *   {waitSeq: n}       → {seq}: once this process's view of the log has
 *                        reached seq n (polled every WAIT_POLL_MS)
 *   {cpu: true}        → {cpuMs}: this process's CPU since it started
 *   {exit: true}       → the relay closes, the dir is removed, exit.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Did } from '../core/syntax/did.ts'
import type { RelayConfig } from '../relay/config.ts'
import { parseHostInput } from '../relay/hosts/host-name.ts'
import { startRelay } from '../relay/server.ts'
import { benchRelayConfig } from './relay-ingest-modes.ts'

const WAIT_POLL_MS = 5

type Args = { mode: 'level' | 'ingest' | 'serve'; plcUrl: string; dids: string[]; nats?: string; stream?: string }
type Request = { follow?: string[]; waitSeq?: number; cpu?: true; exit?: true }

const args = JSON.parse(process.argv[2] ?? '{}') as Args
const dir = mkdtempSync(join(tmpdir(), `atfed-relay-cluster-${args.mode}-`))
const base = benchRelayConfig(args.plcUrl, dir, 0)
const config: RelayConfig = args.mode === 'level' ? base : { ...base, nats: [args.nats ?? ''], natsStream: args.stream ?? 'BENCH', role: args.mode }
const relay = await startRelay(config, { logLine: () => {} })
const { ctx } = relay
for (const did of args.dids) await ctx.resolver.resolveDid(did as Did)
const cpuStart = process.cpuUsage()

function follow(origins: readonly string[]): void {
  for (const origin of origins) {
    const record = ctx.hosts.add(parseHostInput(origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    record.cursor = 0
    if (ctx.cluster === null) ctx.slurper.subscribe(record)
    else ctx.cluster.offer(record)
  }
  ctx.sequencer.poke() // the records reach the shared state with the next batch
}

async function waitSeq(seq: number): Promise<number> {
  while (ctx.log.lastSeq() < seq) await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS))
  return ctx.log.lastSeq()
}

process.on('message', (message: Request) => {
  if (message.follow !== undefined) {
    follow(message.follow)
    process.send?.({ following: true })
  } else if (message.waitSeq !== undefined) {
    void waitSeq(message.waitSeq).then((seq) => process.send?.({ seq }))
  } else if (message.cpu === true) {
    const cpu = process.cpuUsage(cpuStart)
    process.send?.({ cpuMs: (cpu.user + cpu.system) / 1000 })
  } else if (message.exit === true) {
    void relay.close().then(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(0)
    })
  }
})
process.send?.({ url: relay.url })
