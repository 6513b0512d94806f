/**
 * The JSON relay scenarios (test/relay/scenarios/*.json, run by
 * scenario-runner.ts): frames in from scripted hosts → the exact relay
 * firehose and the drops by reason.
 */
import { test } from 'node:test'
import { loadScenarios, runScenario } from './scenario-runner.ts'

for (const scenario of loadScenarios()) {
  test(scenario.name, () => runScenario(scenario))
}
