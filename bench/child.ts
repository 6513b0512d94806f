/**
 * One benchmark section on one side, in its own process (started by run.ts
 * with an IPC channel): `child.ts <section> <ours|reference> [--quick]`.
 * Sends one `ChildMessage` to the parent and exits; progress goes to stderr.
 * The exit is forced after the message is sent, so a handle a section forgot
 * to close cannot hang the whole run.
 */
import { peakRssMb, nowMs } from './harness.ts'
import type { Measurement, Side } from './harness.ts'
import { isSectionName, loadSection } from './sections.ts'
import type { SideResult } from './table.ts'

export type ChildMessage = { result: SideResult; sides: readonly Side[] }

function isSide(s: unknown): s is Side {
  return s === 'ours' || s === 'reference'
}

async function main(): Promise<ChildMessage> {
  const [name, sideArg, ...flags] = process.argv.slice(2)
  if (name === undefined || !isSectionName(name)) throw new Error(`unknown section ${String(name)}`)
  if (!isSide(sideArg)) throw new Error(`side must be ours or reference, got ${String(sideArg)}`)
  const side: Side = sideArg
  const startRssMb = Math.round(process.memoryUsage.rss() / 1e6)
  const section = await loadSection(name)
  const measurements: Measurement[] = []
  const info: string[] = []
  const start = nowMs()
  const base = { section: name, side, measurements, info, startRssMb }
  try {
    await section.run(side, {
      quick: flags.includes('--quick'),
      record: (m) => measurements.push(m),
      info: (line) => info.push(line),
      progress: (line) => process.stderr.write(`  ${name}/${side}: ${line}\n`),
    })
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
    return { sides: section.sides, result: { ...base, peakRssMb: peakRssMb(), seconds: (nowMs() - start) / 1000, error } }
  }
  return { sides: section.sides, result: { ...base, peakRssMb: peakRssMb(), seconds: (nowMs() - start) / 1000 } }
}

const send = (message: ChildMessage): void => {
  if (process.send === undefined) {
    console.log(JSON.stringify(message, null, 2))
    process.exit(message.result.error === undefined ? 0 : 1)
  }
  process.send(message, () => process.exit(0))
}

main().then(send, (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(2)
})
