/**
 * Crash points, relay (issue 10, point 2; CI size): `atfed relay` (following a PDS that keeps writing) killed with
 * SIGKILL at ATFED_CRASH_ITERATIONS (default 10) seeded moments under a
 * write load, restarted on the same data each time; after every restart
 * nothing acknowledged is lost and nothing half-done shows (relay-target.ts
 * says exactly what is checked). `npm run crash` runs 100 per component.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startWatchdog } from '../helpers/watchdog.ts'
import { formatReport, runCrashPoints } from './harness.ts'
import { relayCrashTarget } from './relay-target.ts'

const ITERATIONS = Number(process.env['ATFED_CRASH_ITERATIONS'] ?? 10)
const SEED = Number(process.env['ATFED_CRASH_SEED'] ?? 20261122)

startWatchdog(90_000, 'test/crash/relay.test.ts')

test(`relay: ${ITERATIONS} kills under load, nothing acknowledged lost (seed ${SEED})`, { timeout: 80_000 }, async (t) => {
  const report = await runCrashPoints(await relayCrashTarget({ writePauseMs: 50 }), { iterations: ITERATIONS, seed: SEED, killDelayMsMax: 300, downMsMax: 300, log: (line) => t.diagnostic(line) })
  t.diagnostic(formatReport(report))
  assert.deepEqual(report.problems, [])
  assert.equal(report.lost, 0)
  assert.equal(report.survived, ITERATIONS)
})
