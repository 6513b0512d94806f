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
 * - `ws`: a scripted host serves every frame over a loopback WebSocket, the
 *   relay subscribes from cursor 0; the clock runs until the host cursor
 *   reaches the last seq and the batch is durable.
 * `--workers` lists the verification worker counts to try (0 = main thread).
 */
import { mkdtempSync, rmSync } from 'node:fs'
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
import { startFakePdsHost } from '../test/helpers/fake-pds-host.ts'
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
const TEXT = 'The quick brown fox jumps over the lazy dog; a post of ordinary length with a link or two. '.repeat(2)

function post(i: number) {
  return { $type: 'app.bsky.feed.post', text: `${TEXT}${i}`, createdAt: '2024-05-01T12:00:00.000Z', langs: ['en'] }
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

function config(plcUrl: string, dataDir: string, workers: number): RelayConfig {
  return {
    port: 0, bind: '127.0.0.1', dataDir, plcUrl, hosts: [], adminPassword: null, dev: true,
    retentionMs: 72 * 3600_000, dnsServers: [], tuning: { verifyWorkers: workers, trimIntervalMs: 3_600_000 },
  }
}

async function inproc(plcUrl: string, origin: string, data: { frames: Uint8Array[]; dids: string[] }, workers: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-'))
  const ctx = await createRelayContext(config(plcUrl, dir, workers), { logLine: () => {} })
  try {
    const record = ctx.hosts.add(parseHostInput(origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    for (const did of data.dids) await ctx.resolver.resolveDid(did as never)
    const ingest = new HostIngest(record, ctx.ingest)
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
    return data.frames.length / seconds
  } finally {
    await closeRelayContext(ctx)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function overWebSocket(plcUrl: string, host: Awaited<ReturnType<typeof startFakePdsHost>>, data: { dids: string[] }, workers: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-'))
  const relay = await startRelay(config(plcUrl, dir, workers), { logLine: () => {} })
  try {
    const ctx = relay.ctx
    for (const did of data.dids) await ctx.resolver.resolveDid(did as never)
    const record = ctx.hosts.add(parseHostInput(host.origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    record.cursor = 0
    const start = performance.now()
    ctx.slurper.subscribe(record)
    while (record.cursor !== host.lastSeq) await new Promise((resolve) => setTimeout(resolve, 2))
    await ctx.sequencer.flush()
    const seconds = (performance.now() - start) / 1000
    if (record.accepted !== host.lastSeq) throw new Error(`accepted ${record.accepted} of ${host.lastSeq}: ${JSON.stringify(record.drops)}`)
    return host.lastSeq / seconds
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
  const host = await startFakePdsHost()
  try {
    const t0 = performance.now()
    const data = await buildData(plc.url, host.origin)
    const bytes = data.frames.reduce((sum, f) => sum + f.length, 0)
    process.stdout.write(`data: ${DIDS} DIDs × ${RECORDS} records, ${COMMITS} commits, ${Math.round(bytes / COMMITS)} B/frame avg, built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    for (const f of data.frames) host.emitRaw(f, { seq: (parseFrame(f) as { message: { seq: number } }).message.seq })
    for (const workers of WORKERS) {
      if (MODE !== 'ws') process.stdout.write(`inproc  workers=${workers}: ${Math.round(await inproc(plc.url, host.origin, data, workers))} commits/s\n`)
      if (MODE !== 'inproc') process.stdout.write(`ws      workers=${workers}: ${Math.round(await overWebSocket(plc.url, host, data, workers))} commits/s\n`)
    }
  } finally {
    await host.close()
    await plc.close()
    rmSync(plcDir, { recursive: true, force: true })
  }
}

await main()
