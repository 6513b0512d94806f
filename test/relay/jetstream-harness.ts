/**
 * A real Jetstream endpoint for tests: a LevelEventLog in a fresh temp dir,
 * an http.Server on 127.0.0.1 with attachJetstream, repos whose writes go
 * through the real `applyWrites` and land in the log as real #commit events;
 * plus a `ws` reader that collects the JSON messages (decompressing zstd
 * frames with the codec it is given).
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import WebSocket from 'ws'
import type { LexMap } from '../../core/data/cbor.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import { applyWrites, createInitialCommit } from '../../core/repo/writes.ts'
import type { CommitResult, RepoState } from '../../core/repo/writes.ts'
import { commitEventFor } from '../../core/stream/commit-event.ts'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { LevelEventLogOptions } from '../../core/stream/event-log-level.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { parseRecordKey } from '../../core/syntax/record-key.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { attachJetstream } from '../../relay/jetstream/attach.ts'
import type { JetstreamHandle, JetstreamOptions } from '../../relay/jetstream/attach.ts'

export const ALICE = parseDid('did:plc:alicealicealicealicealic')
export const BOB = parseDid('did:plc:bobbobbobbobbobbobbobbobb')
/** Event times start here and advance 1 ms per event unless given. */
export const T0_MS = Date.parse('2025-01-01T00:00:00.000Z')

export class TestRepo {
  readonly blocks = new MemoryBlockMap()
  readonly clock = new TidClock({ clockId: 3 })
  head: RepoState

  constructor(
    readonly did: Did,
    readonly keypair: Keypair = generateKeypair('k256'),
  ) {
    this.head = this.#store(createInitialCommit(did, keypair, { clock: this.clock })).head
  }

  write(writes: RepoWrite[]): CommitResult {
    return this.#store(applyWrites(this.head, writes, { keypair: this.keypair, did: this.did, reader: this.blocks, clock: this.clock }))
  }

  #store(result: CommitResult): CommitResult {
    for (const cid of result.removedCids) this.blocks.delete(cid)
    this.blocks.addAll(result.newBlocks)
    this.head = result.head
    return result
  }
}

export function create(collection: string, rkey: string, record: LexMap): RepoWrite {
  return { action: 'create', collection: parseNsid(collection), rkey: parseRecordKey(rkey), record }
}
export function update(collection: string, rkey: string, record: LexMap): RepoWrite {
  return { action: 'update', collection: parseNsid(collection), rkey: parseRecordKey(rkey), record }
}
export function del(collection: string, rkey: string): RepoWrite {
  return { action: 'delete', collection: parseNsid(collection), rkey: parseRecordKey(rkey) }
}

export function iso(ms: number): Datetime {
  return new Date(ms).toISOString() as Datetime
}

export type JetHarness = {
  log: LevelEventLog
  http: Server
  jet: JetstreamHandle
  repos: Map<Did, TestRepo>
  url(query?: string): string
  /** The time the next event gets by default (ms). */
  nextTimeMs: number
  /** Apply `writes` to `did`'s repo and append the #commit; resolves with its seq. */
  commit(did: Did, writes: RepoWrite[], timeMs?: number): Promise<number>
  identity(did: Did, handle: string | null, timeMs?: number): Promise<number>
  account(did: Did, active: boolean, timeMs?: number): Promise<number>
  /** Close the endpoint (not the log) and attach a new one over the same log. */
  reattach(options?: Partial<JetstreamOptions>): Promise<void>
  close(): Promise<void>
}

