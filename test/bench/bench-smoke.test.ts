/**
 * The bench code runs (not how fast): a quick crypto section end to end in
 * child processes, the table's shape, bad arguments, and the ratio's
 * orientation (> 1x means atfed is better, for rates and for latencies).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { formatRows, mergeRows, ratio } from '../../bench/table.ts'
import type { SideResult } from '../../bench/table.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function bench(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  })
}

test('npm run bench -- --quick --sections crypto prints a table with ratios', () => {
  const run = bench(['--quick', '--sections', 'crypto'])
  assert.equal(run.status, 0, run.stderr)
  const lines = run.stdout.split('\n')
  const header = lines.find((l) => l.startsWith('| section'))
  assert.ok(header, run.stdout)
  assert.deepEqual(header.split('|').map((c) => c.trim()).filter(Boolean), ['section', 'benchmark', 'atfed', 'reference', 'ratio'])
  for (const name of ['secp256k1 verify', 'secp256k1 sign', 'P-256 verify', 'P-256 sign']) {
    const row = lines.find((l) => l.includes(`| ${name} `))
    assert.ok(row, `no row for ${name}`)
    const cells = row.split('|').map((c) => c.trim())
    assert.match(cells[3]!, /^[\d,.]+ ops\/s$/)
    assert.match(cells[4]!, /^[\d,.]+ ops\/s$/)
    assert.match(cells[5]!, /^\d+(\.\d)?x$/)
  }
  assert.match(run.stdout, /peak RSS.*: crypto atfed \d+ MB .*reference \d+ MB/)
  assert.match(run.stdout, /atfed backend: k256 (libsecp256k1-native|node-crypto-fallback)/)
})

test('an unknown section is refused with exit code 2 and the usage', () => {
  const run = bench(['--sections', 'nope'])
  assert.equal(run.status, 2)
  assert.match(run.stderr, /unknown section 'nope'/)
  assert.match(run.stderr, /usage: npm run bench/)
})

function side(sideName: 'ours' | 'reference', value: number, higherIsBetter: boolean): SideResult {
  const m = { name: 'x', value, unit: higherIsBetter ? 'ops/s' : 'ms', higherIsBetter }
  return { section: 's', side: sideName, measurements: [m], info: [], peakRssMb: 1, startRssMb: 1, seconds: 1 }
}

test('ratio: > 1x means atfed is better, for rates and for times', () => {
  const [rate] = mergeRows('s', [side('ours', 300, true), side('reference', 100, true)])
  assert.equal(ratio(rate!), '3.0x')
  const [latency] = mergeRows('s', [side('ours', 2, false), side('reference', 8, false)])
  assert.equal(ratio(latency!), '4.0x')
  const [slower] = mergeRows('s', [side('ours', 50, true), side('reference', 100, true)])
  assert.equal(ratio(slower!), '0.5x')
  const [alone] = mergeRows('s', [side('ours', 50, true)])
  assert.equal(alone!.reference, null)
  assert.equal(ratio(alone!), 'n/a')
  assert.match(formatRows([alone!])[2]!, /\| +- \| +n\/a \|$/)
})
