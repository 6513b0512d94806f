/**
 * Serves an event log as an atproto event stream (e.g.
 * `/xrpc/com.atproto.sync.subscribeRepos`) over `ws` on an existing
 * `http.Server`. Each connection gets a `Subscriber` (subscriber.ts) that
 * reads the shared log at its own position.
 *
 * Always checked, before the upgrade (answered as XRPC-style JSON errors on
 * the raw socket): method GET (405); `cursor` absent or a decimal integer in
 * 0..2^53-1 (400 InvalidRequest); not shutting down, fewer than
 * subscribersMax connections (503 with Retry-After) and fewer than
 * subscribersPerAddressMax from the client's address (429; subscriber-slots.ts). After the upgrade the cursor rules
 * of the sync spec §7.4 apply (see `Subscriber.run`):
 *   no cursor → live from now;  cursor > last seq → error FutureCursor, close
 *   1008;  cursor < floor (events after it are gone) → `#info OutdatedCursor`,
 *   then from the oldest retained;  otherwise every seq > cursor, then live.
 * Note: "outdated" means events after the cursor were actually deleted (by
 * `trim`); a cursor older than the window whose events are still stored is
 * simply served (the reference sends OutdatedCursor by age instead).
 *
 * Only binary frames are sent; client frames are ignored (and capped at
 * STREAM_CLIENT_MESSAGE_BYTES_MAX, over which `ws` closes that socket). A
 * ping goes out every pingIntervalMs; a peer missing pingsMissedMax pongs in a
 * row is terminated.
 *
 * The HTTP side is the caller's: a plain GET without `Upgrade` never reaches
 * the `upgrade` event, so mount `respondWithoutUpgrade` at the same path to
 * answer 405/426. Upgrade requests for other paths are left to other
 * listeners; when this server is the only `upgrade` listener they get 404.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import {
  STREAM_CLIENT_MESSAGE_BYTES_MAX,
  STREAM_CLOSE_GRACE_MS,
  STREAM_PING_INTERVAL_MS,
  STREAM_PINGS_MISSED_MAX,
  STREAM_READ_PAGE_EVENTS,
  STREAM_SEND_BUFFER_BYTES_MAX,
  STREAM_SEND_QUEUE_FRAMES_MAX,
  STREAM_SEQ_MAX,
  STREAM_SUBSCRIBER_LAG_EVENTS_MAX,
  STREAM_SUBSCRIBER_STALL_MS_MAX,
  STREAM_SUBSCRIBERS_MAX,
  STREAM_SUBSCRIBERS_PER_ADDRESS_MAX,
} from '../limits.ts'
import type { EventLog } from './event-log.ts'
import { Subscriber } from './subscriber.ts'
import { SubscriberSlots } from './subscriber-slots.ts'
import type { SubscriberEnd, SubscriberLimits } from './subscriber.ts'

export type SubscriptionServerOptions = Partial<SubscriberLimits> & {
  log: EventLog
  /** URL path served, e.g. `/xrpc/com.atproto.sync.subscribeRepos`. */
  path: string
  subscribersMax?: number
  subscribersPerAddressMax?: number
  /** Apply the per-address cap to loopback clients too (tests). */
  limitLoopback?: boolean
  pingIntervalMs?: number
  pingsMissedMax?: number
}

export type SubscriptionStats = {
  subscribers: number
  /** Largest unsent byte count seen on any one socket right after a send. */
  peakBufferedBytes: number
  /** How connections ended, by reason. */
  ends: Record<SubscriberEnd, number>
}

const RETRY_AFTER_S = 5

/** Answer a stream request that did not ask for a WebSocket: 405 for non-GET, else 426. */
export function respondWithoutUpgrade(req: IncomingMessage, res: ServerResponse): void {
  const [status, message] = req.method === 'GET' ? [426, 'WebSocket upgrade required'] : [405, 'Method not allowed: use GET']
  const body = JSON.stringify({ error: 'InvalidRequest', message })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
}