export async function startJet(
  options: { jetstream?: Partial<JetstreamOptions>; log?: LevelEventLogOptions } = {},
): Promise<JetHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-jetstream-'))
  const db = new Level<string, string>(dir)
  const log = await LevelEventLog.open(db, { sync: false, ...options.log })
  const http = createServer((_req, res) => res.writeHead(404).end())
  const attach = (extra: Partial<JetstreamOptions> = {}): JetstreamHandle =>
    attachJetstream(http, { log, ...options.jetstream, ...extra })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  const repos = new Map<Did, TestRepo>()
  const repo = (did: Did): TestRepo => repos.get(did) ?? repos.set(did, new TestRepo(did)).get(did)!
  const timeOf = (timeMs: number | undefined): Datetime => iso(timeMs ?? h.nextTimeMs++)
  const appendOne = async (event: UnsequencedEvent): Promise<number> => (await log.append([event]))[0]!
  const h: JetHarness = {
    log,
    http,
    jet: attach(),
    repos,
    nextTimeMs: T0_MS,
    url: (query) => `ws://127.0.0.1:${port}/subscribe${query === undefined ? '' : `?${query}`}`,
    commit: (did, writes, timeMs) => appendOne(commitEventFor(did, repo(did).write(writes), timeOf(timeMs))),
    identity: (did, handle, timeMs) =>
      appendOne({ t: '#identity', did, time: timeOf(timeMs), handle: handle as Handle | null }),
    account: (did, active, timeMs) =>
      appendOne({ t: '#account', did, time: timeOf(timeMs), active, status: active ? null : 'deactivated' }),
    reattach: async (extra) => {
      await h.jet.close()
      h.jet = attach(extra)
      await h.jet.ready
    },
    close: async () => {
      await h.jet.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await log.close()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  await h.jet.ready
  return h
}

/** Run `body` against a fresh harness and always clean up. */
export async function withJet(options: Parameters<typeof startJet>[0], body: (h: JetHarness) => Promise<void>): Promise<void> {
  const h = await startJet(options)
  try {
    await body(h)
  } finally {
    await h.close()
  }
}

// Parsed Jetstream JSON; tests check the shape field by field.
export type JsonMessage = {
  did: string
  time_us: number
  kind: 'commit' | 'identity' | 'account'
  commit?: { rev: string; operation: string; collection: string; rkey: string; record?: unknown; cid?: string }
  identity?: Record<string, unknown>
  account?: Record<string, unknown>
}

export type JsonReader = {
  ws: WebSocket
  messages: JsonMessage[]
  /** Raw payloads as received (binary = zstd frames). */
  raw: { data: Buffer; binary: boolean }[]
  until(pred: (r: JsonReader) => boolean, timeoutMs?: number): Promise<void>
  closed: Promise<{ code: number; reason: string }>
  opened: Promise<void>
  /** Resolves with the HTTP status when the upgrade is refused. */
  refused: Promise<{ status: number; body: string }>
}

export function openJsonReader(
  url: string,
  options: { headers?: Record<string, string>; decompress?: (data: Buffer) => Buffer } = {},
): JsonReader {
  const ws = new WebSocket(url, { perMessageDeflate: false, headers: options.headers ?? {} })
  const waiters = new Set<() => void>()
  const check = (): void => {
    for (const waiter of [...waiters]) waiter()
  }
  const reader: JsonReader = {
    ws,
    messages: [],
    raw: [],
    until: (pred, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (pred(reader)) return resolve()
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`timed out with ${reader.messages.length} messages`))
        }, timeoutMs)
        const waiter = (): void => {
          if (!pred(reader)) return
          clearTimeout(timer)
          waiters.delete(waiter)
          resolve()
        }
        waiters.add(waiter)
      }),
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    opened: new Promise((resolve, reject) => {
      ws.on('open', () => resolve())
      ws.on('error', reject)
    }),
    refused: new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
    }),
  }
  ws.on('error', () => {})
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    reader.raw.push({ data, binary: isBinary })
    const text = isBinary ? (options.decompress ?? (() => Buffer.from('null')))(data).toString('utf8') : data.toString('utf8')
    reader.messages.push(JSON.parse(text) as JsonMessage)
    check()
  })
  ws.on('close', check)
  return reader
}

export async function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Keys of commit messages, in order: `did collection/rkey operation`. */
export function opKeys(messages: readonly JsonMessage[]): string[] {
  return messages.map((m) =>
    m.kind === 'commit' ? `${m.did} ${m.commit?.collection}/${m.commit?.rkey} ${m.commit?.operation}` : `${m.did} ${m.kind}`,
  )
}

export function assertIncreasing(messages: readonly JsonMessage[]): void {
  for (let i = 1; i < messages.length; i++) {
    if (!(messages[i]!.time_us > messages[i - 1]!.time_us)) {
      throw new Error(`time_us not increasing at ${i}: ${messages[i - 1]!.time_us} then ${messages[i]!.time_us}`)
    }
  }
}
