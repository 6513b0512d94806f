/**
 * PDS over HTTP (issue 4's benchmark): createRecord records/s with p50/p99
 * latency for one client and for CONCURRENT_CLIENTS clients (on as many
 * accounts, and all on one account), getRepo MB/s on a REPO_RECORDS-record
 * repo, and firehose fan-out of live #commit events to FANOUT_SUBSCRIBERS
 * WebSocket subscribers (in their own process, stream-fanout-clients.ts).
 * The PDS runs as `atfed pds` in a child process (pds-driver.ts) with rate
 * limits off; every request must succeed or the section fails.
 *
 * The reference PDS needs Node 22, which this machine does not run, so its
 * numbers are the ones quoted in the issue (REFERENCE_FROM_ISSUE), printed
 * as an info line and NOT measured in this run.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { mbPerSecond, nowMs, percentile, perSecond, timeAsync } from './harness.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { createAccount, createBurst, createRecord, fillRepo, getRepoBytes, startPdsUnderTest, type Account } from './pds-driver.ts'

const CONCURRENT_CLIENTS = 8
const REPO_RECORDS = 10_000
const APPLY_WRITES_PER_CALL = 200
const FANOUT_SUBSCRIBERS = 100
const GET_REPO_ROUNDS = 3

export const REFERENCE_FROM_ISSUE =
  'ref (issue text, same machine; NOT measured in this run): createRecord 32–41 records/s, p50 27–96 ms; target ≥ 5× (≥ 205 records/s) with p99 < 20 ms'

const NOTE_CREATE = 'createRecord (app.bsky.feed.post, validated) over loopback HTTP to `atfed pds` in its own process; fsync per durable batch; rate limits off'

function recordBurst(context: SectionContext, label: string, burst: { ms: number; latencies: number[] }): void {
  const { ms, latencies } = burst
  context.record({ name: `createRecord ${label}`, value: perSecond(latencies.length, ms), unit: 'records/s', higherIsBetter: true, note: NOTE_CREATE })
  context.record({ name: `createRecord ${label} p50`, value: percentile(latencies, 50), unit: 'ms', higherIsBetter: false })
  context.record({ name: `createRecord ${label} p99`, value: percentile(latencies, 99), unit: 'ms', higherIsBetter: false })
}

async function fanOut(context: SectionContext, url: string, writers: readonly Account[], events: number): Promise<void> {
  const wsUrl = `${url.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`
  const clientsFile = join(import.meta.dirname, 'stream-fanout-clients.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', clientsFile, wsUrl, String(FANOUT_SUBSCRIBERS), String(events)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<string> => ((await lines.next()).value as string | undefined) ?? 'eof'
  try {
    if ((await next()) !== 'ready') throw new Error('fan-out subscribers did not start')
    const start = nowMs()
    await createBurst(url, writers, { clients: CONCURRENT_CLIENTS, count: events })
    const done = await next()
    if (!done.startsWith('done')) throw new Error(`fan-out subscribers failed: ${done}`)
    const ms = nowMs() - start
    context.record({
      name: `firehose fan-out to ${FANOUT_SUBSCRIBERS} subscribers`,
      value: perSecond(events, ms),
      unit: 'events/s',
      higherIsBetter: true,
      note: `live #commit events from ${CONCURRENT_CLIENTS} writing clients; time from the first write until every subscriber had every event`,
    })
  } finally {
    child.kill()
  }
}

async function runOurs(context: SectionContext): Promise<void> {
  const creates = context.quick ? 200 : 2_000
  const repoRecords = context.quick ? 1_000 : REPO_RECORDS
  const pds = await startPdsUnderTest()
  try {
    context.progress('creating accounts')
    const accounts: Account[] = []
    for (let i = 0; i < CONCURRENT_CLIENTS + 2; i++) accounts.push(await createAccount(pds.url, `bench${i}.test`))
    const [one, big, ...many] = accounts as [Account, Account, ...Account[]]
    for (let i = 0; i < 100; i++) await createRecord(pds.url, one, i) // warm-up
    context.progress(`${creates} creates, one client`)
    recordBurst(context, '1 client', await createBurst(pds.url, [one], { clients: 1, count: creates }))
    context.progress(`${creates} creates, ${CONCURRENT_CLIENTS} clients on ${many.length} accounts`)
    recordBurst(context, `${CONCURRENT_CLIENTS} clients, ${many.length} accounts`, await createBurst(pds.url, many, { clients: CONCURRENT_CLIENTS, count: creates }))
    context.progress(`${creates} creates, ${CONCURRENT_CLIENTS} clients on one account`)
    recordBurst(context, `${CONCURRENT_CLIENTS} clients, 1 account`, await createBurst(pds.url, [one], { clients: CONCURRENT_CLIENTS, count: creates }))

    context.progress(`filling a ${repoRecords}-record repo`)
    await fillRepo(pds.url, big, { count: repoRecords, perCall: APPLY_WRITES_PER_CALL })
    let bytes = 0
    const ms = await timeAsync(async () => {
      for (let i = 0; i < GET_REPO_ROUNDS; i++) bytes += await getRepoBytes(pds.url, big.did)
    })
    context.record({
      name: `getRepo, ${repoRecords} records`,
      value: mbPerSecond(bytes, ms),
      unit: 'MB/s',
      higherIsBetter: true,
      note: `whole-repo CAR (${(bytes / GET_REPO_ROUNDS / 1e6).toFixed(1)} MB) streamed over loopback HTTP, ${GET_REPO_ROUNDS} rounds`,
    })

    context.progress(`fan-out to ${FANOUT_SUBSCRIBERS} subscribers`)
    await fanOut(context, pds.url, many, context.quick ? 200 : 1_000)
    context.info(REFERENCE_FROM_ISSUE)
  } finally {
    await pds.stop()
  }
}

export const section: BenchSection = {
  name: 'pds',
  title: 'PDS over HTTP',
  sides: ['ours'],
  run: (_side, context) => runOurs(context),
}
