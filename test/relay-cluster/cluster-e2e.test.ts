/**
 * The relay cluster end to end on a single-node nats-server: two ingest
 * workers, two frontends, three PDSes; kill -9 an ingest worker and a
 * frontend mid-burst (the scenario and its checks: cluster-scenario.ts).
 * Bounded everywhere: per-test timeout, every wait has a deadline, and a
 * watchdog kills every child (nats-server included) and exits if the file
 * still runs past it.
 */
import { test } from 'node:test'
import { startNats } from '../helpers/nats.ts'
import { startWatchdog } from '../helpers/watchdog.ts'
import { runClusterScenario } from './cluster-scenario.ts'

startWatchdog(170_000, 'test/relay-cluster/cluster-e2e.test.ts')

test('relay cluster: 2 ingest workers, 2 frontends, 3 PDSes; kill -9 a worker and a frontend mid-burst; every commit exactly once, in order', { timeout: 160_000 }, async (t) => {
  const nats = await startNats()
  try {
    await runClusterScenario(t, { nats, stream: 'E2E', replicas: 1, kill: { natsLeader: false, workerAndFrontend: true } })
  } finally {
    await nats.stop()
  }
})
