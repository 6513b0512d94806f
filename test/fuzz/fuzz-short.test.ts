/**
 * The CI-sized fuzzing run: every target for a few seconds with a fixed seed,
 * in a worker as `npm run fuzz` does. Asserts no crash and that coverage grew
 * past what the seed corpus reaches (the feedback loop works: mutants that
 * reach new blocks were found and kept). The long run is `npm run fuzz`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runTarget } from '../../fuzz/engine/runner.ts'
import { TARGET_NAMES, targetUrl } from '../../fuzz/targets/list.ts'

const SECONDS_PER_TARGET = 2

for (const name of TARGET_NAMES) {
  test(`fuzz ${name} for ${SECONDS_PER_TARGET} s: no crash, coverage grows past the seeds`, { timeout: 60_000 }, async (t) => {
    const report = await runTarget(targetUrl(name), { seed: 20261122, timeMs: SECONDS_PER_TARGET * 1000, slowInputMs: 5_000 })
    const crashes = report.crashList.map((c) => `${c.reason}\n  input (base64): ${Buffer.from(c.input).toString('base64').slice(0, 400)}`)
    assert.deepEqual(crashes, [], `${name} crashed (run npm run fuzz -- --target ${name} to save the inputs)`)
    t.diagnostic(`${report.execs} execs, ${report.execsPerSecond}/s, corpus ${report.corpus}, blocks ${report.seedBlocks} → ${report.blocks}`)
    assert.ok(report.execs > 0, 'the target ran')
    assert.ok(report.blocks > report.seedBlocks, `coverage did not grow past the seeds: ${report.seedBlocks} → ${report.blocks} blocks in ${report.execs} execs`)
    assert.ok(report.corpus > 0)
  })
}
