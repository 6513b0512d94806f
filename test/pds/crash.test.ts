/**
 * kill -9 during a write burst (issue 4, atomicity): `atfed pds` runs as a
 * child process on a fixed port; CLIENTS clients (two of them on the same
 * account, so its writes are pipelined on not-yet-durable heads) create
 * records as fast as they can; at a seeded random moment the child gets
 * SIGKILL. The PDS is then reopened (in this process) on the same data dir
 * and checked, three times over the same data dir:
 * - every acknowledged record (HTTP 200 received) is present with its CID;
 * - each repo verifies from its stored head (core verify-repo: signature,
 *   canonical MST, every record block), stored blocks are exactly the
 *   reachable ones, record counts match; its getRepo CAR verifies with our
 *   core and with @atproto/repo `verifyRepoCar`;
 * - the firehose replayed from cursor 0 over a WebSocket has strictly
 *   increasing seqs, exactly one #commit per acknowledged write, and every
 *   other #commit is a durable-but-unacknowledged write whose record IS in
 *   the repo; every record in the repo has its #commit (never the reverse).
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { verifyRepoCar } from '@atproto/repo'
import WebSocket from 'ws'
import { verifyRepoCarBytes } from '../../core/repo/verify-repo.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { CommitEvent, StreamEvent } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import { checkCommitChain, checkStoredRepo } from '../helpers/pds-repo-check.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { makeRng } from '../helpers/prng.ts'

const BIN = fileURLToPath(new URL('../../bin/atfed.js', import.meta.url))
const SEED = Number(process.env['ATFED_CRASH_SEED'] ?? 20250401)
const ROUNDS = 3
const ACCOUNTS = 3
/** Client i writes as account i % ACCOUNTS: account 0 gets two clients. */
const CLIENTS = 4

type Account = { did: Did; accessJwt: string }
/** Acknowledged creates: at-uri path → record CID, and the commit CID each answer named. */
type Acked = { path: string; did: Did; cid: string; commit: string }

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function spawnPds(dataDir: string, port: number, plcUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'pds', '--port', String(port), '--data', dataDir, '--plc', plcUrl, '--dev'], {
    env: { ...process.env, ATFED_PDS_RATE_LIMITS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stderr!.resume()
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the PDS did not start')), 20_000)
    child.once('exit', (code) => reject(new Error(`the PDS exited (${code})`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = / listening on (http:\/\/\S+)/.exec(line)
      if (match === null) return
      clearTimeout(timer)
      resolve(match[1]!)
    })
  })
  return { child, url }
}

/** Clients create records until `stop()`; returns what was acknowledged. */
function burst(url: string, accounts: readonly Account[], round: number): { firstAck: Promise<void>; stop(): Promise<Acked[]> } {
  const acked: Acked[] = []
  let stopped = false
  let acknowledged!: () => void
  const firstAck = new Promise<void>((resolve) => (acknowledged = resolve))
  const client = async (c: number) => {
    const account = accounts[c % accounts.length]!
    for (let i = 0; !stopped; i++) {
      const record = { $type: 'app.bsky.feed.post', text: `round ${round} client ${c} post ${i}`, createdAt: new Date().toISOString() }
      try {
        const reply = await xrpc(url, 'com.atproto.repo.createRecord', {
          token: account.accessJwt,
          body: { repo: account.did, collection: 'app.bsky.feed.post', record },
        })
        assert.equal(reply.status, 200, JSON.stringify(reply.body))
        const path = String(reply.body.uri).split('/').slice(3).join('/')
        acked.push({ path, did: account.did, cid: reply.body.cid, commit: reply.body.commit.cid })
        acknowledged()
      } catch (err) {
        if (stopped || (err as Error).name !== 'AssertionError') return // the server died mid-request
        throw err
      }
    }
  }
  const running = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
  return {
    firstAck,
    stop: async () => {
      stopped = true
      await running
      return acked
    },
  }
}

