/**
 * A PDS for tests: our PLC directory (test/helpers/plc.ts) and a PDS on
 * 127.0.0.1 with a random port over a fresh temp data dir. Hostname
 * `localhost`, so the public URL is `http://localhost:<port>` and the
 * service DID `did:web:localhost%3A<port>`; handles under `.test`; dev
 * mode; no login timing pad. `restart()` reopens the same data dir on the
 * same port (so the service DID, tokens and DID documents stay valid);
 * `stop()` also removes it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readPdsConfig, type PdsConfig } from '../../pds/config.ts'
import { startPds, type PdsServer } from '../../pds/server.ts'
import { startTestPlc, type TestPlc } from './plc.ts'

export type TestPds = PdsServer & {
  config: PdsConfig
  dataDir: string
  /** The URL clients use: the public URL (http://localhost:<port>). */
  publicUrl: string
  restart(): Promise<TestPds>
  stop(): Promise<void>
}

export type TestPdsOptions = {
  plc: { url: string }
  dataDir?: string
  /** Config overrides (port 0, dev, `.test` handles and no login pad are the defaults). */
  config?: Partial<PdsConfig>
  now?: () => number
}

export async function startTestPds(options: TestPdsOptions): Promise<TestPds> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'atfed-pds-'))
  const config: PdsConfig = {
    ...readPdsConfig({ data: dataDir, port: '0', hostname: 'localhost', plc: options.plc.url, dev: true }, {}),
    loginDurationMinMs: 0,
    ...options.config,
  }
  const server = await startPds(config, options.now === undefined ? {} : { now: options.now })
  return {
    ...server,
    config,
    dataDir,
    publicUrl: server.ctx.publicUrl,
    restart: async () => {
      await server.close()
      const port = Number(new URL(server.url).port)
      return startTestPds({ ...options, dataDir, config: { ...options.config, port } })
    },
    stop: async () => {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A real-clock PLC directory for PDS tests. */
export function startPlcForPds(): Promise<TestPlc> {
  return startTestPlc({ clock: { now: () => Date.now(), set: () => {}, advance: () => {} } })
}

export type XrpcReply = { status: number; body: any; headers: Headers }

/** A raw XRPC call (for status and error-name assertions). */
export async function xrpc(
  base: string,
  nsid: string,
  opts: { params?: Record<string, string>; body?: unknown; token?: string; auth?: string; method?: 'GET' | 'POST' } = {},
): Promise<XrpcReply> {
  const url = new URL(`/xrpc/${nsid}`, base)
  for (const [k, v] of Object.entries(opts.params ?? {})) url.searchParams.append(k, v)
  const headers: Record<string, string> = {}
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`
  if (opts.auth !== undefined) headers['authorization'] = opts.auth
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST')
  const res = await fetch(url, { method, headers, ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }) })
  const text = await res.text()
  let body: unknown = text
  try {
    body = text === '' ? null : JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers }
}

/** createAccount over HTTP; returns the session body. */
export async function createTestAccount(
  base: string,
  handle: string,
  opts: { password?: string; email?: string } = {},
): Promise<{ did: string; handle: string; accessJwt: string; refreshJwt: string; didDoc?: unknown }> {
  const reply = await xrpc(base, 'com.atproto.server.createAccount', {
    body: { handle, password: opts.password ?? 'hunter2-password', ...(opts.email === undefined ? {} : { email: opts.email }) },
  })
  if (reply.status !== 200) throw new Error(`createAccount ${handle}: ${reply.status} ${JSON.stringify(reply.body)}`)
  return reply.body
}

/** createRecord of an app.bsky.feed.post saying `text` in `account`'s repo; throws unless 200. */
export async function createTestPost(base: string, account: { did: string; accessJwt: string }, text: string): Promise<{ uri: string; cid: string }> {
  const reply = await xrpc(base, 'com.atproto.repo.createRecord', {
    token: account.accessJwt,
    body: { repo: account.did, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() } },
  })
  if (reply.status !== 200) throw new Error(`createRecord: ${reply.status} ${JSON.stringify(reply.body)}`)
  return reply.body
}
