/**
 * `npm run soak` (issue 10, point 4): a PLC directory, one PDS, a relay and
 * a feed generator as real child processes on loopback (soak-network.ts),
 * a paced createRecord load against the PDS (soak-load.ts), and every
 * `--interval` seconds one CSV row: achieved writes/s, write p99 latency,
 * the relay firehose's events/s as one consumer sees them, the feed
 * generator's lag, and each process's RSS (split into anonymous and
 * file-backed pages), open fds and CPU (soak-proc.ts), and the load's own
 * CPU. The summary gives CPU per acknowledged write per process: on a
 * machine whose cores are all busy, what the pipeline can carry.
 * At the end a PNG over time per process (RSS; anonymous RSS; anonymous RSS
 * less the LevelDB table indexes, which grow with the data stored; fds),
 * and a summary with a FLAT/GROWING verdict per process.
 *
 *   npm run soak                          10 min at 1,200 writes/s target
 *   npm run soak -- --minutes 60          the 1 h soak
 *   npm run soak -- --rate 300 --clients 16 --interval 5 --out .bench-out/soak
 *   npm run soak -- --env MALLOC_ARENA_MAX=2   extra environment for the children
 *   npm run soak -- --keep                leave the data directories for inspection
 *   npm run soak -- --replot DIR          redraw DIR/soak-rss-fds.png from DIR/soak.csv
 *
 * The target is twice the network's typical peak (~600 events/s); one PDS
 * sharing 2 cores with the other three services falls short of it, and the
 * summary says what was achieved (the schedule never bursts to catch up).
 * Bounded: `--clients` requests in flight at most, each with a timeout.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { levelTableIndexSize } from './level-table-index.ts'
import { createSoakAccounts, feedgenLagMs, firehoseCounter, keywordFeedUri, pacedWriters } from './soak-load.ts'
import { SOAK_PROCESSES, probeDir, startSoakNetwork } from './soak-network.ts'
import { lineChartPng } from './soak-png.ts'
import type { Rgb } from './soak-png.ts'
import { FD_SLOPE_MAX_PER_MIN, RSS_SLOPE_MAX_MB_PER_MIN, memoryVerdict, percentile, sampleProc, trend } from './soak-proc.ts'
import type { ProcSample, Trend } from './soak-proc.ts'

export type SoakOptions = {
  seconds: number
  ratePerS: number
  clients: number
  intervalS: number
  outDir: string
  /** Extra environment for the four children (e.g. `{ MALLOC_ARENA_MAX: '2' }`). */
  childEnv?: Record<string, string>
  /** Leave the four data directories in place (their path is logged) instead of deleting them. */
  keepData?: boolean
  log?: (line: string) => void
}

export type SoakRow = {
  t: number
  writesPerS: number
  errors: number
  p99Ms: number
  firehosePerS: number
  feedgenLagMs: number | null
  procs: Record<string, ProcSample | null>
  /** In-memory size of each child's LevelDB table indexes, read from its table files (level-table-index.ts): memory that grows with the data stored. */
  levelIndexMb: Record<string, number | null>
  /** CPU used in the window, % of one core: each child (all its threads) and `load`, this process (the writers and the firehose counter). */
  cpuPct: Record<string, number | null>
}

export type SoakReport = {
  seconds: number
  writes: number
  errors: number
  writesPerS: number
  p99Ms: number
  rows: SoakRow[]
  /** CPU ms per acknowledged write over the whole run, per child and `load`: where the cores went. */
  cpuMsPerWrite: Record<string, number>
  /** The same for each child's main thread alone: one thread per process runs its JavaScript, so 1000 / this is that process's ceiling in writes/s however many cores there are. */
  mainThreadMsPerWrite: Record<string, number>
  crashed: string[]
  childEnv: Record<string, string>
  /** rss and fds decide; heap (JS heap in use), heapTotal (reserved by V8) and external (outside it) say which kind of memory moves. */
  trends: Record<string, { rss: Trend; rssAnon: Trend; rssFile: Trend; levelIndex: Trend; rssAnonNetOfIndex: Trend; fds: Trend; heap: Trend; heapTotal: Trend; external: Trend; workersHeapTotal: Trend | null }>
  csvPath: string
  pngPath: string
}

