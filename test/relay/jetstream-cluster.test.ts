/**
 * JetStreamEventLog on a real 3-node NATS cluster with an R3 stream: a
 * writer keeps appending while one node is killed with SIGKILL; every
 * acknowledged append is in the stream exactly once, in order, each frame
 * carrying its seq, and a reader on another connection follows live
 * throughout (the stream's leader may move; the ordered consumers re-create
 * themselves at the right seq).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { decodeFrame } from '../../core/stream/frames.ts'
import { JetStreamEventLog } from '../../relay/log/jetstream-event-log.ts'
import { startNatsCluster } from '../helpers/nats.ts'
import type { NatsCluster } from '../helpers/nats.ts'
import { unsequenced } from '../stream/fixtures.ts'

let cluster: NatsCluster
const connections: NatsConnection[] = []

before(async () => {
  cluster = await startNatsCluster(3)
})
after(async () => {
  for (const nc of connections) await nc.close().catch(() => {})
  await cluster?.stop()
})

async function connectAll(): Promise<NatsConnection> {
  const nc = await connect({ servers: cluster.urls.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 })
  connections.push(nc)
  return nc
}

test('R3 stream: kill -9 one NATS node mid-stream, appends keep landing exactly once and in order', async () => {
  const names = { stream: 'R3', subject: 'atfed.test.r3', replicas: 3 }
  const writer = await JetStreamEventLog.open(await connectAll(), names)
  const reader = await JetStreamEventLog.open(await connectAll(), names)
  try {
    const acked: number[] = []
    const total = 300
    for (let n = 1; n <= total; n++) {
      if (n === 100) await cluster.kill(0)
      const [seq] = await writer.append([unsequenced(n)])
      acked.push(seq as number)
    }
    assert.deepEqual(acked, Array.from({ length: total }, (_, i) => i + 1))
    const deadline = Date.now() + 15_000
    while (reader.lastSeq() < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(reader.lastSeq(), total, 'the reader followed live across the node loss')
    const seqs: number[] = []
    for await (const e of reader.read(0)) {
      const decoded = decodeFrame(e.frameBytes)
      assert.ok(decoded.kind === 'message')
      assert.equal(decoded.payload.seq, e.seq)
      seqs.push(e.seq)
    }
    assert.deepEqual(seqs, acked)
  } finally {
    await writer.close()
    await reader.close()
  }
})
