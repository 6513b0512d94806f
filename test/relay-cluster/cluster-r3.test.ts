/**
 * The relay cluster on a 3-node NATS cluster with an R3 stream and R3 KV
 * buckets: two ingest workers, two frontends, three PDSes. Mid-burst the
 * node leading the stream is killed with SIGKILL, then the ingest worker
 * holding most hosts, then a frontend: the firehose must keep flowing, the
 * hosts move (within RELAY_CLUSTER_LEASE_TTL_MS plus the cluster's own
 * recovery: `moveMsMax`), and it must hold every commit exactly once, in
 * per-repo order; a consumer moving between frontends with its cursor sees
 * no gap or duplicate (the scenario and its checks: cluster-scenario.ts). Bounded everywhere: per-test timeout, every wait
 * has a deadline, and a watchdog kills every child (nats-server included)
 * and exits if the file still runs past it.
 */
import { test } from 'node:test'
import { startNatsCluster } from '../helpers/nats.ts'
import { startWatchdog } from '../helpers/watchdog.ts'
import { runClusterScenario } from './cluster-scenario.ts'

startWatchdog(170_000, 'test/relay-cluster/cluster-r3.test.ts')

test('relay cluster on 3 NATS nodes, R3: kill -9 the stream leader, then an ingest worker and a frontend, mid-burst; every commit exactly once, in order', { timeout: 160_000 }, async (t) => {
  const nats = await startNatsCluster(3)
  try {
    await runClusterScenario(t, { nats, stream: 'R3E2E', replicas: 3, kill: { natsLeader: true, workerAndFrontend: true }, moveMsMax: 60_000 })
  } finally {
    await nats.stop()
  }
})
