/**
 * One-off relay ingest measurement: commits verified + sequenced per second
 * (the `relay` bench section runs the same modes with fixed sizes).
 *
 *   node --import tsx bench/relay-ingest.ts [--dids 20] [--records 3000] [--commits 6000] [--workers 0,2] [--mode both] [--warm-up 2000]
 *
 * Data (relay-data.ts), built before any timing: `--dids` accounts in a PLC
 * directory on 127.0.0.1, each with a repo of `--records` records, then
 * `--commits` single-create commits round-robin over them. Modes
 * (relay-ingest-modes.ts), each on a fresh relay data dir: `inproc` (frames
 * pushed straight into the ingest path) and `ws` (a scripted host in a child
 * process serves them over a loopback WebSocket). `--workers` lists the
 * verification worker counts to try (0 = main thread); `--warm-up` frames
 * are verified once before each clock starts.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cryptoBackend } from '../core/crypto/secp256k1-native.ts'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { buildRelayFrames, frameShape, plcRegistrar } from './relay-data.ts'
import { ingestInProcess, ingestOverWebSocket, loadHostChild, startHostChild } from './relay-ingest-modes.ts'
import type { IngestRates } from './relay-ingest-modes.ts'

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}

const DIDS = Number(flag('dids', '20'))
const RECORDS = Number(flag('records', '3000'))
const COMMITS = Number(flag('commits', '6000'))
const WORKERS = flag('workers', '0,2').split(',').map(Number)
const MODE = flag('mode', 'both')
const WARM_UP = Number(flag('warm-up', '2000'))

function show(label: string, r: IngestRates): string {
  return `${label}: ${Math.round(r.perSecond)} commits/s wall, ${r.cpuUsPerCommit.toFixed(0)} µs CPU per commit (${Math.round(1e6 / r.cpuUsPerCommit)}/CPU-s)\n`
}

async function main(): Promise<void> {
  const backend = cryptoBackend()
  if (backend.k256 !== 'libsecp256k1-native') throw new Error(`native secp256k1 did not load: ${String(backend.nativeUnavailableReason)}`)
  const plcDir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-plc-'))
  const plc = await startPlcServer({ port: 0, dataDir: plcDir })
  const host = await startHostChild()
  try {
    const t0 = performance.now()
    const data = await buildRelayFrames({ dids: DIDS, records: RECORDS, commits: COMMITS }, plcRegistrar(plc.url, host.origin))
    const shape = frameShape(data.frames)
    process.stdout.write(`data: ${DIDS} DIDs × ${RECORDS} records, ${COMMITS} commits, ${Math.round(shape.bytes)} B/frame avg, ${shape.blocks.toFixed(1)} blocks, built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    await loadHostChild(host, data.frames, plcDir)
    for (const workers of WORKERS) {
      const run = { plcUrl: plc.url, frames: data.frames, dids: data.dids, workers, warmUp: WARM_UP }
      if (MODE !== 'ws') process.stdout.write(show(`inproc  workers=${workers}`, await ingestInProcess(run, host.origin)))
      if (MODE !== 'inproc') process.stdout.write(show(`ws      workers=${workers}`, await ingestOverWebSocket(run, host)))
    }
  } finally {
    await host.close()
    await plc.close()
    rmSync(plcDir, { recursive: true, force: true })
  }
}

await main()
