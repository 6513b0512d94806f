/**
 * What the soak measures about each process, read from Linux's /proc:
 * resident memory (`VmRSS` in /proc/<pid>/status, kB) and open file
 * descriptors (the entries of /proc/<pid>/fd). A process that is gone reads
 * as null, which the soak reports as a crash.
 *
 * The verdict is the least-squares slope of the second half of the run
 * (the first half holds start-up and warm-up: JIT, V8's heap sizing, level's
 * memtables and block cache filling to their caps): FLAT when it is at most
 * RSS_SLOPE_MAX_MB_PER_MIN (fds: FD_SLOPE_MAX_PER_MIN), else GROWING. A
 * slope, not the last value, so one GC-time spike does not decide it; the
 * medians of quarters 1 / 2 / 4 are reported beside it for the shape.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** 1 MB/min is 60 MB an hour; fds: 1/min tolerates keep-alive client sockets reconnecting (a per-request leak shows as hundreds a minute). */
export const RSS_SLOPE_MAX_MB_PER_MIN = 1
export const FD_SLOPE_MAX_PER_MIN = 1

/**
 * RSS and fds from /proc; from the child's probe (soak-probe.js, at most a
 * second old) its JS heap in use, the heap V8 has reserved (`heapTotal`:
 * what the heap adds to RSS, sized by V8 from the allocation rate) and its
 * memory outside the heap (`external`, which includes `arrayBuffers`:
 * Buffers, LevelDB values handed to JS, WebSocket frames), null when there
 * is no probe file yet. RSS minus heapTotal minus external is native memory:
 * malloc (LevelDB's memtables, block and table caches, and what glibc keeps
 * of freed memory), code, stacks.
 */
export type ProcSample = {
  rssMb: number
  /** RSS split (/proc status `RssAnon`, `RssFile`): anonymous memory is the process's own; file pages are mapped files (LevelDB mmaps its table files for reads), backed by the page cache and reclaimable. */
  rssAnonMb: number
  rssFileMb: number
  fds: number
  /** CPU time used so far, all threads, user + system (/proc/<pid>/stat utime + stime). */
  cpuS: number
  /** The same for the main thread alone (/proc/<pid>/task/<pid>/stat): JavaScript runs there, so it bounds the process's rate on any number of cores. */
  mainCpuS: number
  heapMb: number | null
  heapTotalMb: number | null
  externalMb: number | null
  /** The heaps V8 reserved for the process's worker threads, summed (their probe files); null without workers. */
  workersHeapTotalMb: number | null
}

const MB = 1024 * 1024
/** Linux's USER_HZ, the unit of /proc/<pid>/stat's times (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_S = 100

/** utime + stime in seconds of a process, or of one of its threads; the fields after the `(comm)` (which may itself hold spaces or parentheses). */
export function cpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S
}

export function sampleProc(pid: number, probeDir?: string): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    if (kb === null) return null // a zombie has no VmRSS
    const anon = /^RssAnon:\s+(\d+)\s+kB/m.exec(status)
    const file = /^RssFile:\s+(\d+)\s+kB/m.exec(status)
    const memory = probeDir === undefined ? null : readProbe(join(probeDir, `${pid}.json`))
    return { rssMb: Number(kb[1]) / 1024, rssAnonMb: Number(anon?.[1] ?? kb[1]) / 1024, rssFileMb: Number(file?.[1] ?? 0) / 1024, fds: readdirSync(`/proc/${pid}/fd`).length, cpuS: cpuSeconds(pid), mainCpuS: cpuSeconds(pid, pid),
      heapMb: memory === null ? null : memory.heapUsed / MB, heapTotalMb: memory === null ? null : memory.heapTotal / MB,
      externalMb: memory === null ? null : memory.external / MB,
      workersHeapTotalMb: probeDir === undefined ? null : workersHeapTotal(probeDir, pid) }
  } catch {
    return null
  }
}

function workersHeapTotal(probeDir: string, pid: number): number | null {
  const files = readdirSync(probeDir).filter((f) => f.startsWith(`${pid}-t`) && f.endsWith('.json'))
  const totals = files.flatMap((f) => { const m = readProbe(join(probeDir, f)); return m === null ? [] : [m.heapTotal / MB] })
  return totals.length === 0 ? null : totals.reduce((a, b) => a + b, 0)
}

