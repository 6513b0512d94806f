/**
 * Benchmark plumbing: what a section is, how it times work, and the peak RSS
 * of the process running it. Benchmarks print numbers; they never assert on
 * time (performance targets are judged by reading the ratios against the
 * reference measured in the same run, not by a failing test).
 *
 * A section (bench/<name>.ts) exports a `BenchSection`. The runner starts one
 * child process per section and side (ours, then the reference), so each
 * side's peak RSS is its own and one side's garbage never lands on the
 * other's clock. A side reports `Measurement`s by name; the runner pairs the
 * two sides' measurements of the same name into one table row (table.ts).
 *
 * Rates come from `measureRate` (run an op until a time budget is spent,
 * after a short warm-up) or from timing a fixed amount of work with
 * `timeAsync`. Sync ops are not awaited, so a sync API is not charged a
 * microtask per call; async ones are.
 */
export type Side = 'ours' | 'reference'

export type Measurement = {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly higherIsBetter: boolean
  /** Printed as a footnote under the table (what was measured, caveats). */
  readonly note?: string
}

export type SectionContext = {
  readonly quick: boolean
  record(measurement: Measurement): void
  /** A line printed under the table (e.g. which crypto backend ran). */
  info(line: string): void
  /** Progress for the person waiting (stderr). */
  progress(line: string): void
}

export type BenchSection = {
  readonly name: string
  readonly title: string
  /** Sides this section measures; a section without a reference prints '-' there. */
  readonly sides: readonly Side[]
  run(side: Side, context: SectionContext): Promise<void>
}

export async function timeAsync(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

export type RateOptions = {
  durationMs: number
  /** Untimed calls before timing starts (JIT, caches). */
  warmupMs?: number
}

/** Calls `op(i)` for i = 0, 1, … until `durationMs` has passed; returns calls per second. */
export async function measureRate(op: (i: number) => unknown, options: RateOptions): Promise<number> {
  await runFor(op, options.warmupMs ?? Math.min(200, options.durationMs / 5))
  const { calls, elapsedMs } = await runFor(op, options.durationMs)
  return (calls * 1000) / elapsedMs
}

async function runFor(op: (i: number) => unknown, durationMs: number): Promise<{ calls: number; elapsedMs: number }> {
  const start = nowMs()
  let calls = 0
  let elapsedMs = 0
  do {
    const result = op(calls)
    if (isThenable(result)) await result
    calls++
    elapsedMs = nowMs() - start
  } while (elapsedMs < durationMs)
  return { calls, elapsedMs }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/** The p-th percentile (0..100) of `values`, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Megabytes (10^6 bytes) per second. */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000)
}

export function perSecond(count: number, ms: number): number {
  return (count * 1000) / ms
}

/** Peak resident set of this process so far, in MB (the kernel's own high-water mark). */
export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS * 1024) / 1e6)
}
