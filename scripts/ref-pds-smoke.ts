/**
 * The peers runner's official smoke test and micro-benchmark
 * (`ref-pds-smoke.mjs`, Node 22) against `atfed pds` and against the
 * reference PDS, alternately, ROUNDS times each, so both numbers come from
 * the same minutes of a shared machine. Outside CI.
 *
 *   PEERS_DIR=/tmp/peers [SMOKE_RECORDS=50] [SMOKE_CONCURRENCY=1] [ROUNDS=2] \
 *     node --import tsx scripts/ref-pds-smoke.ts
 *
 * atfed runs on the runner's mock PLC (`mock-plc.mjs`) with `--dev`; the
 * reference is `smoke:self` (its own mock PLC). The smoke's client is
 * @atproto/api on Node 22 for both. Prints one JSON line per run
 * ({side, ok, failed, createRecordsPerSec, p50, p95, carExportMs, ...}).
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { peersNode, startAtfedPds } from './ref-pds-peers.ts'

const PEERS_DIR = process.env['PEERS_DIR'] ?? '/tmp/peers'
const ROUNDS = Number(process.env['ROUNDS'] ?? 2)
const RUN_TIMEOUT_MS = 300_000

type SmokeResult = {
  ok: boolean
  failed: string[]
  records: number
  concurrency: number
  timings: { createRecordsPerSec: number; createRecordLatencyMs: { p50: number; p95: number; max: number }; carExportMs: number; carVerifyMs: number }
  firehose: { live: { lagFromRequestStartMs: { p50: number } } }
}

function runSmoke(args: string[], env: NodeJS.ProcessEnv): Promise<SmokeResult> {
  const child = spawn(peersNode(PEERS_DIR), ['ref-pds-smoke.mjs', ...args], { cwd: PEERS_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let last = ''
  createInterface({ input: child.stdout }).on('line', (line) => (last = line))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)
    child.once('exit', (code) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(last) as SmokeResult)
      } catch {
        reject(new Error(`smoke exited ${code} without a result: ${stderr.slice(-500)}`))
      }
    })
  })
}

function startMockPlc(): Promise<{ url: string; stop(): void }> {
  const child = spawn(peersNode(PEERS_DIR), ['mock-plc.mjs', '0'], { cwd: PEERS_DIR, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`mock PLC exited ${code}`)))
    createInterface({ input: child.stdout }).once('line', (line) => {
      // The PDS fetches by host name, as the reference does.
      const url = (JSON.parse(line) as { plcUrl: string }).plcUrl.replace('127.0.0.1', 'localhost')
      resolve({ url, stop: () => child.kill('SIGTERM') })
    })
  })
}

function summary(side: string, result: SmokeResult): string {
  const t = result.timings
  return JSON.stringify({
    side,
    ok: result.ok,
    failed: result.failed,
    records: result.records,
    concurrency: result.concurrency,
    createRecordsPerSec: t.createRecordsPerSec,
    createRecordP50Ms: t.createRecordLatencyMs.p50,
    createRecordP95Ms: t.createRecordLatencyMs.p95,
    carExportMs: t.carExportMs,
    carVerifyMs: t.carVerifyMs,
    firehoseLagP50Ms: result.firehose.live.lagFromRequestStartMs.p50,
  })
}

const plc = await startMockPlc()
const atfed = await startAtfedPds(plc.url)
let failures = 0
try {
  for (let round = 0; round < ROUNDS; round++) {
    const ours = await runSmoke([], { TARGET_PDS: atfed.url })
    console.log(summary('atfed', ours))
    const ref = await runSmoke(['--spawn-ref'], {})
    console.log(summary('reference', ref))
    if (!ours.ok) failures++
  }
} finally {
  await atfed.stop()
  plc.stop()
}
process.exitCode = failures === 0 ? 0 : 1