/** The CPU columns: the four children and this process's load. */
const CPU_OWNERS = [...SOAK_PROCESSES, 'load'] as const

export const PROCESS_COLORS: Record<string, Rgb> = { plc: [31, 119, 180], pds: [214, 39, 40], relay: [44, 160, 44], feedgen: [255, 127, 14] }

export function csvHeader(): string {
  return ['t_s', 'writes_per_s', 'write_errors', 'write_p99_ms', 'firehose_events_per_s', 'feedgen_lag_ms',
    ...SOAK_PROCESSES.flatMap((p) => [`${p}_rss_mb`, `${p}_rss_anon_mb`, `${p}_rss_file_mb`, `${p}_fds`, `${p}_heap_mb`, `${p}_heap_total_mb`, `${p}_external_mb`, `${p}_workers_heap_total_mb`, `${p}_level_index_mb`]),
    ...CPU_OWNERS.map((p) => `${p}_cpu_pct`)].join(',')
}

/** A child's LevelDB table indexes in MB; null when its directory cannot be read (not created yet). */
function levelIndexMbOf(dataDir: string): number | null {
  try {
    return levelTableIndexSize(dataDir).indexBytes / (1024 * 1024)
  } catch {
    return null
  }
}

function csvRow(r: SoakRow): string {
  const proc = SOAK_PROCESSES.flatMap((p) => [r.procs[p]?.rssMb.toFixed(1) ?? '', r.procs[p]?.rssAnonMb.toFixed(1) ?? '', r.procs[p]?.rssFileMb.toFixed(1) ?? '', String(r.procs[p]?.fds ?? ''),
    r.procs[p]?.heapMb?.toFixed(1) ?? '', r.procs[p]?.heapTotalMb?.toFixed(1) ?? '', r.procs[p]?.externalMb?.toFixed(1) ?? '', r.procs[p]?.workersHeapTotalMb?.toFixed(1) ?? '', r.levelIndexMb[p]?.toFixed(1) ?? ''])
  const cpu = CPU_OWNERS.map((p) => r.cpuPct[p]?.toFixed(0) ?? '')
  return [r.t.toFixed(1), r.writesPerS.toFixed(1), r.errors, r.p99Ms.toFixed(1), r.firehosePerS.toFixed(1), r.feedgenLagMs?.toFixed(0) ?? '', ...proc, ...cpu].join(',')
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {})
  mkdirSync(options.outDir, { recursive: true })
  const csvPath = join(options.outDir, 'soak.csv')
  const pngPath = join(options.outDir, 'soak-rss-fds.png')
  const root = mkdtempSync(join(tmpdir(), 'atfed-soak-'))
  const net = await startSoakNetwork(root, { env: options.childEnv ?? {} })
  process.stderr.write(`soak: children ${SOAK_PROCESSES.map((p) => `${p}=${net.pids[p]}`).join(' ')}; kill -USR2 <pid> writes a heap snapshot to ${probeDir(root)}\n`)
  const rows: SoakRow[] = []
  const latencies: number[] = []
  const crashed: string[] = []
  let writes = 0
  let errors = 0
  let started = 0
  // CPU seconds per process at the first and the latest sample, and the writes acknowledged by the latest.
  let firstCpu: Record<string, number | null> = {}
  let lastCpu: Record<string, number | null> = {}
  let firstMainCpu: Record<string, number | null> = {}
  let lastMainCpu: Record<string, number | null> = {}
  let writesAtLastCpu = 0
  try {
    const accounts = await createSoakAccounts(net.urls.pds, Math.min(options.clients, 8))
    const feedUri = await keywordFeedUri(net.urls.feedgen)
    const firehose = firehoseCounter(net.urls.relay)
    const writers = pacedWriters(accounts, { clients: options.clients, ratePerS: options.ratePerS })
    started = performance.now()
    let last = started
    const loadCpuS = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
    const cpuS = (procs: Record<string, ProcSample | null>): Record<string, number | null> =>
      ({ ...Object.fromEntries(SOAK_PROCESSES.map((p) => [p, procs[p]?.cpuS ?? null])), load: loadCpuS() })
    const mainCpuS = (procs: Record<string, ProcSample | null>): Record<string, number | null> =>
      Object.fromEntries(SOAK_PROCESSES.map((p) => [p, procs[p]?.mainCpuS ?? null]))
    const startProcs = Object.fromEntries(SOAK_PROCESSES.map((p) => [p, sampleProc(net.pids[p])]))
    lastCpu = cpuS(startProcs)
    firstCpu = lastCpu
    lastMainCpu = mainCpuS(startProcs)
    firstMainCpu = lastMainCpu
    try {
      writeFileSync(csvPath, `${csvHeader()}\n`)
      while (performance.now() - started < options.seconds * 1000 && net.crashed().length === 0) {
        await new Promise((r) => setTimeout(r, Math.min(options.intervalS * 1000, started + options.seconds * 1000 - performance.now())))
        const now = performance.now()
        const windowS = (now - last) / 1000
        last = now
        const w = writers.take()
        writes += w.acked
        errors += w.errors
        for (const l of w.latenciesMs) latencies.push(l)
        const procs = Object.fromEntries(SOAK_PROCESSES.map((p) => [p, sampleProc(net.pids[p], probeDir(root))]))
        const levelIndexMb = Object.fromEntries(SOAK_PROCESSES.map((p) => [p, levelIndexMbOf(join(root, p))]))
        const cpu = cpuS(procs)
        const cpuPct = Object.fromEntries(CPU_OWNERS.map((p) => {
          const [a, b] = [lastCpu[p], cpu[p]]
          return [p, a == null || b == null ? null : ((b - a) / windowS) * 100]
        }))
        lastCpu = cpu
        lastMainCpu = mainCpuS(procs)
        writesAtLastCpu = writes
        const row: SoakRow = { t: (now - started) / 1000, writesPerS: w.acked / windowS, errors: w.errors, p99Ms: percentile(w.latenciesMs, 99),
          firehosePerS: firehose.take() / windowS, feedgenLagMs: await feedgenLagMs(net.urls.feedgen, feedUri), procs, levelIndexMb, cpuPct }
        rows.push(row)
        writeFileSync(csvPath, `${csvRow(row)}\n`, { flag: 'a' })
        log(csvRow(row))
      }
    } finally {
      await writers.stop()
      firehose.close()
    }
  } finally {
    crashed.push(...net.crashed())
    await net.close()
    if (options.keepData === true) process.stderr.write(`soak: data kept in ${root}\n`)
    else rmSync(root, { recursive: true, force: true })
  }
  const seconds = (performance.now() - started) / 1000
  const series = (p: string, f: (s: ProcSample) => number | null): [number, number][] =>
    rows.flatMap((r) => { const v = r.procs[p] ? f(r.procs[p]!) : null; return v === null ? [] : [[r.t, v] as [number, number]] })
  const index = (p: string): [number, number][] =>
    rows.flatMap((r) => { const v = r.levelIndexMb[p]; return v == null ? [] : [[r.t, v] as [number, number]] })
  const anonNetOfIndex = (p: string): [number, number][] =>
    rows.flatMap((r) => { const [s, v] = [r.procs[p], r.levelIndexMb[p]]; return s == null || v == null ? [] : [[r.t, s.rssAnonMb - v] as [number, number]] })
  writeFileSync(pngPath, soakPng(readFileSync(csvPath, 'utf8')))
  const trends = Object.fromEntries(SOAK_PROCESSES.map((p) => [p, {
    rss: trend(series(p, (s) => s.rssMb), RSS_SLOPE_MAX_MB_PER_MIN),
    rssAnon: trend(series(p, (s) => s.rssAnonMb), RSS_SLOPE_MAX_MB_PER_MIN),
    rssFile: trend(series(p, (s) => s.rssFileMb), RSS_SLOPE_MAX_MB_PER_MIN),
    levelIndex: trend(index(p), RSS_SLOPE_MAX_MB_PER_MIN),
    rssAnonNetOfIndex: trend(anonNetOfIndex(p), RSS_SLOPE_MAX_MB_PER_MIN),
    fds: trend(series(p, (s) => s.fds), FD_SLOPE_MAX_PER_MIN),
    heap: trend(series(p, (s) => s.heapMb), RSS_SLOPE_MAX_MB_PER_MIN),
    heapTotal: trend(series(p, (s) => s.heapTotalMb), RSS_SLOPE_MAX_MB_PER_MIN),
    external: trend(series(p, (s) => s.externalMb), RSS_SLOPE_MAX_MB_PER_MIN),
    workersHeapTotal: series(p, (s) => s.workersHeapTotalMb).length === 0 ? null : trend(series(p, (s) => s.workersHeapTotalMb), RSS_SLOPE_MAX_MB_PER_MIN),
  }]))
  const msPerWrite = (owners: readonly string[], first: Record<string, number | null>, last: Record<string, number | null>): Record<string, number> =>
    Object.fromEntries(owners.flatMap((p) => {
      const [a, b] = [first[p], last[p]]
      return a == null || b == null || writesAtLastCpu === 0 ? [] : [[p, ((b - a) * 1000) / writesAtLastCpu]]
    }))
  const cpuMsPerWrite = msPerWrite(CPU_OWNERS, firstCpu, lastCpu)
  const mainThreadMsPerWrite = msPerWrite(SOAK_PROCESSES, firstMainCpu, lastMainCpu)
  return { seconds, writes, errors, writesPerS: writes / seconds, p99Ms: percentile(latencies, 99), rows, cpuMsPerWrite, mainThreadMsPerWrite, crashed, childEnv: options.childEnv ?? {}, trends, csvPath, pngPath }
}

