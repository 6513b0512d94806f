/**
 * JetStreamEventLog against a real single-node nats-server: the EventLog
 * compliance suite (callerBatch: false, see the suite's header), then what
 * only a shared stream has: two writers on one stream never reuse a seq and
 * each frame carries the seq it landed at; a commit published twice (a
 * takeover re-verifying it) is stored once; a reader process sees another
 * process's appends live.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { decodeFrame } from '../../core/stream/frames.ts'
import type { LoggedFrame } from '../../core/stream/event-log.ts'
import { JetStreamEventLog } from '../../relay/log/jetstream-event-log.ts'
import type { JetStreamEventLogOptions } from '../../relay/log/jetstream-event-log.ts'
import { startNats } from '../helpers/nats.ts'
import { runEventLogCompliance } from '../stream/event-log-compliance.ts'
import type { EventLogHarness } from '../stream/event-log-compliance.ts'
import { unsequenced } from '../stream/fixtures.ts'

const nats = await startNats()
after(() => nats.stop())

let streams = 0
function freshStream(): Pick<JetStreamEventLogOptions, 'stream' | 'subject'> {
  streams++
  return { stream: `T${streams}`, subject: `atfed.test.${streams}` }
}

async function dropStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc)
  await jsm.streams.delete(stream).catch(() => {})
}

runEventLogCompliance(
  'JetStreamEventLog',
  async ({ now }) => {
    const names = freshStream()
    const open = async (options: { initialSeq?: number }): Promise<EventLogHarness> => {
      const nc = await connect({ servers: nats.urls })
      const log = await JetStreamEventLog.open(nc, { ...names, ...options, now })
      const closeAll = async (): Promise<void> => {
        await log.close()
        await nc.close()
      }
      return {
        log,
        writeBatch: async (ops) => assert.equal(ops.length, 0, 'a JetStream append has no batch ops'),
        reopen: async (options = {}) => {
          await closeAll()
          return open(options)
        },
        close: async () => {
          await dropStream(nc, names.stream as string)
          await closeAll()
        },
      }
    }
    return open({})
  },
  { callerBatch: false },
)

async function all(log: JetStreamEventLog, afterSeq = 0): Promise<LoggedFrame[]> {
  const out: LoggedFrame[] = []
  for await (const e of log.read(afterSeq)) out.push(e)
  return out
}

function payload(frame: Uint8Array): Record<string, unknown> {
  const decoded = decodeFrame(frame)
  assert.ok(decoded.kind === 'message')
  return decoded.payload as Record<string, unknown>
}

test('two writers on one stream: no seq reused, every frame carries the seq it landed at, each writer in order', async () => {
  const names = freshStream()
  const [ncA, ncB] = [await connect({ servers: nats.urls }), await connect({ servers: nats.urls })]
  const [a, b] = [await JetStreamEventLog.open(ncA, names), await JetStreamEventLog.open(ncB, names)]
  try {
    const writes: Promise<number[]>[] = []
    for (let i = 0; i < 40; i++) {
      writes.push(a.append([unsequenced(1_000 + i * 2), unsequenced(1_001 + i * 2)]))
      writes.push(b.append([unsequenced(5_000 + i)]))
    }
    const seqs = (await Promise.all(writes)).flat()
    while (a.lastSeq() < 120) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(new Set(seqs).size, 120)
    const frames = await all(a)
    assert.deepEqual(frames.map((f) => f.seq), Array.from({ length: 120 }, (_, i) => i + 1), 'no gaps, no repeats')
    for (const f of frames) assert.equal(payload(f.frameBytes)['seq'], f.seq)
    // Each writer's own events keep its order.
    const order = (writer: number[]): void => assert.deepEqual([...writer].sort((x, y) => x - y), writer)
    order((await Promise.all(writes.filter((_, i) => i % 2 === 0))).flat())
    order((await Promise.all(writes.filter((_, i) => i % 2 === 1))).flat())
  } finally {
    await a.close()
    await b.close()
    await dropStream(ncA, names.stream as string)
    await ncA.close()
    await ncB.close()
  }
})

test('the same commit published again (a takeover) is stored once and answers with its first seq', async () => {
  const names = freshStream()
  const nc = await connect({ servers: nats.urls })
  const log = await JetStreamEventLog.open(nc, names)
  try {
    assert.deepEqual(await log.append([unsequenced(1), unsequenced(2)]), [1, 2])
    assert.deepEqual(await log.append([unsequenced(2), unsequenced(3)]), [2, 3])
    assert.deepEqual((await all(log)).map((f) => f.seq), [1, 2, 3])
    assert.equal(log.lastSeq(), 3)
  } finally {
    await log.close()
    await dropStream(nc, names.stream as string)
    await nc.close()
  }
})

test('a reader on another connection sees appends live and reads them verbatim', async () => {
  const names = freshStream()
  const [ncW, ncR] = [await connect({ servers: nats.urls }), await connect({ servers: nats.urls })]
  const writer = await JetStreamEventLog.open(ncW, names)
  const reader = await JetStreamEventLog.open(ncR, names)
  try {
    const reached = new Promise<void>((resolve) => reader.onAppend((last) => last >= 3 && resolve()))
    await writer.append([unsequenced(1), unsequenced(2), unsequenced(3)])
    await reached
    assert.equal(reader.lastSeq(), 3)
    const [w, r] = [await all(writer), await all(reader)]
    assert.deepEqual(r.map((f) => Buffer.from(f.frameBytes)), w.map((f) => Buffer.from(f.frameBytes)))
  } finally {
    await writer.close()
    await reader.close()
    await dropStream(ncW, names.stream as string)
    await ncW.close()
    await ncR.close()
  }
})
