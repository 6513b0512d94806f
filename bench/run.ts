/**
 * `npm run bench [-- [--quick] [--sections a,b] [section…]]`
 *
 * Runs the selected sections (all by default, see sections.ts), each side in
 * its own child process (child.ts): atfed first, then the reference when the
 * section has one. Prints one markdown table to stdout, then footnotes, peak
 * RSS per section and side, and the sections' info lines. Progress goes to
 * stderr. `--quick` shrinks every section (a smoke run, numbers are rough).
 *
 * Exit code 1 when a side failed (its rows are missing, the others print);
 * 2 on bad arguments. Never judges the numbers.
 */
import { fork } from 'node:child_process'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { ChildMessage } from './child.ts'
import type { Side } from './harness.ts'
import { isSectionName, SECTION_NAMES } from './sections.ts'
import type { SectionName } from './sections.ts'
import { formatFooter, mergeRows, printRows } from './table.ts'
import type { BenchRow, SideResult } from './table.ts'

/** A side that takes longer than this is killed and reported as failed. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000
const CHILD_FILE = fileURLToPath(new URL('./child.ts', import.meta.url))

const USAGE = `usage: npm run bench -- [--quick] [--sections ${SECTION_NAMES.join(',')}] [section...]`

function parseCli(argv: string[]): { quick: boolean; sections: SectionName[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { quick: { type: 'boolean', default: false }, sections: { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  const requested = [...(values.sections?.split(',') ?? []), ...positionals].map((s) => s.trim()).filter((s) => s !== '')
  for (const name of requested) {
    if (!isSectionName(name)) throw new Error(`unknown section '${name}' (known: ${SECTION_NAMES.join(', ')})`)
  }
  // Keep the canonical order whatever order they were named in.
  const sections = requested.length === 0 ? [...SECTION_NAMES] : SECTION_NAMES.filter((n) => requested.includes(n))
  return { quick: values.quick === true, sections }
}

function runSide(section: SectionName, side: Side, quick: boolean): Promise<ChildMessage> {
  process.stderr.write(`bench: ${section} (${side === 'ours' ? 'atfed' : 'reference'})\n`)
  const args = [section, side, ...(quick ? ['--quick'] : [])]
  const child = fork(CHILD_FILE, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  child.stdout?.pipe(process.stderr)
  return new Promise((resolve) => {
    let message: ChildMessage | null = null
    const failed = (error: string): ChildMessage => ({
      sides: [side],
      result: { section, side, measurements: [], info: [], peakRssMb: 0, startRssMb: 0, seconds: 0, error },
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
    child.on('message', (m) => {
      message = m as ChildMessage
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(message ?? failed(`child exited with ${signal ?? `code ${code}`} before reporting`))
    })
  })
}

async function main(): Promise<number> {
  let options: { quick: boolean; sections: SectionName[] }
  try {
    options = parseCli(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const rows: BenchRow[] = []
  const results: SideResult[] = []
  for (const section of options.sections) {
    const ours = await runSide(section, 'ours', options.quick)
    const sectionResults = [ours.result]
    if (ours.sides.includes('reference')) sectionResults.push((await runSide(section, 'reference', options.quick)).result)
    rows.push(...mergeRows(section, sectionResults))
    results.push(...sectionResults)
  }
  const cpu = cpus()
  console.log(
    `atfed bench${options.quick ? ' --quick' : ''}: node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown cpu'}`,
  )
  console.log('ratio > 1x: atfed is better (faster, or less time per op); reference measured in the same run\n')
  printRows(rows)
  console.log('')
  for (const line of formatFooter(results)) console.log(line)
  return results.some((r) => r.error !== undefined) ? 1 : 0
}

process.exitCode = await main()