type ProbeMemory = { heapUsed: number; heapTotal: number; external: number }

function readProbe(path: string): ProbeMemory | null {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<Record<keyof ProbeMemory, unknown>>
    return typeof m.heapUsed === 'number' && typeof m.heapTotal === 'number' && typeof m.external === 'number'
      ? { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }
      : null
  } catch {
    return null
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The nearest-rank percentile `p` (0..100) of `values`; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** Four consecutive slices of `values` (the last takes the remainder). */
export function quarters<T>(values: readonly T[]): [T[], T[], T[], T[]] {
  const q = Math.max(1, Math.floor(values.length / 4))
  return [values.slice(0, q), values.slice(q, 2 * q), values.slice(2 * q, 3 * q), values.slice(3 * q)]
}

/** The least-squares slope of `points` ([seconds, value]) per minute; 0 for fewer than two distinct times. */
export function slopePerMin(points: readonly (readonly [number, number])[]): number {
  const n = points.length
  if (n < 2) return 0
  const mt = points.reduce((a, p) => a + p[0], 0) / n
  const mv = points.reduce((a, p) => a + p[1], 0) / n
  let num = 0
  let den = 0
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv)
    den += (t - mt) ** 2
  }
  return den === 0 ? 0 : (num / den) * 60
}

export type Trend = { first: number; second: number; last: number; slopePerMin: number; verdict: 'FLAT' | 'GROWING' }

/** Medians of the first, second and last quarter; FLAT when the second half's slope is at most `slopeMaxPerMin`. */
export function trend(points: readonly (readonly [number, number])[], slopeMaxPerMin: number): Trend {
  const [first, second, , last] = quarters(points.map((p) => p[1])).map(median) as [number, number, number, number]
  const slope = slopePerMin(points.slice(Math.floor(points.length / 2)))
  return { first, second, last, slopePerMin: slope, verdict: slope <= slopeMaxPerMin ? 'FLAT' : 'GROWING' }
}

/** What decides a process's memory verdict: its own (anonymous) memory and fds, with RSS beside them. */
export type MemoryTrends = { rss: Trend; rssAnon: Trend; fds: Trend }

/**
 * The run's one-line verdict. Own memory is anonymous RSS (heaps, malloc,
 * stacks): a leak shows there. RSS adds the pages of mapped files, which for
 * our services are LevelDB's table files (it mmaps them for reads): clean
 * page-cache pages that grow with the data read and that the kernel takes
 * back under memory pressure (README, "Memory under a cap"), so an RSS rise
 * made of them is reported, not counted as growth.
 */
export function memoryVerdict(trends: Record<string, MemoryTrends>): string {
  const names = (pick: (t: MemoryTrends) => boolean): string[] => Object.entries(trends).flatMap(([p, t]) => (pick(t) ? [p] : []))
  const ownGrowing = names((t) => t.rssAnon.verdict === 'GROWING')
  const fdsGrowing = names((t) => t.fds.verdict === 'GROWING')
  const rssByMappedPages = names((t) => t.rss.verdict === 'GROWING' && t.rssAnon.verdict === 'FLAT')
  const parts = [
    ownGrowing.length === 0 ? 'own memory (anonymous RSS) FLAT in every process' : `own memory (anonymous RSS) GROWING in ${ownGrowing.join(', ')}`,
    fdsGrowing.length === 0 ? 'fds FLAT in every process' : `fds GROWING in ${fdsGrowing.join(', ')}`,
  ]
  const flatRss = names((t) => t.rss.verdict === 'FLAT')
  if (rssByMappedPages.length > 0) parts.push(`RSS rises in ${rssByMappedPages.join(', ')} only by mapped table-file pages (page cache the kernel reclaims)`)
  else if (flatRss.length > 0) parts.push(`RSS FLAT in ${flatRss.length === Object.keys(trends).length ? 'every process' : flatRss.join(', ')}`)
  return `memory: ${parts.join('; ')}`
}
