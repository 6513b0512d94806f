/**
 * The one table a bench run prints: each row is a measurement of ours beside
 * the reference's measurement of the same name (from the same run), and the
 * ratio oriented so that > 1x always means atfed is better. Rows without a
 * reference number show '-' and 'n/a'. Notes become numbered footnotes;
 * under them, peak RSS per section and side, and the sections' info lines.
 */
import type { Measurement, Side } from './harness.ts'

export type BenchRow = {
  readonly section: string
  readonly name: string
  readonly ours: number | null
  readonly reference: number | null
  readonly unit: string
  readonly higherIsBetter: boolean
  readonly note?: string
}

/** What one child process (one section, one side) sent back. */
export type SideResult = {
  readonly section: string
  readonly side: Side
  readonly measurements: readonly Measurement[]
  readonly info: readonly string[]
  readonly peakRssMb: number
  /** RSS when the child started (node + tsx, before the section loaded). */
  readonly startRssMb: number
  readonly seconds: number
  readonly error?: string
}

/** Pairs the sides' measurements by name, in the order ours reported them. */
export function mergeRows(section: string, results: readonly SideResult[]): BenchRow[] {
  const ours = results.find((r) => r.side === 'ours')?.measurements ?? []
  const reference = results.find((r) => r.side === 'reference')?.measurements ?? []
  const names = [...new Set([...ours, ...reference].map((m) => m.name))]
  return names.map((name) => {
    const a = ours.find((m) => m.name === name)
    const b = reference.find((m) => m.name === name)
    const shape = (a ?? b)!
    const note = a?.note ?? b?.note
    return {
      section,
      name,
      ours: a?.value ?? null,
      reference: b?.value ?? null,
      unit: shape.unit,
      higherIsBetter: shape.higherIsBetter,
      ...(note === undefined ? {} : { note }),
    }
  })
}

export function ratio(row: BenchRow): string {
  if (row.ours === null || row.reference === null || row.reference === 0 || row.ours === 0) return 'n/a'
  const r = row.higherIsBetter ? row.ours / row.reference : row.reference / row.ours
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}x`
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (n >= 100) return Math.round(n).toLocaleString('en-US')
  if (n >= 10) return n.toFixed(1)
  if (n >= 1) return n.toFixed(2)
  return n.toPrecision(2)
}

function cell(value: number | null, unit: string): string {
  return value === null ? '-' : `${formatNumber(value)} ${unit}`
}

/** A markdown table (valid as-is in a README). Returns the lines. */
export function formatRows(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  const lines = rows.map((r) => {
    let name = r.name
    if (r.note !== undefined) {
      let index = notes.indexOf(r.note)
      if (index < 0) index = notes.push(r.note) - 1
      name += ` [${index + 1}]`
    }
    return [r.section, name, cell(r.ours, r.unit), cell(r.reference, r.unit), ratio(r)]
  })
  const header = ['section', 'benchmark', 'atfed', 'reference', 'ratio']
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const numeric = new Set([2, 3, 4])
  const fmt = (cells: string[]) =>
    '| ' + cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => (numeric.has(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|'
  const out = [fmt(header), rule, ...lines.map(fmt)]
  if (notes.length > 0) out.push('', ...notes.map((n, i) => `[${i + 1}] ${n}`))
  return out
}

export function printRows(rows: readonly BenchRow[]): void {
  for (const line of formatRows(rows)) console.log(line)
}

/** "peak RSS …: repo atfed 120 MB (5 s), reference 310 MB (25 s); crypto …", then info and failures. */
export function formatFooter(results: readonly SideResult[]): string[] {
  const sections = [...new Set(results.map((r) => r.section))]
  const rss = sections.map((section) => {
    const parts = results
      .filter((r) => r.section === section)
      .map((r) => `${r.side === 'ours' ? 'atfed' : 'reference'} ${r.peakRssMb} MB (${r.seconds.toFixed(0)} s)`)
    return `${section} ${parts.join(', ')}`
  })
  const info = results.flatMap((r) => r.info.map((line) => `${r.section}: ${line}`))
  const errors = results.filter((r) => r.error !== undefined).map((r) => `FAILED ${r.section}/${r.side}: ${r.error}`)
  const start = Math.min(...results.map((r) => r.startRssMb).filter((mb) => mb > 0))
  const baseline = Number.isFinite(start) ? ` (a child starts at ~${start} MB: node + tsx)` : ''
  return [`peak RSS, each side in its own process${baseline}: ${rss.join('; ')}`, ...info, ...errors]
}