/** The whole firehose from cursor 0, until the log's last seq. */
async function replay(pds: TestPds): Promise<StreamEvent[]> {
  const last = pds.ctx.events.lastSeq()
  const ws = new WebSocket(`${pds.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos?cursor=0`)
  const events: StreamEvent[] = []
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replay stalled after ${events.length} events`)), 10_000)
    ws.on('message', (data: Buffer) => {
      const frame = parseFrame(new Uint8Array(data))
      if (frame.kind !== 'message' || !('seq' in frame.message)) return reject(new Error(`unexpected frame ${JSON.stringify(frame.kind)}`))
      events.push(frame.message)
      if (frame.message.seq >= last) {
        clearTimeout(timer)
        resolve()
      }
    })
    ws.once('error', reject)
  })
  ws.close()
  return events
}

/** Resolves with the number of durable but unacknowledged #commits. */
async function checkAfterCrash(pds: TestPds, accounts: readonly Account[], acked: readonly Acked[]): Promise<number> {
  const events = await replay(pds)
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.seq > events[i - 1]!.seq, 'seqs strictly increase, no duplicates')
  const commits = events.filter((e): e is CommitEvent => e.t === '#commit')
  const commitCount = new Map<string, number>()
  for (const e of commits) commitCount.set(e.commit.toString(), (commitCount.get(e.commit.toString()) ?? 0) + 1)
  for (const a of acked) assert.equal(commitCount.get(a.commit), 1, `exactly one #commit for acknowledged ${a.path}`)
  for (const { did } of accounts) {
    const leaves = await checkStoredRepo(pds.ctx, did)
    await checkCommitChain(pds.ctx, did)
    for (const a of acked.filter((x) => x.did === did)) assert.equal(leaves.get(a.path), a.cid, `acknowledged ${a.path} is present`)
    // Every record has its #commit create, every #commit create's record is present.
    const created = new Map<string, string>()
    for (const e of commits.filter((x) => x.repo === did)) for (const op of e.ops) if (op.action === 'create') created.set(op.path, String(op.cid))
    assert.deepEqual(new Map([...created].sort()), new Map([...leaves].sort()))
    const res = await fetch(`${pds.url}/xrpc/com.atproto.sync.getRepo?did=${did}`)
    assert.equal(res.status, 200)
    const car = new Uint8Array(await res.arrayBuffer())
    const account = await pds.ctx.accounts.get(did)
    const key = pds.ctx.signingKeys.get(account!).publicKey.didKey
    assert.equal(verifyRepoCarBytes(car, { did, key }).records, leaves.size)
    await verifyRepoCar(car, did, key)
  }
  const ackedCommits = new Set(acked.map((a) => a.commit))
  return commits.filter((e) => e.ops.length > 0 && !ackedCommits.has(e.commit.toString())).length
}

describe('PDS crash (SIGKILL during a write burst)', () => {
  let plc: TestPlc
  let dataDir: string
  before(async () => {
    plc = await startPlcForPds()
    dataDir = mkdtempSync(join(tmpdir(), 'atfed-crash-'))
  })
  after(async () => {
    await plc.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it(`keeps every acknowledged write across ${ROUNDS} kills (seed ${SEED})`, { timeout: 60_000 }, async (t) => {
    const rng = makeRng(SEED)
    const port = await freePort()
    const accounts: Account[] = []
    const acked: Acked[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const { child, url } = await spawnPds(dataDir, port, plc.url)
      const exited = new Promise((resolve) => child.once('exit', resolve))
      try {
        if (round === 0) {
          for (let i = 0; i < ACCOUNTS; i++) {
            const account = await createTestAccount(url, `crash${i}.test`)
            accounts.push({ did: account.did as Did, accessJwt: account.accessJwt })
          }
        }
        const writers = burst(url, accounts, round)
        await writers.firstAck // a cold child may take a while for its first write; the kill point counts from there
        await new Promise((resolve) => setTimeout(resolve, 50 + rng.int(500)))
        child.kill('SIGKILL')
        await exited
        acked.push(...(await writers.stop()))
      } finally {
        child.kill('SIGKILL')
      }
      const pds = await startTestPds({ plc, dataDir, config: { port } })
      try {
        const unacked = await checkAfterCrash(pds, accounts, acked)
        t.diagnostic(`round ${round}: ${acked.length} acknowledged so far, ${unacked} durable but unacknowledged`)
      } finally {
        await pds.close()
      }
    }
  })
})
