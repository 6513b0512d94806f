/**
 * Relay fan-out under a clock: N live consumers of the relay's firehose
 * while it ingests, three processes so each one's CPU and memory are its own:
 * - the relay (relay-fanout-relay.ts, fresh data dir, DID cache warm);
 * - N plain `ws` consumers (stream-fanout-clients.ts: each counts binary
 *   messages, no decoding) — connected, live (no cursor), before ingest starts;
 * - the upstream: the scripted host child (relay-ingest-host.ts) already
 *   holding the frames; the relay follows it from cursor 0.
 * The clock runs from "follow" until every consumer has `events` events:
 * events/s per consumer = events / seconds, total deliveries/s = that × N.
 * The relay's RSS: right after start, with the N consumers connected, the
 * peak sampled while it ran, and after a full GC once every consumer (still
 * connected) had every event (memory must not
 * grow with N × events: each subscriber reads the shared log at its own
 * position and every socket references the same frame bytes).
 */
import { fork, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

export type FanoutResult = {
  consumers: number
  events: number
  seconds: number
  perConsumerPerSecond: number
  deliveriesPerSecond: number
  startRssMb: number
  connectedRssMb: number
  peakRssMb: number
  /** After every consumer had every event (all still connected), and a full GC. */
  settledRssMb: number
  /** JS heap in use after a full GC: before the consumers, with them idle, once they had every event. */
  heap: { startMb: number; connectedMb: number; afterMb: number }
  relayCpuMs: number
  clientLine: string
}

type RelayReply = { url?: string; rssMb?: number; heapMb?: number; peakRssMb?: number; settledRssMb?: number; accepted?: number; cpuMs?: number }

function request(child: ChildProcess, message: object): Promise<RelayReply> {
  const reply = once(child, 'message') as Promise<[RelayReply]>
  child.send(message)
  return reply.then(([m]) => m)
}

/** Lines of a child's stdout, one at a time; rejects if the child exits first. */
function lineReader(child: ChildProcess, what: string): () => Promise<string> {
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return async () => {
    const next = await lines.next()
    if (next.done === true) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`)
    return next.value as string
  }
}

export async function measureFanout(options: { plcUrl: string; dids: readonly string[]; hostOrigin: string; consumers: number; events: number }): Promise<FanoutResult> {
  const relay = fork(new URL('./relay-fanout-relay.ts', import.meta.url).pathname, [JSON.stringify({ plcUrl: options.plcUrl, dids: options.dids })], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
  })
  let clients: ChildProcess | null = null
  try {
    const [started] = (await once(relay, 'message')) as [RelayReply]
    const url = `${started.url!.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`
    clients = spawn(process.execPath, ['--import', 'tsx', new URL('./stream-fanout-clients.ts', import.meta.url).pathname, url, String(options.consumers), String(options.events)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const nextLine = lineReader(clients, 'the consumers process')
    if ((await nextLine()) !== 'ready') throw new Error('consumers did not connect')
    const connected = await request(relay, { mark: true })
    const start = performance.now()
    await request(relay, { follow: options.hostOrigin })
    const clientLine = await nextLine()
    const seconds = (performance.now() - start) / 1000
    if (!clientLine.startsWith('done')) throw new Error(`consumers: ${clientLine}`)
    const report = await request(relay, { report: true })
    const perConsumerPerSecond = options.events / seconds
    return {
      consumers: options.consumers,
      events: options.events,
      seconds,
      perConsumerPerSecond,
      deliveriesPerSecond: perConsumerPerSecond * options.consumers,
      startRssMb: started.rssMb!,
      connectedRssMb: connected.rssMb!,
      peakRssMb: report.peakRssMb!,
      settledRssMb: report.settledRssMb!,
      heap: { startMb: started.heapMb!, connectedMb: connected.heapMb!, afterMb: report.heapMb! },
      relayCpuMs: report.cpuMs!,
      clientLine,
    }
  } finally {
    clients?.kill()
    if (relay.exitCode === null) {
      const exited = once(relay, 'exit')
      relay.send({ exit: true })
      await exited
    }
  }
}
