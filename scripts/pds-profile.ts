/**
 * CPU profile of the PDS write path: starts a PLC directory here and
 * `atfed pds` as a child process with `node --cpu-prof` (PROFILE=0: without), creates an account,
 * drives N createRecord calls (CLIENTS concurrent clients) and stops the PDS
 * with SIGTERM so Node writes its .cpuprofile. Prints the profile path and
 * the top self-time functions.
 *
 *   [PROFILE=0] [ATFED_BIN=other/bin/atfed.js] [PDS_NODE_FLAGS='--trace-gc'] [WARMUP=3000] [ACCOUNTS=clients] node --import tsx scripts/pds-profile.ts [creates=2000] [clients=1]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { createAccount, createBurst } from '../bench/pds-driver.ts'
import { percentile, perSecond } from '../bench/harness.ts'
import { cpuSeconds } from './soak-proc.ts'

/** utime + stime of a process (all threads) or of one thread, in ms. */
function cpuMs(pid: number, tid?: number): number {
  return cpuSeconds(pid, tid) * 1000
}

const BIN = process.env['ATFED_BIN'] ?? fileURLToPath(new URL('../bin/atfed.js', import.meta.url))
const creates = Number(process.argv[2] ?? 2000)
const clients = Number(process.argv[3] ?? 1)
const warmup = Number(process.env['WARMUP'] ?? 3000)
const profDir = mkdtempSync(join(tmpdir(), 'atfed-pds-prof-'))
const dataDir = mkdtempSync(join(tmpdir(), 'atfed-pds-prof-data-'))
const plcDir = mkdtempSync(join(tmpdir(), 'atfed-pds-prof-plc-'))
const plc = await startPlcServer({ port: 0, dataDir: plcDir })
const profiling = process.env['PROFILE'] !== '0'
const nodeFlags = (process.env['PDS_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '')
const child = spawn(process.execPath, [...nodeFlags, ...(profiling ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), BIN, 'pds', '--port', '0', '--data', dataDir, '--plc', plc.url, '--dev'], {
  env: { ...process.env, ATFED_PDS_RATE_LIMITS: 'false' },
  stdio: ['ignore', 'pipe', 'inherit'],
})
if (nodeFlags.length > 0) createInterface({ input: child.stdout! }).on('line', (line) => console.log(`pds: ${line}`))
const url = await new Promise<string>((resolve) => {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const match = / listening on (http:\/\/\S+)/.exec(line)
    if (match !== null) resolve(match[1]!)
  })
})
const accounts = []
for (let i = 0; i < Number(process.env['ACCOUNTS'] ?? clients); i++) accounts.push(await createAccount(url, `prof${i}.test`))
// V8 keeps optimizing the write path for ~4,000 creates (background compiles): measure after that.
await createBurst(url, accounts, { clients, count: warmup })
/** Kernel (stime) CPU ms of one thread. */
function systemMs(pid: number, tid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[12]) * 10
}

/** CPU ms per thread of a process (Node names them all `node`: keyed by tid), and the kernel share of all. */
function threadCpuMs(pid: number): Map<string, number> {
  const byTid = new Map<string, number>()
  let system = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      byTid.set(tid === String(pid) ? 'main' : tid, cpuMs(pid, Number(tid)))
      if (tid !== String(pid)) system += systemMs(pid, Number(tid))
    } catch {} // the thread ended
  }
  byTid.set('(kernel time of the other threads)', system)
  return byTid
}

const threads0 = threadCpuMs(child.pid!)
const serverCpu0 = cpuMs(child.pid!)
const mainCpu0 = cpuMs(child.pid!, child.pid!) // the main thread's tid is the pid
const clientCpu0 = process.cpuUsage()
const { ms, latencies } = await createBurst(url, accounts, { clients, count: creates })
const serverPerCreate = (cpuMs(child.pid!) - serverCpu0) / creates
const mainPerCreate = (cpuMs(child.pid!, child.pid!) - mainCpu0) / creates
const threads = [...threadCpuMs(child.pid!)].map(([name, ms]) => [name, (ms - (threads0.get(name) ?? 0)) / creates] as const)
const clientUsage = process.cpuUsage(clientCpu0)
const clientPerCreate = (clientUsage.user + clientUsage.system) / 1000 / creates
console.log(`${creates} creates, ${clients} clients: ${perSecond(creates, ms).toFixed(0)}/s p50 ${percentile(latencies, 50).toFixed(2)} ms p99 ${percentile(latencies, 99).toFixed(2)} ms`)
console.log(
  `CPU per create: server ${serverPerCreate.toFixed(2)} ms (main thread ${mainPerCreate.toFixed(2)} ms)${profiling ? ' (profiler on)' : ''}, client ${clientPerCreate.toFixed(2)} ms`,
)
console.log(`server threads, CPU ms per create: ${threads.filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${name} ${ms.toFixed(2)}`).join(', ')}`)
const exited = new Promise((resolve) => child.once('exit', resolve))
child.kill('SIGTERM')
await exited
await plc.close()
rmSync(dataDir, { recursive: true, force: true })
rmSync(plcDir, { recursive: true, force: true })

if (!profiling) process.exit(0)
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
const file = readdirSync(profDir).find((name) => name.endsWith('.cpuprofile'))
if (file === undefined) throw new Error('no profile written')
const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as { nodes: Node[]; samples: number[] }
const self = new Map<string, number>()
for (const node of profile.nodes) {
  const where = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.replace(/^.*\/(node_modules|main)\//, '')}:${node.callFrame.lineNumber + 1}`
  self.set(where, (self.get(where) ?? 0) + (node.hitCount ?? 0))
}
const total = profile.samples.length
console.log(`profile: ${join(profDir, file)} (${total} samples)`)
for (const [where, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${where}`)
