/**
 * The fuzz engine itself: it finds a planted bug that only coverage feedback
 * can reach in a bounded number of executions (and blind mutation of the
 * same seed with the same budget does not), plus its small parts — hit-count
 * buckets, the CBOR head scan, mutation bounds and determinism, crash
 * classification, crash files.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { AtfedError } from '../../core/errors.ts'
import { hitBucket } from '../../fuzz/engine/coverage.ts'
import { classifyError } from '../../fuzz/engine/fuzzer.ts'
import { cborHeads, mutate } from '../../fuzz/engine/mutate.ts'
import { makeRng } from '../../fuzz/engine/rng.ts'
import { runTarget } from '../../fuzz/engine/runner.ts'
import { saveCrash } from '../../fuzz/engine/crash-file.ts'

const PLANTED = new URL('./planted-target.ts', import.meta.url).href
const WATCHDOG = new URL('./watchdog-target.ts', import.meta.url).href
const EXECS_BUDGET = 150_000

test('coverage feedback finds the planted 4-byte magic within the exec budget; blind mutation does not', { timeout: 120_000 }, async (t) => {
  const guided = await runTarget(PLANTED, { seed: 1, timeMs: 60_000, execsMax: EXECS_BUDGET, stopOnCrash: true })
  assert.equal(guided.crashList.length, 1, `not found in ${guided.execs} execs (corpus ${guided.corpus}, blocks ${guided.blocks})`)
  assert.match(guided.crashList[0]!.reason, /^TypeError: planted bug reached/)
  assert.deepEqual([...guided.crashList[0]!.input.subarray(0, 4)], [0x46, 0x55, 0x5a, 0x5a])
  assert.ok(guided.execs <= EXECS_BUDGET + 1024)
  assert.ok(guided.corpus >= 4, 'each byte of progress was kept as a corpus entry')
  t.diagnostic(`found after ${guided.execs} execs, corpus ${guided.corpus}`)
  const blind = await runTarget(PLANTED, { seed: 1, timeMs: 60_000, execsMax: EXECS_BUDGET, stopOnCrash: true, feedback: false })
  assert.equal(blind.crashList.length, 0)
  assert.ok(blind.execs >= EXECS_BUDGET, `blind ran its budget (${blind.execs})`)
})

test('a slow input and a hanging one are crashes, with the input that did it', { timeout: 60_000 }, async () => {
  const report = await runTarget(WATCHDOG, { seed: 1, timeMs: 6_000, slowInputMs: 100, hangMs: 1_000 })
  const bySignature = new Map(report.crashList.map((c) => [c.signature, c]))
  assert.match(bySignature.get('Slow')?.reason ?? '', /^Slow: one input took \d+ ms \(cap 100 ms\)/)
  assert.equal(new TextDecoder().decode(bySignature.get('Slow')!.input), 'slow')
  assert.match(bySignature.get('Hang')?.reason ?? '', /^Hang: no progress for 1000 ms/)
  assert.equal(new TextDecoder().decode(bySignature.get('Hang')!.input), 'hang')
  assert.ok(report.workers >= 2, 'a new worker took over after the hung one was terminated')
})

test('an input that exhausts the heap is a Memory crash', { timeout: 60_000 }, async () => {
  process.env['ATFED_WATCHDOG_SEEDS'] = 'ok,oom'
  try {
    const report = await runTarget(WATCHDOG, { seed: 1, timeMs: 2_000, heapMbMax: 128, stopOnCrash: true })
    assert.equal(report.crashList.length, 1)
    assert.match(report.crashList[0]!.reason, /^Memory: /)
    assert.equal(new TextDecoder().decode(report.crashList[0]!.input), 'oom')
  } finally {
    delete process.env['ATFED_WATCHDOG_SEEDS']
  }
})

test('hit-count buckets are AFL\'s: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+', () => {
  const cases: [number, number][] = [[1, 0], [2, 1], [3, 2], [4, 3], [7, 3], [8, 4], [15, 4], [16, 5], [31, 5], [32, 6], [127, 6], [128, 7], [1e6, 7]]
  for (const [count, bucket] of cases) assert.equal(hitBucket(count), bucket, `count ${count}`)
})

test('cborHeads finds the head of every item, stepping over string payloads', () => {
  // {a: [1, "xy"], b: h'00'}: a2 61 61 82 01 62 78 79 61 62 41 00
  const bytes = Uint8Array.from([0xa2, 0x61, 0x61, 0x82, 0x01, 0x62, 0x78, 0x79, 0x61, 0x62, 0x41, 0x00])
  assert.deepEqual(cborHeads(bytes), [0, 1, 3, 4, 5, 8, 10])
  assert.deepEqual(cborHeads(Uint8Array.of(0x5a, 0xff)), [0]) // a length past the end stops the scan
})

test('mutate: deterministic for a seed, never longer than maxBytes, input untouched', () => {
  const input = Uint8Array.from({ length: 200 }, (_, i) => i)
  const run = (seed: number): string[] => {
    const rng = makeRng(seed)
    const ctx = { rng, maxBytes: 210, other: () => input, dictionary: [Uint8Array.of(1, 2, 3)], cbor: true }
    return Array.from({ length: 500 }, () => Buffer.from(mutate(input, ctx)).toString('hex'))
  }
  const a = run(5)
  assert.deepEqual(a, run(5))
  assert.notDeepEqual(a, run(6))
  for (const hex of a) assert.ok(hex.length / 2 <= 210)
  assert.ok(new Set(a).size > 400, 'mutants differ')
  assert.deepEqual([...input.subarray(0, 3)], [0, 1, 2])
})

test('classifyError: documented AtfedErrors pass, everything else is a crash with our first frame', () => {
  const root = pathToFileURL(join(process.cwd(), '/')).href
  const context = { expected: new Set(['InvalidCar']), sourceUrl: root }
  assert.equal(classifyError(new AtfedError('InvalidCar', 'x'), context), null)
  assert.match(classifyError(new AtfedError('CidMismatch', 'x'), context)!.reason, /^CidMismatch: x/)
  const crash = classifyError(new TypeError('boom'), context)!
  assert.match(crash.reason, /^TypeError: boom \(at test\/fuzz\/engine\.test\.ts:\d+/)
  assert.match(crash.signature, /^TypeError at test\/fuzz\/engine\.test\.ts:\d+$/)
  assert.match(classifyError('a string', context)!.reason, /^Error: non-Error thrown: a string/)
})

test('saveCrash writes <sha>.bin and a one-line reason once per input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-fuzz-'))
  try {
    const dirUrl = pathToFileURL(`${dir}/`)
    const path = saveCrash('cbor', { input: Uint8Array.of(1, 2, 3), reason: 'TypeError: x\n y' }, { dirUrl })
    assert.match(path!, /^test\/fuzz\/regressions\/cbor\/[0-9a-f]{16}\.bin$/)
    const sha = path!.slice(-20, -4)
    assert.deepEqual([...readFileSync(join(dir, 'cbor', `${sha}.bin`))], [1, 2, 3])
    assert.equal(readFileSync(join(dir, 'cbor', `${sha}.txt`), 'utf8'), 'found: TypeError: x y\n')
    assert.equal(saveCrash('cbor', { input: Uint8Array.of(1, 2, 3), reason: 'again' }, { dirUrl }), null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
