/**
 * Plumbing for the PDS section (bench/pds.ts): a PLC directory in this
 * process, the PDS as a child process started through the real CLI
 * (`bin/atfed.js pds`, rate limits off, dev mode, a fresh data dir), and
 * thin HTTP helpers (createAccount, createRecord timed per request,
 * applyWrites). The PDS runs in its own process so the benchmark's clients
 * never share its event loop or its core.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startPlcServer, type PlcServer } from '../did-resolver/plc/server.ts'
import { nowMs } from './harness.ts'

const BIN = fileURLToPath(new URL('../bin/atfed.js', import.meta.url))
const START_TIMEOUT_MS = 30_000

export type Account = { did: string; accessJwt: string }

export type PdsUnderTest = { url: string; plc: PlcServer; stop(): Promise<void> }

/** PLC here, PDS in a child process; `stop` ends both and removes their data. */
export async function startPdsUnderTest(): Promise<PdsUnderTest> {
  const plcDir = mkdtempSync(join(tmpdir(), 'atfed-bench-pds-plc-'))
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-bench-pds-'))
  const plc = await startPlcServer({ port: 0, dataDir: plcDir })
  const child = spawn(process.execPath, [BIN, 'pds', '--port', '0', '--data', dataDir, '--plc', plc.url, '--dev'], {
    env: { ...process.env, ATFED_PDS_RATE_LIMITS: 'false' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await listeningUrl(child)
  return {
    url,
    plc,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await plc.close()
      rmSync(dataDir, { recursive: true, force: true })
      rmSync(plcDir, { recursive: true, force: true })
    },
  }
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the PDS did not start')), START_TIMEOUT_MS)
    child.once('exit', (code) => reject(new Error(`the PDS exited (${code})`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = / listening on (http:\/\/\S+)/.exec(line)
      if (match === null) return
      clearTimeout(timer)
      resolve(match[1]!)
    })
  })
}

/** One keep-alive connection per concurrent client (node:http: far less client CPU than fetch on a shared 2-core box). */
const AGENT = new http.Agent({ keepAlive: true, maxSockets: 64 })

function post(base: string, nsid: string, body: unknown, token?: string): Promise<any> {
  const payload = Buffer.from(JSON.stringify(body))
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': payload.length }
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/xrpc/${nsid}`, { method: 'POST', headers, agent: AGENT }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode !== 200) reject(new Error(`${nsid}: ${res.statusCode} ${text}`))
        else resolve(JSON.parse(text))
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

export async function createAccount(base: string, handle: string): Promise<Account> {
  const body = await post(base, 'com.atproto.server.createAccount', { handle, password: 'bench-password-1' })
  return { did: body.did, accessJwt: body.accessJwt }
}

export function post1(i: number): Record<string, unknown> {
  return { $type: 'app.bsky.feed.post', text: `bench post ${i}`, createdAt: new Date().toISOString() }
}

/** One createRecord; resolves with its latency in ms. */
export async function createRecord(base: string, account: Account, i: number): Promise<number> {
  const start = nowMs()
  await post(base, 'com.atproto.repo.createRecord', { repo: account.did, collection: 'app.bsky.feed.post', record: post1(i) }, account.accessJwt)
  return nowMs() - start
}

/** `count` creates through `clients` concurrent clients (client c writes as accounts[c % n]). */
export async function createBurst(
  base: string,
  accounts: readonly Account[],
  options: { clients: number; count: number },
): Promise<{ ms: number; latencies: number[] }> {
  const latencies: number[] = []
  let next = 0
  const client = async (c: number) => {
    const account = accounts[c % accounts.length]!
    while (next < options.count) latencies.push(await createRecord(base, account, next++))
  }
  const start = nowMs()
  await Promise.all(Array.from({ length: options.clients }, (_, c) => client(c)))
  return { ms: nowMs() - start, latencies }
}

/** `count` records in applyWrites calls of `perCall` creates. */
export async function fillRepo(base: string, account: Account, options: { count: number; perCall: number }): Promise<void> {
  for (let done = 0; done < options.count; done += options.perCall) {
    const n = Math.min(options.perCall, options.count - done)
    const writes = Array.from({ length: n }, (_, i) => ({
      $type: 'com.atproto.repo.applyWrites#create',
      collection: 'app.bsky.feed.post',
      value: post1(done + i),
    }))
    await post(base, 'com.atproto.repo.applyWrites', { repo: account.did, writes }, account.accessJwt)
  }
}

/** Downloads the whole repo CAR; resolves with its size (node:http, as the writes: no lazy fetch start-up in the timing). */
export function getRepoBytes(base: string, did: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/xrpc/com.atproto.sync.getRepo?did=${encodeURIComponent(did)}`, { agent: AGENT }, (res) => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => (bytes += chunk.length))
      res.on('error', reject)
      res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`getRepo: ${res.statusCode}`))))
    })
    req.on('error', reject)
  })
}
