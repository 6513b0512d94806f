/**
 * Crash points (issue 10, point 2): run one component as a real child
 * process (`node bin/atfed.js pds|relay|plc …`) under a steady write load,
 * SIGKILL it at a seeded random moment while writes are in flight, restart
 * it on the same data dir and port, and check what survived — N times.
 *
 * A target (pds-target.ts, relay-target.ts, plc-target.ts) owns the load
 * and the checks; this file owns the loop:
 *
 *   start → setup → for each iteration:
 *     load(i) until something was acknowledged in this life (so the kill
 *     lands on a running write path, not on start-up), then a seeded delay
 *     of 0..killDelayMsMax ms → SIGKILL → the load's in-flight requests fail
 *     ("uncertain": sent, never answered) → optional seeded downtime →
 *     start again → check(i).
 *
 * A check returns what it counted: `acked` (acknowledged writes checked),
 * `uncertainDurable` (writes in flight at a kill that turned out durable and
 * complete: allowed), and `lost` plus `problems` (must stay 0 / empty). An
 * iteration whose check found anything, or threw, ends the run: the state
 * is no longer known-good, so later iterations would prove nothing. The
 * report says how many iterations survived and the seed to replay.
 *
 * Every child is killed in `finally`, and each wait is bounded (the targets
 * use poll.ts); test files also start the watchdog (helpers/watchdog.ts).
 */
import { spawnAtfed } from '../helpers/atfed-child.ts'
import type { AtfedChild } from '../helpers/atfed-child.ts'
import { makeRng } from '../helpers/prng.ts'
import type { Rng } from '../helpers/prng.ts'
import { trackProcessGroup, untrackProcessGroup } from '../helpers/watchdog.ts'
import { sleep } from './poll.ts'

export type CheckResult = { acked: number; uncertainDurable: number; lost: number; problems: string[] }

/** One life's load: resolves `acknowledged` once a write of this life was answered. */
export type Load = { readonly acknowledged: Promise<void>; stop(): Promise<void> }

export type CrashTarget = {
  readonly component: 'pds' | 'relay' | 'plc'
  /** The child's CLI arguments (same data dir and port every time) and its ready line. */
  command(): { args: string[]; ready: RegExp; env?: Record<string, string> }
  /**
   * A stdout line a restart prints when it repaired what a kill left half
   * written, and what that was (the PDS: events written ahead of a repo
   * batch that never landed): the report counts such restarts, so a run
   * shows that kills hit that window.
   */
  readonly recovery?: { line: RegExp; what: string }
  /** Once, after the first start: accounts, consumers, writers. */
  setup(url: string, rng: Rng): Promise<void>
  load(iteration: number, url: string): Load
  /** After a restart: everything acknowledged is there, nothing half-done is. */
  check(iteration: number, url: string): Promise<CheckResult>
  close(): Promise<void>
}

export type CrashRunOptions = {
  iterations: number
  seed: number
  /** Kill this long (seeded, uniform) after the life's first acknowledgement. */
  killDelayMsMax: number
  /** Stay down this long (seeded) before restarting: the load elsewhere goes on (relay). */
  downMsMax?: number
  /** Bound on waiting for a life's first acknowledgement. */
  ackTimeoutMs?: number
  log?: (line: string) => void
}

export type CrashReport = {
  component: string
  seed: number
  iterations: number
  survived: number
  acked: number
  uncertainDurable: number
  lost: number
  /** Restarts that printed the target's recovery line; null when it has none. */
  recoveries: number | null
  problems: string[]
  seconds: number
}

const ACK_TIMEOUT_MS = 20_000

async function startChild(target: CrashTarget): Promise<AtfedChild> {
  const { args, ready, env } = target.command()
  const child = await spawnAtfed(args, { ready, ...(env === undefined ? {} : { env }) })
  trackProcessGroup(child.child.pid)
  return child
}

async function kill(child: AtfedChild): Promise<void> {
  await child.kill('SIGKILL')
  untrackProcessGroup(child.child.pid)
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))
  promise.catch(() => {}) // a late failure of the loser is not an unhandled rejection
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** One life: load until acknowledged, seeded delay, SIGKILL, load stopped. */
async function killDuringLoad(target: CrashTarget, child: AtfedChild, i: number, rng: Rng, options: CrashRunOptions): Promise<void> {
  const load = target.load(i, child.url)
  try {
    await withTimeout(load.acknowledged, options.ackTimeoutMs ?? ACK_TIMEOUT_MS, `a write acknowledged in life ${i}`)
    await sleep(rng.int(options.killDelayMsMax + 1))
  } finally {
    await kill(child)
    await load.stop()
  }
}

export async function runCrashPoints(target: CrashTarget, options: CrashRunOptions): Promise<CrashReport> {
  const rng = makeRng(options.seed)
  const started = Date.now()
  const report: CrashReport = {
    component: target.component, seed: options.seed, iterations: options.iterations,
    survived: 0, acked: 0, uncertainDurable: 0, lost: 0, recoveries: target.recovery === undefined ? null : 0, problems: [], seconds: 0,
  }
  let child: AtfedChild | null = null
  try {
    child = await startChild(target)
    await target.setup(child.url, rng)
    for (let i = 0; i < options.iterations; i++) {
      let result: CheckResult
      const phases = { startMs: 0, checkMs: 0 }
      let recovered = false
      try {
        if (child === null) break
        await killDuringLoad(target, child, i, rng, options)
        child = null
        if (options.downMsMax !== undefined) await sleep(rng.int(options.downMsMax + 1))
        let t = Date.now()
        child = await startChild(target)
        phases.startMs = Date.now() - t
        recovered = target.recovery !== undefined && child.startup.some((line) => target.recovery!.line.test(line))
        if (recovered && report.recoveries !== null) report.recoveries++
        t = Date.now()
        result = await target.check(i, child.url)
        phases.checkMs = Date.now() - t
      } catch (err) {
        result = { acked: 0, uncertainDurable: 0, lost: 0, problems: [`threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`] }
      }
      report.acked = Math.max(report.acked, result.acked)
      report.uncertainDurable += result.uncertainDurable
      report.lost += result.lost
      report.problems.push(...result.problems.map((p) => `iteration ${i}: ${p}`))
      options.log?.(`${target.component} ${i + 1}/${options.iterations}: ${result.acked} acknowledged writes checked, ${result.uncertainDurable} in-flight writes durable, ${result.lost} lost, ${result.problems.length} problems (restart ${phases.startMs} ms, check ${phases.checkMs} ms)${recovered ? `; the restart ${target.recovery!.what}` : ''}`)
      if (result.lost > 0 || result.problems.length > 0) break
      report.survived++
    }
  } finally {
    if (child !== null) await kill(child)
    await target.close()
    report.seconds = (Date.now() - started) / 1000
  }
  return report
}

export function formatReport(r: CrashReport): string {
  const head = `${r.component}: ${r.survived}/${r.iterations} kills survived (seed ${r.seed}, ${r.seconds.toFixed(1)} s): ` +
    `${r.acked} acknowledged writes checked, ${r.uncertainDurable} in-flight writes durable and complete, ${r.lost} lost` +
    (r.recoveries === null ? '' : `, ${r.recoveries} restarts repaired a half-written change`)
  return [head, ...r.problems.slice(0, 10)].join('\n')
}
