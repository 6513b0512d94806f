/**
 * One-off relay ingest measurement: commits verified + sequenced per second.
 *
 *   node --import tsx bench/relay-ingest.ts [--dids 20] [--records 3000] [--commits 6000] [--workers 0,2] [--mode both]
 *
 * Data, built before any timing: `--dids` accounts registered in a PLC
 * directory on 127.0.0.1, each with a k256 key and a repo of `--records`
 * post-like records (core/repo applyWrites), then `--commits` single-create
 * commits round-robin over the accounts, encoded as upstream frames (4–5 KB,
 * ~10 blocks: commit, MST path, proofs, record).
 *
 * Modes, each on a fresh relay data dir, DID cache warmed first:
 * - `inproc`: frames parsed (as the stream client does) and pushed straight
 *   into a HostIngest → verify → accept → sequencer → level (fsync batches);
 *   the clock runs from the first push to the last batch being durable;
 * - `ws`: a scripted host in a child process (relay-ingest-host.ts) serves
 *   every frame over a loopback WebSocket, the relay subscribes from cursor
 *   0; the clock runs until the host cursor reaches the last seq and the
 *   batch is durable. CPU is the relay process's only.
 * `--workers` lists the verification worker counts to try (0 = main thread);
 * before each clock starts, `--warm-up` frames (default 2000) are verified
 * once on the verifier under test (JIT warm-up, results unused).
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeypair } from '../core/crypto/keypair.ts'
import { cryptoBackend } from '../core/crypto/secp256k1-native.ts'
import { parseFrame } from '../core/stream/event-parse.ts'
import { encodeEventFrame, withSeq } from '../core/stream/events.ts'
import { datetimeFromDate } from '../core/syntax/datetime.ts'
import { TidClock } from '../core/syntax/tid.ts'
import { createGenesisOp } from '../did-resolver/plc/op-builder.ts'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { createRelayContext, closeRelayContext } from '../relay/context.ts'
import type { RelayConfig } from '../relay/config.ts'
import { parseHostInput } from '../relay/hosts/host-name.ts'
import { HostIngest } from '../relay/ingest.ts'
import { startRelay } from '../relay/server.ts'
import { postOp } from '../test/helpers/plc.ts'
import { MemoryRepo, writeFor } from '../test/helpers/repo-writes.ts'

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback
}

const DIDS = Number(flag('dids', '20'))
const RECORDS = Number(flag('records', '3000'))
const COMMITS = Number(flag('commits', '6000'))
const WORKERS = flag('workers', '0,2').split(',').map(Number)
const MODE = flag('mode', 'both')
const WARM_UP = Number(flag('warm-up', '2000'))
const TEXT = 'The quick brown fox jumps over the lazy dog; a post of ordinary length with a link or two. '.repeat(2)

const REF = { uri: 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l', cid: 'bafyreifqsn3t2tneqy6ovfkwsqkqu7h4ccz7vcfvwjmzw4kcbbwm4kfvcu' }

/** A reply with a link facet and a link card: ~1.3 KB, a post with the usual metadata. */
function post(i: number) {
  return {
    $type: 'app.bsky.feed.post',
    text: `${TEXT}${i}`,
    createdAt: '2024-05-01T12:00:00.000Z',
    langs: ['en'],
    reply: { root: REF, parent: REF },
    facets: [{ index: { byteStart: 4, byteEnd: 20 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/some/longer/path?with=query' }] }],
    embed: {
      $type: 'app.bsky.embed.external',
      external: { uri: 'https://example.com/some/longer/path?with=query', title: 'An article about relays and firehoses', description: TEXT },
    },
  }
}

async function buildData(plcUrl: string, origin: string): Promise<{ frames: Uint8Array[]; dids: string[] }> {
  const rotation = generateKeypair('k256')
  const repos: MemoryRepo[] = []
  const rkeys = new TidClock()
  const rkey = (): string => `app.bsky.feed.post/${rkeys.next()}`
  let n = 0
  for (let d = 0; d < DIDS; d++) {
    const keypair = generateKeypair('k256')
    const genesis = createGenesisOp({ signingKey: keypair.publicKey.didKey, rotationKeys: [rotation.publicKey.didKey], handle: `bench${d}.test`, pds: origin, signer: rotation })
    const posted = await postOp(plcUrl, genesis.did, genesis.op)
    if (posted.status !== 200) throw new Error(`PLC refused ${genesis.did}`)
    const repo = new MemoryRepo(genesis.did, keypair)
    for (let done = 0; done < RECORDS; done += 200) {
      repo.apply(Array.from({ length: Math.min(200, RECORDS - done) }, () => writeFor('create', rkey(), post(n++))))
    }
    repos.push(repo)
  }
  const frames: Uint8Array[] = []
  for (let i = 0; i < COMMITS; i++) {
    const repo = repos[i % repos.length] as MemoryRepo
    const r = repo.apply([writeFor('create', rkey(), post(n++))])
    const event = { t: '#commit' as const, repo: repo.did, commit: r.commitCid, rev: r.rev, since: r.since, blocks: r.eventCarBytes, ops: r.ops, prevData: r.prevData, time: datetimeFromDate(new Date()) }
    frames.push(encodeEventFrame(withSeq(event, i + 1)))
  }
  return { frames, dids: repos.map((r) => r.did) }
}


type Rates = { wall: number; cpuMs: number }

/** Commits per wall second, and CPU time per commit (all threads of this process, incl. the fake host in ws mode). */
function rates(commits: number, seconds: number, cpu: NodeJS.CpuUsage): Rates {
  return { wall: commits / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / commits }
}

function show(label: string, r: Rates): string {
  return `${label}: ${Math.round(r.wall)} commits/s wall, ${(r.cpuMs * 1000).toFixed(0)} µs CPU per commit (${Math.round(1000 / r.cpuMs)}/CPU-s)\n`
}

function config(plcUrl: string, dataDir: string, workers: number): RelayConfig {
  return {
    port: 0, bind: '127.0.0.1', dataDir, plcUrl, hosts: [], adminPassword: null, dev: true,
    retentionMs: 72 * 3600_000, dnsServers: [], tuning: { verifyWorkers: workers, trimIntervalMs: 3_600_000 },
  }
}

/** Verify the first WARM_UP frames (results unused) so every verifier thread is JIT-warm before the clock starts. */
async function warmUp(ctx: Awaited<ReturnType<typeof createRelayContext>>, frames: readonly Uint8Array[]): Promise<void> {
  const jobs: Promise<unknown>[] = []
  for (const bytes of frames.slice(0, WARM_UP)) {
    const parsed = parseFrame(bytes)
    if (parsed.kind !== 'message' || parsed.message.t !== '#commit') continue
    const identity = await ctx.resolver.resolveDid(parsed.message.repo)
    jobs.push(ctx.verifier.commit(parsed.message, identity.signingKey!))
  }
  await Promise.all(jobs)
}

async function inproc(plcUrl: string, origin: string, data: { frames: Uint8Array[]; dids: string[] }, workers: number): Promise<Rates> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-'))
  const ctx = await createRelayContext(config(plcUrl, dir, workers), { logLine: () => {} })
  try {
    const record = ctx.hosts.add(parseHostInput(origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    for (const did of data.dids) await ctx.resolver.resolveDid(did as never)
    await warmUp(ctx, data.frames)
    const ingest = new HostIngest(record, ctx.ingest)
    const cpu = process.cpuUsage()
    const start = performance.now()
    for (const bytes of data.frames) {
      const parsed = parseFrame(bytes)
      if (parsed.kind !== 'message' || parsed.message.t === '#info') throw new Error('bad bench frame')
      await ingest.push({ kind: 'event', event: parsed.message, frameBytes: bytes })
    }
    await ingest.drain()
    await ctx.sequencer.flush()
    const seconds = (performance.now() - start) / 1000
    if (record.accepted !== data.frames.length) throw new Error(`accepted ${record.accepted} of ${data.frames.length}: ${JSON.stringify(record.drops)}`)
    return rates(data.frames.length, seconds, process.cpuUsage(cpu))
  } finally {
    await closeRelayContext(ctx)
    rmSync(dir, { recursive: true, force: true })
  }
}

type HostChild = { child: ChildProcess; origin: string }

async function startHostChild(): Promise<HostChild> {
  const child = fork(new URL('./relay-ingest-host.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'] })
  const [message] = (await once(child, 'message')) as [{ origin: string }]
  return { child, origin: message.origin }
}

async function loadHostChild(host: HostChild, frames: readonly Uint8Array[], dir: string): Promise<void> {
  const parts: Uint8Array[] = []
  for (const frame of frames) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(frame.length)
    parts.push(length, frame)
  }
  const file = join(dir, 'frames.bin')
  writeFileSync(file, Buffer.concat(parts))
  host.child.send({ file })
  await once(host.child, 'message')
}

async function overWebSocket(plcUrl: string, host: HostChild, data: { frames: Uint8Array[]; dids: string[] }, workers: number): Promise<Rates> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-'))
  const relay = await startRelay(config(plcUrl, dir, workers), { logLine: () => {} })
  try {
    const ctx = relay.ctx
    for (const did of data.dids) await ctx.resolver.resolveDid(did as never)
    await warmUp(ctx, data.frames)
    const record = ctx.hosts.add(parseHostInput(host.origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    record.cursor = 0
    const total = data.frames.length
    const cpu = process.cpuUsage()
    const start = performance.now()
    ctx.slurper.subscribe(record)
    while (record.cursor !== total) await new Promise((resolve) => setTimeout(resolve, 2))
    await ctx.sequencer.flush()
    const seconds = (performance.now() - start) / 1000
    if (record.accepted !== total) throw new Error(`accepted ${record.accepted} of ${total}: ${JSON.stringify(record.drops)}`)
    return rates(total, seconds, process.cpuUsage(cpu))
  } finally {
    await relay.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const backend = cryptoBackend()
  if (backend.k256 !== 'libsecp256k1-native') throw new Error(`native secp256k1 did not load: ${String(backend.nativeUnavailableReason)}`)
  const plcDir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-plc-'))
  const plc = await startPlcServer({ port: 0, dataDir: plcDir })
  const host = await startHostChild()
  try {
    const t0 = performance.now()
    const data = await buildData(plc.url, host.origin)
    const bytes = data.frames.reduce((sum, f) => sum + f.length, 0)
    process.stdout.write(`data: ${DIDS} DIDs × ${RECORDS} records, ${COMMITS} commits, ${Math.round(bytes / COMMITS)} B/frame avg, built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    await loadHostChild(host, data.frames, plcDir)
    for (const workers of WORKERS) {
      if (MODE !== 'ws') process.stdout.write(show(`inproc  workers=${workers}`, await inproc(plc.url, host.origin, data, workers)))
      if (MODE !== 'inproc') process.stdout.write(show(`ws      workers=${workers}`, await overWebSocket(plc.url, host, data, workers)))
    }
  } finally {
    host.child.send({ exit: true })
    await plc.close()
    rmSync(plcDir, { recursive: true, force: true })
  }
}

await main()
