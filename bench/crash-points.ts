/**
 * `npm run crash [-- [--iterations N] [--seed S] [pds] [relay] [plc]]`
 *
 * The long run of the crash points (issue 10, point 2): each component
 * (all three by default, in this order: pds, relay, plc) is run as its real
 * CLI child under a write load and killed with SIGKILL N times (default
 * 100) at seeded moments, restarted on the same data each time, and checked
 * after every restart (test/crash/*-target.ts say what is checked). The CI
 * run is test/crash/{pds,relay,plc}.test.ts with 10 kills each.
 *
 * Prints one line per iteration to stderr and a summary per component to
 * stdout: kills survived, acknowledged writes checked, in-flight writes
 * that were durable (allowed when whole), restarts that repaired a
 * half-written change (the PDS: events written ahead of a repo batch that
 * never landed, dropped), lost (must be 0) and the first problems. Exit code 1 when anything was lost or a check failed; 2 on bad
 * arguments. A component's run is bounded by RUN_TIMEOUT_MS.
 */
import { parseArgs } from 'node:util'
import { formatReport, runCrashPoints } from '../test/crash/harness.ts'
import type { CrashReport, CrashRunOptions, CrashTarget } from '../test/crash/harness.ts'
import { pdsCrashTarget } from '../test/crash/pds-target.ts'
import { plcCrashTarget } from '../test/crash/plc-target.ts'
import { relayCrashTarget } from '../test/crash/relay-target.ts'
import { killTrackedGroups } from '../test/helpers/watchdog.ts'

const COMPONENTS = ['pds', 'relay', 'plc'] as const
type Component = (typeof COMPONENTS)[number]
const RUN_TIMEOUT_MS = 60 * 60 * 1000
const USAGE = 'usage: npm run crash -- [--iterations N] [--seed S] [pds] [relay] [plc]'

const TARGETS: Record<Component, { target: () => Promise<CrashTarget>; options: Pick<CrashRunOptions, 'killDelayMsMax' | 'downMsMax'> }> = {
  pds: { target: pdsCrashTarget, options: { killDelayMsMax: 250 } },
  relay: { target: () => relayCrashTarget({ writePauseMs: 15 }), options: { killDelayMsMax: 300, downMsMax: 300 } },
  plc: { target: plcCrashTarget, options: { killDelayMsMax: 250 } },
}

function parseCli(argv: string[]): { iterations: number; seed: number; components: Component[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { iterations: { type: 'string', default: '100' }, seed: { type: 'string', default: '20261122' }, help: { type: 'boolean' } },
  })
  if (values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  const iterations = Number(values.iterations)
  const seed = Number(values.seed)
  if (!Number.isSafeInteger(iterations) || iterations < 1 || !Number.isSafeInteger(seed)) throw new Error(USAGE)
  for (const name of positionals) if (!(COMPONENTS as readonly string[]).includes(name)) throw new Error(`unknown component '${name}'\n${USAGE}`)
  const components = positionals.length === 0 ? [...COMPONENTS] : COMPONENTS.filter((c) => positionals.includes(c))
  return { iterations, seed, components }
}

async function main(): Promise<number> {
  let cli: ReturnType<typeof parseCli>
  try {
    cli = parseCli(process.argv.slice(2))
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err))
    return 2
  }
  const reports: CrashReport[] = []
  for (const component of cli.components) {
    const { target, options } = TARGETS[component]
    const timer = setTimeout(() => {
      console.error(`crash: ${component} still running after ${RUN_TIMEOUT_MS} ms; killing its processes`)
      killTrackedGroups()
      process.exit(1)
    }, RUN_TIMEOUT_MS)
    const report = await runCrashPoints(await target(), {
      iterations: cli.iterations, seed: cli.seed, ...options, log: (line) => process.stderr.write(`${line}\n`),
    })
    clearTimeout(timer)
    reports.push(report)
    console.log(formatReport(report))
  }
  const failed = reports.filter((r) => r.lost > 0 || r.problems.length > 0 || r.survived < r.iterations)
  console.log(`\n| component | kills survived | acknowledged writes checked | in-flight writes durable (whole) | restarts that repaired a half-written change | lost | seconds |`)
  console.log(`|---|---|---|---|---|---|---|`)
  for (const r of reports) {
    console.log(`| ${r.component} | ${r.survived}/${r.iterations} | ${r.acked} | ${r.uncertainDurable} | ${r.recoveries ?? '–'} | ${r.lost} | ${r.seconds.toFixed(0)} |`)
  }
  return failed.length === 0 ? 0 : 1
}

const code = await main()
killTrackedGroups()
process.exit(code)
