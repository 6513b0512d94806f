/**
 * Processes for the runs against the reference PDS (outside CI): the
 * reference PDS from the peers runner (`../shared/peers`, Node 22 — copied
 * to a writable folder and `npm ci`'d first, see its README), and `atfed
 * pds` on the reference runner's mock PLC.
 *
 * Tricky bits: the reference PDS only fetches host *names* (its PLC URL is
 * `http://localhost:P`), so atfed is given the same URL and `--dev` (private
 * addresses, http, `.test` handles). The reference has no mail: the PLC
 * operation token it issues is read from its sqlite `email_token` table with
 * Node 22's `node:sqlite`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin/atfed.js', import.meta.url))
const START_TIMEOUT_MS = 60_000

export type RefPds = { pdsUrl: string; plcUrl: string; adminPassword: string; dataDir: string; serviceDid: string; stop(): Promise<void> }
export type AtfedPds = { url: string; adminPassword: string; stop(): Promise<void> }

/** The peers folder (env PEERS_DIR, default /tmp/peers) and its Node 22. */
export function peersNode(peersDir: string): string {
  return join(peersDir, 'node_modules', '.bin', 'node')
}

function firstLine(child: ChildProcess, match: (line: string) => string | null, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), START_TIMEOUT_MS)
    child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const found = match(line)
      if (found === null) return
      clearTimeout(timer)
      resolve(found)
    })
  })
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
}

/** `plcUrl`: use that PLC (another runner's mock PLC) instead of starting one. */
export async function startRefPds(peersDir: string, options: { plcUrl?: string } = {}): Promise<RefPds> {
  const env = { ...process.env, ...(options.plcUrl === undefined ? {} : { REF_PDS_PLC_URL: options.plcUrl }) }
  const child = spawn(peersNode(peersDir), ['ref-pds.mjs'], { cwd: peersDir, env, stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await firstLine(child, (l) => (l.startsWith('{"event":"ready"') ? l : null), 'the reference PDS')
  const ready = JSON.parse(line) as { pdsUrl: string; plcUrl: string; adminPassword: string; dataDir: string; serviceDid: string }
  const stop = stopper(child)
  return {
    ...ready,
    stop: async () => {
      await stop()
      rmSync(ready.dataDir, { recursive: true, force: true })
    },
  }
}

export async function startAtfedPds(plcUrl: string): Promise<AtfedPds> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-ref-mig-'))
  const adminPassword = 'atfed-admin'
  const args = [BIN, 'pds', '--port', '0', '--data', dataDir, '--plc', plcUrl, '--dev', '--admin-password', adminPassword]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const publicUrl = await firstLine(child, (l) => /\(public URL (http:\/\/\S+),/.exec(l)?.[1] ?? null, 'atfed pds')
  const stop = stopper(child)
  return {
    url: publicUrl,
    adminPassword,
    stop: async () => {
      await stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The newest PLC-operation token the reference PDS issued for `did`. */
export function refPlcToken(peersDir: string, ref: RefPds, did: string): string {
  const script = `
    const { DatabaseSync } = require('node:sqlite')
    const db = new DatabaseSync(process.argv[1], { readOnly: true })
    const row = db.prepare("select token from email_token where did = ? and purpose = 'plc_operation' order by requestedAt desc").get(process.argv[2])
    process.stdout.write(row ? row.token : '')`
  const token = execFileSync(peersNode(peersDir), ['-e', script, join(ref.dataDir, 'account.sqlite'), did], { encoding: 'utf8' })
  if (token === '') throw new Error(`the reference PDS issued no PLC token for ${did}`)
  return token
}
