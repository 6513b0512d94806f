/**
 * A scripted upstream host for relay tests: a real HTTP + `ws` server on
 * 127.0.0.1 that looks like a PDS to the relay.
 *
 * - `/xrpc/com.atproto.sync.subscribeRepos`: frames from a script. Each
 *   frame is stored with its seq (null for raw bytes that have none, e.g.
 *   malformed CBOR) and served with the reference cursor rules: no cursor →
 *   live only; cursor ≤ last seq → every stored frame after the cursor's
 *   position, then live; cursor > last seq → `FutureCursor` error frame and
 *   close (unless `acceptFutureCursor`). A frame marked `once` is sent to the
 *   first connection that gets it and never replayed, so a frame that makes
 *   the relay drop the connection (bad CBOR, oversized) does not loop.
 * - `/xrpc/com.atproto.server.describeServer`: `{did, availableUserDomains}`,
 *   with an optional `Server` header (to pose as a relay).
 * - `/xrpc/com.atproto.sync.getRepo?did=`: the CAR a registered provider
 *   returns (the account's current repo), else 404 RepoNotFound.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { encodeEventFrame, withSeq } from '../../core/stream/events.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { encodeErrorFrame } from '../../core/stream/frames.ts'

const SUBSCRIBE_PATH = '/xrpc/com.atproto.sync.subscribeRepos'

type Frame = { seq: number | null; bytes: Uint8Array; once: boolean; sent: boolean }
type Conn = { ws: WebSocket; live: boolean }

export type FakePdsHost = {
  /** `http://127.0.0.1:<port>` — what DID documents name as `#atproto_pds`. */
  readonly origin: string
  /** `127.0.0.1:<port>` — the relay's host name for it. */
  readonly hostname: string
  readonly lastSeq: number
  /** getRepo answers: DID → current repo CAR. */
  readonly repos: Map<string, () => Uint8Array>
  /** The `cursor` of each subscription, in order (null: none). */
  readonly cursors: (number | null)[]
  /** Give `event` the next seq, store and broadcast it; returns the seq. */
  emit(event: UnsequencedEvent, options?: { once?: boolean }): number
  /** Store and broadcast raw bytes (`seq` if the bytes carry one). */
  emitRaw(bytes: Uint8Array, options?: { seq?: number | null; once?: boolean }): void
  /** Send the stored frame with this seq again, to live connections only (a stream going backwards). */
  resend(seq: number): void
  /** Skip seqs (an upstream that jumps forward). */
  skipSeqs(n: number): void
  connections(): number
  waitForConnections(count: number, timeoutMs?: number): Promise<void>
  dropConnections(): void
  serverHeader: string | null
  acceptFutureCursor: boolean
  close(): Promise<void>
}

export async function startFakePdsHost(): Promise<FakePdsHost> {
  const frames: Frame[] = []
  const conns = new Set<Conn>()
  const repos = new Map<string, () => Uint8Array>()
  const cursors: (number | null)[] = []
  let lastSeq = 0

  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const json = (status: number, body: unknown): void => {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (self.serverHeader !== null) headers['server'] = self.serverHeader
      res.writeHead(status, headers).end(JSON.stringify(body))
    }
    if (url.pathname === '/xrpc/com.atproto.server.describeServer') {
      return json(200, { did: `did:web:${self.hostname.replace(':', '%3A')}`, availableUserDomains: ['.test'] })
    }
    if (url.pathname === '/xrpc/com.atproto.sync.getRepo') {
      const provider = repos.get(url.searchParams.get('did') ?? '')
      if (provider === undefined) return json(404, { error: 'RepoNotFound', message: 'no such repo' })
      const car = provider()
      res.writeHead(200, { 'content-type': 'application/vnd.ipld.car', 'content-length': car.length }).end(car)
      return
    }
    if (url.pathname === SUBSCRIBE_PATH) return json(426, { error: 'InvalidRequest', message: 'upgrade required' })
    json(404, { error: 'NotFound', message: 'not found' })
  })
  const wss = new WebSocketServer({ noServer: true })
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== SUBSCRIBE_PATH) return void socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, url.searchParams.get('cursor')))
  })

  function send(conn: Conn, frame: Frame): void {
    if (frame.once && frame.sent) return
    frame.sent = true
    conn.ws.send(frame.bytes)
  }

  function accept(ws: WebSocket, cursorText: string | null): void {
    const cursor = cursorText === null ? null : Number(cursorText)
    cursors.push(cursor)
    ws.on('error', () => {})
    if (cursor !== null && cursor > lastSeq && !self.acceptFutureCursor) {
      ws.send(encodeErrorFrame('FutureCursor', 'cursor is ahead of the stream'))
      ws.close(1008, 'FutureCursor')
      return
    }
    const conn: Conn = { ws, live: false }
    conns.add(conn)
    ws.on('close', () => conns.delete(conn))
    if (cursor !== null) {
      let start = 0
      frames.forEach((f, i) => {
        if (f.seq !== null && f.seq <= cursor) start = i + 1
      })
      for (const frame of frames.slice(start)) send(conn, frame)
    }
    conn.live = true
  }

  function broadcast(frame: Frame): void {
    frames.push(frame)
    for (const conn of conns) if (conn.live) send(conn, frame)
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const port = (http.address() as AddressInfo).port
  const self: FakePdsHost = {
    origin: `http://127.0.0.1:${port}`,
    hostname: `127.0.0.1:${port}`,
    get lastSeq() {
      return lastSeq
    },
    repos,
    cursors,
    serverHeader: null,
    acceptFutureCursor: false,
    emit(event, options = {}) {
      const seq = ++lastSeq
      broadcast({ seq, bytes: encodeEventFrame(withSeq(event, seq)), once: options.once === true, sent: false })
      return seq
    },
    emitRaw(bytes, options = {}) {
      const seq = options.seq ?? null
      if (seq !== null) lastSeq = Math.max(lastSeq, seq)
      broadcast({ seq, bytes, once: options.once === true, sent: false })
    },
    resend(seq) {
      const frame = frames.find((f) => f.seq === seq)
      if (frame === undefined) throw new Error(`no frame with seq ${seq}`)
      for (const conn of conns) if (conn.live) conn.ws.send(frame.bytes)
    },
    skipSeqs(n) {
      lastSeq += n
    },
    connections: () => conns.size,
    async waitForConnections(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (conns.size < count) {
        if (Date.now() > deadline) throw new Error(`fake host ${port}: ${conns.size} of ${count} connections after ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
    dropConnections() {
      for (const conn of conns) conn.ws.terminate()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const conn of conns) conn.ws.terminate()
        wss.close()
        http.closeAllConnections()
        http.close(() => resolve())
      }),
  }
  return self
}
