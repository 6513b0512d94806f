/**
 * What the soak measures about each process, read from Linux's /proc:
 * resident memory (`VmRSS` in /proc/<pid>/status, kB) and open file
 * descriptors (the entries of /proc/<pid>/fd). A process that is gone reads
 * as null, which the soak reports as a crash.
 *
 * The verdict compares medians of quarters of the run, skipping the first
 * quarter (start-up: caches, JIT, level's memtables still filling):
 * FLAT when the last quarter's median is within the tolerance of the second
 * quarter's, else GROWING. Medians, not maxima, so one GC-time spike does
 * not decide it. Tolerances: RSS +15 % + 16 MB, fds +10 % + 8.
 */
import { readdirSync, readFileSync } from 'node:fs'

export const RSS_TOLERANCE = { ratio: 1.15, slackMb: 16 }
export const FD_TOLERANCE = { ratio: 1.1, slack: 8 }

export type ProcSample = { rssMb: number; fds: number }

export function sampleProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    if (kb === null) return null // a zombie has no VmRSS
    return { rssMb: Number(kb[1]) / 1024, fds: readdirSync(`/proc/${pid}/fd`).length }
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

export type Trend = { first: number; second: number; last: number; verdict: 'FLAT' | 'GROWING' }

/** Medians of the first, second and last quarter, and whether the last stays within `ratio`×second + `slack`. */
export function trend(values: readonly number[], tolerance: { ratio: number; slack: number }): Trend {
  const [first, second, , last] = quarters(values).map(median) as [number, number, number, number]
  const verdict = last <= second * tolerance.ratio + tolerance.slack ? 'FLAT' : 'GROWING'
  return { first, second, last, verdict }
}
