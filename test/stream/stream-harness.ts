/**
 * A real stream endpoint for tests: an http.Server on 127.0.0.1 (ephemeral
 * port), a LevelEventLog in a fresh directory under os.tmpdir(), and a
 * SubscriptionServer on it; plus a raw `ws` reader that records what a
 * subscriber receives.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import WebSocket from 'ws'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { LevelEventLogOptions } from '../../core/stream/event-log-level.ts'
import { respondWithoutUpgrade, SubscriptionServer } from '../../core/stream/subscription-server.ts'
import type { SubscriptionServerOptions } from '../../core/stream/subscription-server.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { ParsedFrame } from '../../core/stream/event-parse.ts'
import { unsequenced } from './fixtures.ts'

export const PATH = '/xrpc/com.atproto.sync.subscribeRepos'

export type StreamHarness = {
  http: Server
  log: LevelEventLog
  stream: SubscriptionServer
  port: number
  url(cursor?: number | string): string
  /** Append `count` commit events (in batches of up to 100) of `blocksBytes` each. */
  appendMany(count: number, blocksBytes?: number): Promise<void>
  close(): Promise<void>
}

export async function startStream(
  options: { log?: LevelEventLogOptions; server?: Partial<SubscriptionServerOptions> } = {},
): Promise<StreamHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-stream-'))
  const db = new Level<string, string>(dir)
  const log = await LevelEventLog.open(db, options.log)
  const http = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === PATH) return respondWithoutUpgrade(req, res)
    res.writeHead(404).end()
  })
  const stream = new SubscriptionServer(http, { log, path: PATH, ...options.server })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  let n = 0
  return {
    http,
    log,
    stream,
    port,
    url: (cursor) => `ws://127.0.0.1:${port}${PATH}${cursor === undefined ? '' : `?cursor=${cursor}`}`,
    appendMany: async (count, blocksBytes = 100) => {
      for (let done = 0; done < count; ) {
        const batch = Math.min(100, count - done)
        await log.append(Array.from({ length: batch }, () => unsequenced(++n, blocksBytes)))
        done += batch
      }
    },
    close: async () => {
      await stream.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await log.close()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export type Reader = {
  ws: WebSocket
  frames: ParsedFrame[]
  /** The binary messages as received. */
  raw: Uint8Array[]
  /** Seqs of the events received, in order. */
  seqs: number[]
  /** Resolves once `pred` holds (checked after every frame) or rejects after `timeoutMs`. */
  until(pred: (r: Reader) => boolean, timeoutMs?: number): Promise<void>
  closed: Promise<{ code: number; reason: string }>
  opened: Promise<void>
}

export function openReader(url: string): Reader {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  const waiters = new Set<() => void>()
  const reader: Reader = {
    ws,
    frames: [],
    raw: [],
    seqs: [],
    until: (pred, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (pred(reader)) return resolve()
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out; got seqs ${JSON.stringify(reader.seqs.slice(-5))} (${reader.seqs.length})`))
        }, timeoutMs)
        const check = (): void => {
          if (!pred(reader)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      }),
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    opened: new Promise((resolve, reject) => {
      ws.on('open', () => resolve())
      ws.on('error', reject)
    }),
  }
  ws.on('message', (data: Buffer) => {
    reader.raw.push(new Uint8Array(data))
    const frame = parseFrame(new Uint8Array(data))
    reader.frames.push(frame)
    if (frame.kind === 'message' && frame.message.t !== '#info') reader.seqs.push(frame.message.seq)
    for (const check of [...waiters]) check()
  })
  ws.on('close', () => {
    for (const check of [...waiters]) check()
  })
  return reader
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}