/** Refuse an upgrade on the raw socket with an XRPC-style JSON error (503s carry Retry-After). */
export function rejectUpgrade(socket: Duplex, status: number, error: string, message: string): void {
  const body = JSON.stringify({ error, message })
  const retry = status === 503 || status === 429 ? `retry-after: ${RETRY_AFTER_S}\r\n` : ''
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${retry}connection: close\r\n\r\n${body}`,
  )
}

/** The cursor query parameter: null when absent, a number, or 'invalid'. */
export function parseCursorParam(raw: string | null): number | null | 'invalid' {
  if (raw === null) return null
  if (!/^[0-9]{1,16}$/.test(raw)) return 'invalid'
  const n = Number(raw)
  return n <= STREAM_SEQ_MAX ? n : 'invalid'
}

export class SubscriptionServer {
  readonly #server: Server
  readonly #options: SubscriptionServerOptions
  readonly #limits: SubscriberLimits
  readonly #wss: WebSocketServer
  readonly #subscribers = new Map<Subscriber, Promise<SubscriberEnd>>()
  readonly #pingTimer: NodeJS.Timeout
  readonly #slots: SubscriberSlots
  #closing = false
  #peakBufferedBytes = 0
  readonly #ends: Record<SubscriberEnd, number> = { closed: 0, FutureCursor: 0, ConsumerTooSlow: 0, ServerShutdown: 0 }

  constructor(server: Server, options: SubscriptionServerOptions) {
    this.#server = server
    this.#options = options
    this.#limits = {
      sendBufferBytesMax: options.sendBufferBytesMax ?? STREAM_SEND_BUFFER_BYTES_MAX,
      sendQueueFramesMax: options.sendQueueFramesMax ?? STREAM_SEND_QUEUE_FRAMES_MAX,
      lagEventsMax: options.lagEventsMax ?? STREAM_SUBSCRIBER_LAG_EVENTS_MAX,
      stallMsMax: options.stallMsMax ?? STREAM_SUBSCRIBER_STALL_MS_MAX,
      readPageEvents: options.readPageEvents ?? STREAM_READ_PAGE_EVENTS,
      closeGraceMs: options.closeGraceMs ?? STREAM_CLOSE_GRACE_MS,
    }
    this.#slots = new SubscriberSlots({
      totalMax: options.subscribersMax ?? STREAM_SUBSCRIBERS_MAX,
      perAddressMax: options.subscribersPerAddressMax ?? STREAM_SUBSCRIBERS_PER_ADDRESS_MAX,
      limitLoopback: options.limitLoopback ?? false,
    })
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: STREAM_CLIENT_MESSAGE_BYTES_MAX, perMessageDeflate: false })
    server.on('upgrade', this.#onUpgrade)
    this.#pingTimer = setInterval(() => this.#ping(), options.pingIntervalMs ?? STREAM_PING_INTERVAL_MS)
    this.#pingTimer.unref()
  }

  stats(): SubscriptionStats {
    return { subscribers: this.#subscribers.size, peakBufferedBytes: this.#peakBufferedBytes, ends: { ...this.#ends } }
  }

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== this.#options.path) {
      if (this.#server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'NotFound', 'no stream at this path')
      return
    }
    socket.on('error', () => {})
    if (req.method !== 'GET') return rejectUpgrade(socket, 405, 'InvalidRequest', 'Method not allowed: use GET')
    const cursor = parseCursorParam(url.searchParams.get('cursor'))
    if (cursor === 'invalid') return rejectUpgrade(socket, 400, 'InvalidRequest', 'cursor must be an integer from 0 to 2^53-1')
    if (this.#closing) return rejectUpgrade(socket, 503, 'ServerShutdown', 'the server is shutting down')
    const refused = this.#slots.take(socket)
    if (refused !== null) return rejectUpgrade(socket, refused.status, refused.error, refused.message)
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, socket, cursor))
  }

  #accept(ws: WebSocket, socket: Duplex, cursor: number | null): void {
    if (this.#closing) return void ws.terminate()
    const subscriber = new Subscriber(ws, this.#options.log, {
      socket,
      limits: this.#limits,
      onSent: (bytes) => {
        if (bytes > this.#peakBufferedBytes) this.#peakBufferedBytes = bytes
      },
    })
    const done = subscriber.run(cursor).then(
      (end) => end,
      () => {
        ws.terminate() // a log read failed: drop the connection, the client reconnects with its cursor
        return 'closed' as const
      },
    )
    this.#subscribers.set(subscriber, done)
    void done.then((end) => {
      this.#ends[end]++
      this.#subscribers.delete(subscriber)
    })
  }

  #ping(): void {
    const missedMax = this.#options.pingsMissedMax ?? STREAM_PINGS_MISSED_MAX
    for (const subscriber of this.#subscribers.keys()) subscriber.ping(missedMax)
  }

  /** Stop accepting, close every subscriber (1001), and wait for them to end. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    clearInterval(this.#pingTimer)
    this.#server.off('upgrade', this.#onUpgrade)
    const subscribers = [...this.#subscribers.keys()]
    for (const subscriber of subscribers) subscriber.shutdown()
    await Promise.all([...this.#subscribers.values(), ...subscribers.map((s) => s.closed)])
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
  }
}
