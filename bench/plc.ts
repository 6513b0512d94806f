/**
 * PLC directory write throughput (issue 3): valid genesis ops POSTed over
 * loopback HTTP to our directory (did-resolver/plc/server.ts, embedded
 * `level`), running in a separate process (plc-server-process.ts). Once
 * sequentially (one request in flight) and once from CONCURRENT_CLIENTS
 * clients each posting its share of the ops back to back. Every op must be
 * accepted (200), or the section fails.
 *
 * The reference directory (did-method-plc) needs Postgres, which this
 * machine does not run, so the reference column is '-'.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { perSecond, timeAsync } from './harness.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { makeGenesisOps, postGenesis, tempDir } from './plc-fixture.ts'
import type { GenesisFixture } from './plc-fixture.ts'

const CONCURRENT_CLIENTS = 8
const SERVER_FILE = fileURLToPath(new URL('./plc-server-process.ts', import.meta.url))
const NOTE =
  'genesis ops (k256 rotation key) POSTed over loopback HTTP to our directory in its own process, fsync per op; the reference directory needs Postgres: not run'

type ServerProcess = { url: string; stop(): Promise<number> }

async function startServerProcess(dataDir: string): Promise<ServerProcess> {
  const child = fork(SERVER_FILE, [dataDir], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const messages: unknown[] = []
  const waiters: Array<() => void> = []
  child.on('message', (m) => {
    messages.push(m)
    waiters.shift()?.()
  })
  const next = async <T>(): Promise<T> => {
    if (messages.length === 0) {
      await new Promise<void>((resolve, reject) => {
        waiters.push(resolve)
        child.once('exit', (code) => reject(new Error(`PLC server process exited (${code})`)))
      })
    }
    return messages.shift() as T
  }
  const { url } = await next<{ url: string }>()
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null || !child.connected) return 0
      child.send('stop')
      return (await next<{ peakRssMb: number }>()).peakRssMb
    },
  }
}

async function postAll(url: string, ops: readonly GenesisFixture[], clients: number): Promise<void> {
  let nextIndex = 0
  const client = async () => {
    while (nextIndex < ops.length) await postGenesis(url, ops[nextIndex++]!)
  }
  await Promise.all(Array.from({ length: clients }, client))
}

async function runOurs(context: SectionContext): Promise<void> {
  const count = context.quick ? 100 : 1_000
  const dir = tempDir('atfed-bench-plc-')
  context.progress(`building ${count * 2} genesis ops`)
  const sequential = makeGenesisOps(count, { handlePrefix: 'seq' })
  const concurrent = makeGenesisOps(count, { handlePrefix: 'par' })
  const warmup = makeGenesisOps(20, { handlePrefix: 'warm' })
  const server = await startServerProcess(dir.path)
  try {
    await postAll(server.url, warmup, 1)
    context.progress(`${count} ops, one client`)
    const seqMs = await timeAsync(() => postAll(server.url, sequential, 1))
    context.progress(`${count} ops, ${CONCURRENT_CLIENTS} clients`)
    const parMs = await timeAsync(() => postAll(server.url, concurrent, CONCURRENT_CLIENTS))
    const unit = 'ops/s'
    context.record({ name: 'ops accepted, sequential', value: perSecond(count, seqMs), unit, higherIsBetter: true, note: NOTE })
    context.record({
      name: `ops accepted, ${CONCURRENT_CLIENTS} clients`,
      value: perSecond(count, parMs),
      unit,
      higherIsBetter: true,
      note: NOTE,
    })
  } finally {
    context.info(`PLC server process peak RSS ${await server.stop()} MB`)
    dir.remove()
  }
}

export const section: BenchSection = {
  name: 'plc',
  title: 'PLC directory',
  sides: ['ours'],
  run: (_side, context) => runOurs(context),
}
