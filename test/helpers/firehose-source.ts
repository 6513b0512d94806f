/**
 * A scripted upstream `subscribeRepos` for consumer tests: a real `ws`
 * server on 127.0.0.1 that keeps every frame it emitted in memory and serves
 * them with the reference cursor rules (no cursor: live; `seq > cursor`
 * replayed, then live; cursor above the last seq: `FutureCursor` error frame
 * and close). Tests emit typed events (the source gives them seqs and
 * encodes them) or raw frame bytes (malformed input), and can cut every
 * connection to exercise reconnects.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { encodeEventFrame, withSeq } from '../../core/stream/events.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { encodeErrorFrame } from '../../core/stream/frames.ts'

export const SUBSCRIBE_PATH = '/xrpc/com.atproto.sync.subscribeRepos'

type Stored = { pos: number; bytes: Uint8Array }

export type FirehoseSource = {
  /** `ws://127.0.0.1:<port>/xrpc/com.atproto.sync.subscribeRepos` */
  readonly url: string
  /** `http://127.0.0.1:<port>` (consumers accept the origin too). */
  readonly origin: string
  /** Give the event the next seq, store and broadcast its frame; returns the seq. */
  emit(event: UnsequencedEvent): number
  /** Store and broadcast raw bytes (replayed after the seq emitted before them). */
  emitRaw(bytes: Uint8Array): void
  readonly lastSeq: number
  /** The `cursor` query param of each connection, in order (null: none). */
  readonly cursors: (number | null)[]
  /** Frames sent so far over all connections. */
  sent(): number
  /** Terminate every open connection (the consumer should reconnect). */
  dropConnections(): void
  close(): Promise<void>
}

export async function startFirehoseSource(): Promise<FirehoseSource> {
  const frames: Stored[] = []
  const sockets = new Set<WebSocket>()
  const cursors: (number | null)[] = []
  let lastSeq = 0
  let sent = 0
  const http = createServer((_req, res) => res.writeHead(404).end())
  const wss = new WebSocketServer({ server: http, path: SUBSCRIBE_PATH })

  const send = (ws: WebSocket, bytes: Uint8Array): void => {
    sent++
    ws.send(bytes, { binary: true })
  }
  wss.on('connection', (ws, req) => {
    const raw = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor')
    const cursor = raw === null ? null : Number(raw)
    cursors.push(cursor)
    if (cursor !== null && cursor > lastSeq) {
      send(ws, encodeErrorFrame('FutureCursor', 'cursor in the future'))
      ws.close(1008, 'FutureCursor')
      return
    }
    if (cursor !== null) for (const f of frames) if (f.pos > cursor) send(ws, f.bytes)
    sockets.add(ws)
    ws.on('close', () => sockets.delete(ws))
    ws.on('error', () => sockets.delete(ws))
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port

  const broadcast = (stored: Stored): void => {
    frames.push(stored)
    for (const ws of sockets) send(ws, stored.bytes)
  }
  return {
    url: `ws://127.0.0.1:${port}${SUBSCRIBE_PATH}`,
    origin: `http://127.0.0.1:${port}`,
    emit(event) {
      const seq = ++lastSeq
      broadcast({ pos: seq, bytes: encodeEventFrame(withSeq(event, seq)) })
      return seq
    },
    emitRaw(bytes) {
      broadcast({ pos: lastSeq + 0.5, bytes })
    },
    get lastSeq() {
      return lastSeq
    },
    cursors,
    sent: () => sent,
    dropConnections() {
      for (const ws of sockets) ws.terminate()
      sockets.clear()
    },
    close: async () => {
      for (const ws of sockets) ws.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}