/**
 * The plot of a soak CSV, per process over time: RSS, its anonymous part,
 * the anonymous part less the LevelDB table indexes (what does not grow
 * with the data stored), open fds.
 */
export function soakPng(csv: string): Uint8Array {
  const [header = '', ...lines] = csv.trimEnd().split('\n')
  const columns = header.split(',')
  const rows = lines.map((l) => l.split(','))
  const series = (column: string): [number, number][] => {
    const at = columns.indexOf(column)
    return at < 0 ? [] : rows.flatMap((r) => (r[at] === undefined || r[at] === '' ? [] : [[Number(r[0]), Number(r[at])] as [number, number]]))
  }
  const panel = (suffix: string) => ({ series: SOAK_PROCESSES.map((p) => ({ color: PROCESS_COLORS[p]!, points: series(`${p}_${suffix}`) })) })
  const anonNetOfIndex = {
    series: SOAK_PROCESSES.map((p) => {
      const index = new Map(series(`${p}_level_index_mb`))
      return { color: PROCESS_COLORS[p]!, points: series(`${p}_rss_anon_mb`).flatMap(([t, v]) => (index.has(t) ? [[t, v - index.get(t)!] as [number, number]] : [])) }
    }),
  }
  return lineChartPng([panel('rss_mb'), panel('rss_anon_mb'), anonNetOfIndex, panel('fds')])
}

