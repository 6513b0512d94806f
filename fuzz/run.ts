/**
 * `npm run fuzz`: coverage-guided fuzzing of our parsers, one target after
 * the other, each in its own worker thread.
 *
 *   npm run fuzz -- [--seconds 60] [--target cbor,car] [--seed N] [--execs N]
 *
 * Why our own engine (fuzz/engine/): the well-kept Node fuzzer, Jazzer.js,
 * cannot be installed here — 4.x ships a native prebuild that needs glibc
 * 2.38 (Debian 12 has 2.36), 1.x/2.x download prebuilds from github.com at
 * install time and otherwise need a toolchain — and jsfuzz has been
 * unmaintained since 2020. V8 already counts basic blocks for us (precise
 * block coverage over node:inspector), which is all the feedback a
 * coverage-guided loop needs.
 *
 * Prints per target: executions, exec/s, corpus size, covered blocks (at the
 * seeds → at the end), crashes. Each new crash input is written to
 * test/fuzz/regressions/<target>/<sha>.bin with a one-line reason in
 * <sha>.txt (`found: …`); once the bug is fixed, add an `expect: <ErrorName>`
 * (or `expect: ok`) line and test/fuzz/regressions.test.ts replays it
 * forever. Exit status 1 when anything crashed, 2 on bad arguments.
 */
import { parseArgs } from 'node:util'
import { saveCrash } from './engine/crash-file.ts'
import { runTarget } from './engine/runner.ts'
import type { TargetReport } from './engine/runner.ts'
import { TARGET_NAMES, targetUrl } from './targets/list.ts'
import type { TargetName } from './targets/list.ts'

function parseTargets(values: string[] | undefined): TargetName[] {
  if (values === undefined || values.length === 0) return [...TARGET_NAMES]
  const names = values.flatMap((v) => v.split(',')).filter((v) => v !== '')
  for (const name of names) {
    if (!(TARGET_NAMES as readonly string[]).includes(name)) throw new Error(`unknown target ${name}; targets: ${TARGET_NAMES.join(', ')}`)
  }
  return names as TargetName[]
}

function row(name: string, r: TargetReport): string {
  return [
    name.padEnd(9),
    String(r.execs).padStart(10),
    String(r.execsPerSecond).padStart(7),
    String(r.corpus).padStart(7),
    `${r.seedBlocks} → ${r.blocks}`.padStart(13),
    String(r.crashList.length).padStart(8),
  ].join('  ')
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      target: { type: 'string', multiple: true },
      seed: { type: 'string' },
      execs: { type: 'string' },
    },
  })
  const seconds = Number(values.seconds)
  if (!(seconds > 0)) throw new Error('--seconds must be a positive number')
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed)
  const targets = parseTargets(values.target)
  console.log(`fuzzing ${targets.join(', ')} for ${seconds} s each, seed ${seed}`)
  console.log(['target'.padEnd(9), 'execs'.padStart(10), 'exec/s'.padStart(7), 'corpus'.padStart(7), 'blocks'.padStart(13), 'crashes'.padStart(8)].join('  '))
  let crashed = 0
  for (const name of targets) {
    const report = await runTarget(targetUrl(name), { seed, timeMs: seconds * 1000, ...(values.execs === undefined ? {} : { execsMax: Number(values.execs) }) })
    console.log(row(name, report))
    for (const crash of report.crashList) {
      const path = saveCrash(name, crash)
      console.log(`  CRASH ${crash.reason}${path === null ? ' (input already saved)' : `\n    → ${path}`}`)
    }
    crashed += report.crashList.length
  }
  return crashed > 0 ? 1 : 0
}

try {
  process.exitCode = await main()
} catch (err) {
  console.error(`fuzz: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 2
}