export function formatSummary(r: SoakReport, ratePerS: number): string {
  const lags = r.rows.flatMap((row) => (row.feedgenLagMs === null ? [] : [row.feedgenLagMs]))
  const lines = [
    `soak: ${(r.seconds / 60).toFixed(1)} min, ${r.writes} writes acknowledged (${r.errors} errors), ` +
      `${r.writesPerS.toFixed(0)} writes/s achieved of ${ratePerS} target, write p99 ${r.p99Ms.toFixed(0)} ms, ` +
      `feedgen lag p50 ${percentile(lags, 50).toFixed(0)} ms / max ${Math.max(0, ...lags).toFixed(0)} ms, ${r.rows.length} samples`,
    `per process: medians of quarters 1 / 2 / 4 and the second half's slope per minute (FLAT: RSS ≤ ${RSS_SLOPE_MAX_MB_PER_MIN} MB/min, fds ≤ ${FD_SLOPE_MAX_PER_MIN}/min)`,
  ]
  const shape = (t: Trend, digits: number): string =>
    `${t.first.toFixed(digits)} / ${t.second.toFixed(digits)} / ${t.last.toFixed(digits)} (${t.slopePerMin >= 0 ? '+' : ''}${t.slopePerMin.toFixed(2)}/min)`
  for (const [p, t] of Object.entries(r.trends)) {
    lines.push(`  ${p.padEnd(8)} RSS ${shape(t.rss, 0)} MB ${t.rss.verdict} (anon ${shape(t.rssAnon, 0)} ${t.rssAnon.verdict}, file ${shape(t.rssFile, 0)}); fds ${shape(t.fds, 0)} ${t.fds.verdict}; ` +
      `JS heap used ${shape(t.heap, 0)} of ${shape(t.heapTotal, 0)} MB; external ${shape(t.external, 1)} MB` +
      (t.workersHeapTotal === null ? '' : `; worker threads' heaps ${shape(t.workersHeapTotal, 0)} MB`) +
      `; anon less LevelDB table indexes ${shape(t.rssAnonNetOfIndex, 0)} MB ${t.rssAnonNetOfIndex.verdict} (indexes ${shape(t.levelIndex, 1)} MB)`)
  }
  lines.push(memoryVerdict(r.trends))
  const cpu = Object.entries(r.cpuMsPerWrite)
  if (cpu.length > 0) {
    const total = cpu.reduce((a, [, ms]) => a + ms, 0)
    lines.push(`CPU per acknowledged write: ${cpu.map(([p, ms]) => `${p} ${ms.toFixed(2)} ms`).join(', ')}; total ${total.toFixed(2)} ms, ` +
      `so ${os.availableParallelism()} ${os.availableParallelism() === 1 ? 'core carries' : 'cores carry'} at most ~${((os.availableParallelism() * 1000) / total).toFixed(0)} writes/s through this pipeline`)
  }
  const busiest = Object.entries(r.mainThreadMsPerWrite).filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1])[0]
  if (busiest !== undefined) {
    lines.push(`main thread per acknowledged write: ${Object.entries(r.mainThreadMsPerWrite).map(([p, ms]) => `${p} ${ms.toFixed(2)} ms`).join(', ')}; ` +
      `the ${busiest[0]}'s one thread carries at most ~${(1000 / busiest[1]).toFixed(0)} writes/s on any number of cores`)
  }
  const env = Object.entries(r.childEnv).map(([k, v]) => `${k}=${v}`).join(' ')
  if (env !== '') lines.push(`children ran with ${env}`)
  lines.push(r.crashed.length === 0 ? 'crashed: none' : `crashed: ${r.crashed.join('; ')}`)
  lines.push(`csv ${r.csvPath}; plot ${r.pngPath} (top to bottom: RSS, anonymous RSS, anonymous less LevelDB table indexes, fds; plc blue, pds red, relay green, feedgen orange)`)
  return lines.join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    minutes: { type: 'string', default: '10' }, seconds: { type: 'string' }, rate: { type: 'string', default: '1200' },
    clients: { type: 'string', default: '32' }, interval: { type: 'string', default: '5' }, out: { type: 'string', default: '.bench-out/soak' },
    env: { type: 'string', multiple: true, default: [] }, replot: { type: 'string' }, keep: { type: 'boolean', default: false },
  } })
  if (values.replot !== undefined) {
    const dir = resolve(values.replot)
    writeFileSync(join(dir, 'soak-rss-fds.png'), soakPng(readFileSync(join(dir, 'soak.csv'), 'utf8')))
    process.stdout.write(`plotted ${join(dir, 'soak-rss-fds.png')}\n`)
    return
  }
  const childEnv = Object.fromEntries(values.env.map((kv) => {
    const at = kv.indexOf('=')
    if (at < 1) throw new Error(`--env wants NAME=VALUE, got ${kv}`)
    return [kv.slice(0, at), kv.slice(at + 1)]
  }))
  const ratePerS = Number(values.rate)
  process.stdout.write(`${csvHeader()}\n`)
  const report = await runSoak({
    seconds: values.seconds === undefined ? Number(values.minutes) * 60 : Number(values.seconds),
    ratePerS, clients: Number(values.clients), childEnv, keepData: values.keep, intervalS: Number(values.interval), outDir: resolve(values.out),
    log: (line) => process.stdout.write(`${line}\n`),
  })
  process.stdout.write(`${formatSummary(report, ratePerS)}\n`)
  if (report.crashed.length > 0) process.exitCode = 1
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  await main()
}
