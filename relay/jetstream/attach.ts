/**
 * The relay's Jetstream-compatible JSON endpoint, mounted on the relay's
 * http.Server next to subscribeRepos: `attachJetstream(server, {log})`
 * handles WebSocket upgrades for `path` (default `/subscribe`) and leaves
 * every other path to the server's other `upgrade` listeners.
 *
 * Always checked before the upgrade (answered as `{error, message}` JSON on
 * the raw socket): GET (405); the query (params.ts; 400 with the error name);
 * compression asked for but unavailable (400 CompressionUnavailable); fewer
 * than subscribersMax subscriptions and not shutting down (503, Retry-After);
 * fewer than subscribersPerAddressMax from the client's address (429).
 * The rebuild of the time index is awaited before a subscriber starts.
 *
 * Pieces: time-index.ts (clock and cursors), render.ts + render-cache.ts
 * (frame → JSON once, shared), connection.ts (one pump per subscriber, reads
 * the shared log at its own position), params.ts (filters), zstd.ts.
 * A plain GET without `Upgrade` never reaches here: the relay's HTTP router
 * answers it (e.g. core/stream/subscription-server.ts respondWithoutUpgrade).
 * Shutdown order: `close()` this before closing the log's database.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { isAtfedError } from '../../core/errors.ts'
import {
  JETSTREAM_CLAMPED_EVENTS_MAX,
  JETSTREAM_CLIENT_MESSAGE_BYTES_MAX,
  JETSTREAM_FUTURE_TIME_TOLERANCE_MS,
  JETSTREAM_READ_PAGE_EVENTS,
  JETSTREAM_RENDER_CACHE_BYTES_MAX,
  JETSTREAM_RENDER_CACHE_EVENTS_MAX,
  JETSTREAM_SEND_BUFFER_BYTES_MAX,
  JETSTREAM_SEND_QUEUE_MESSAGES_MAX,
  JETSTREAM_SUBSCRIBERS_MAX,
  JETSTREAM_SUBSCRIBERS_PER_ADDRESS_MAX,
  JETSTREAM_SUBSCRIBER_LAG_EVENTS_MAX,
  JETSTREAM_SUBSCRIBER_STALL_MS_MAX,
  JETSTREAM_TIME_INDEX_CHECKPOINTS_MAX,
  JETSTREAM_TIME_INDEX_REBUILD_EVENTS_MAX,
  JETSTREAM_TIME_INDEX_STRIDE_EVENTS,
  JETSTREAM_ZSTD_LEVEL,
  STREAM_CLOSE_GRACE_MS,
  STREAM_PINGS_MISSED_MAX,
  STREAM_PING_INTERVAL_MS,
} from '../../core/limits.ts'
import type { EventLog } from '../../core/stream/event-log.ts'
import { SubscriberSlots } from '../../core/stream/subscriber-slots.ts'
import { rejectUpgrade } from '../../core/stream/subscription-server.ts'
import { JetstreamConnection } from './connection.ts'
import type { ConnectionEnd, ConnectionLimits, ConnectionShared } from './connection.ts'
import { parseSubscribeParams } from './params.ts'
import type { SubscribeParams } from './params.ts'
import { RenderCache } from './render-cache.ts'
import type { RenderCacheStats } from './render-cache.ts'
import { TimeIndex } from './time-index.ts'
import { loadZstd } from './zstd.ts'
import type { ZstdCodec } from './zstd.ts'

export type JetstreamOptions = Partial<ConnectionLimits> & {
  log: EventLog
  /** URL path served; default `/subscribe`. */
  path?: string
  subscribersMax?: number
  subscribersPerAddressMax?: number
  /** Apply the per-address cap to loopback clients too (tests). */
  limitLoopback?: boolean
  pingIntervalMs?: number
  pingsMissedMax?: number
  /** Newest stored events re-read at start to rebuild the time index. */
  rebuildEventsMax?: number
  renderCacheEventsMax?: number
  renderCacheBytesMax?: number
  /** false: never compress. Default: compress when the runtime has zstd. */
  compression?: boolean
  /** zstd dictionary (e.g. Jetstream's) that compressed subscribers must also use. */
  zstdDictionary?: Uint8Array
  /** The relay's clock (ms), for clamping future-dated event times. */
  now?: () => number
}

export type JetstreamStats = {
  subscribers: number
  /** Where zstd comes from, or null when compression is unavailable. */
  compression: ZstdCodec['source'] | null
  /** Last seq the time index has stamped, and its number of checkpoints. */
  indexedSeq: number
  checkpoints: number
  cache: RenderCacheStats
  /** Messages written to sockets by subscribers that have ended, plus the open ones. */
  messagesSent: number
  peakBufferedBytes: number
  ends: Record<ConnectionEnd, number>
}

export type JetstreamHandle = {
  /** Stop accepting, close every subscriber (1001), stop the index. */
  close(): Promise<void>
  stats(): JetstreamStats
  /** Resolves once the time index has caught up with the log (subscribers wait for it anyway). */
  readonly ready: Promise<void>
}

function connectionLimits(options: JetstreamOptions): ConnectionLimits {
  return {
    sendBufferBytesMax: options.sendBufferBytesMax ?? JETSTREAM_SEND_BUFFER_BYTES_MAX,
    sendQueueMessagesMax: options.sendQueueMessagesMax ?? JETSTREAM_SEND_QUEUE_MESSAGES_MAX,
    lagEventsMax: options.lagEventsMax ?? JETSTREAM_SUBSCRIBER_LAG_EVENTS_MAX,
    stallMsMax: options.stallMsMax ?? JETSTREAM_SUBSCRIBER_STALL_MS_MAX,
    readPageEvents: options.readPageEvents ?? JETSTREAM_READ_PAGE_EVENTS,
    closeGraceMs: options.closeGraceMs ?? STREAM_CLOSE_GRACE_MS,
  }
}

function sharedState(options: JetstreamOptions, onSent: (bytes: number) => void): ConnectionShared {
  const index = new TimeIndex(options.log, {
    now: options.now ?? Date.now,
    futureToleranceMs: JETSTREAM_FUTURE_TIME_TOLERANCE_MS,
    rebuildEventsMax: options.rebuildEventsMax ?? JETSTREAM_TIME_INDEX_REBUILD_EVENTS_MAX,
    strideEvents: JETSTREAM_TIME_INDEX_STRIDE_EVENTS,
    checkpointsMax: JETSTREAM_TIME_INDEX_CHECKPOINTS_MAX,
    clampedMax: JETSTREAM_CLAMPED_EVENTS_MAX,
    readPageEvents: options.readPageEvents ?? JETSTREAM_READ_PAGE_EVENTS,
  })
  const cache = new RenderCache({
    eventsMax: options.renderCacheEventsMax ?? JETSTREAM_RENDER_CACHE_EVENTS_MAX,
    bytesMax: options.renderCacheBytesMax ?? JETSTREAM_RENDER_CACHE_BYTES_MAX,
  })
  const zstd =
    options.compression === false ? null : loadZstd({ level: JETSTREAM_ZSTD_LEVEL, dictionary: options.zstdDictionary ?? null })
  return { log: options.log, index, cache, zstd, limits: connectionLimits(options), onSent }
}

class JetstreamServer implements JetstreamHandle {
  readonly #http: Server
  readonly #path: string
  readonly #slots: SubscriberSlots
  readonly #shared: ConnectionShared
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: JETSTREAM_CLIENT_MESSAGE_BYTES_MAX, perMessageDeflate: false })
  readonly #connections = new Map<JetstreamConnection, Promise<ConnectionEnd>>()
  readonly #ends: Record<ConnectionEnd, number> = { closed: 0, ConsumerTooSlow: 0, ServerShutdown: 0, InvalidOptionsUpdate: 0 }
  readonly #pingTimer: NodeJS.Timeout
  #closing = false
  #peakBufferedBytes = 0
  #endedSent = 0
  readonly ready: Promise<void>

  constructor(http: Server, options: JetstreamOptions) {
    this.#http = http
    this.#path = options.path ?? '/subscribe'
    this.#slots = new SubscriberSlots({
      totalMax: options.subscribersMax ?? JETSTREAM_SUBSCRIBERS_MAX,
      perAddressMax: options.subscribersPerAddressMax ?? JETSTREAM_SUBSCRIBERS_PER_ADDRESS_MAX,
      limitLoopback: options.limitLoopback ?? false,
    })
    this.#shared = sharedState(options, (bytes) => {
      if (bytes > this.#peakBufferedBytes) this.#peakBufferedBytes = bytes
    })
    this.ready = this.#shared.index.ready
    http.on('upgrade', this.#onUpgrade)
    const pingsMissedMax = options.pingsMissedMax ?? STREAM_PINGS_MISSED_MAX
    this.#pingTimer = setInterval(() => {
      for (const connection of this.#connections.keys()) connection.ping(pingsMissedMax)
    }, options.pingIntervalMs ?? STREAM_PING_INTERVAL_MS)
    this.#pingTimer.unref()
  }

  stats(): JetstreamStats {
    const { index, cache, zstd } = this.#shared
    const openSent = [...this.#connections.keys()].reduce((sum, c) => sum + c.sent, 0)
    return {
      subscribers: this.#connections.size,
      compression: zstd?.source ?? null,
      indexedSeq: index.headSeq,
      checkpoints: index.checkpoints,
      cache: cache.stats(),
      messagesSent: this.#endedSent + openSent,
      peakBufferedBytes: this.#peakBufferedBytes,
      ends: { ...this.#ends },
    }
  }

  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    clearInterval(this.#pingTimer)
    this.#http.off('upgrade', this.#onUpgrade)
    const open = [...this.#connections.keys()]
    for (const connection of open) connection.shutdown()
    this.#shared.index.close()
    await Promise.all([...this.#connections.values(), ...open.map((c) => c.closed), this.#shared.index.done])
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()))
  }

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== this.#path) {
      if (this.#http.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'NotFound', 'no stream at this path')
      return
    }
    socket.on('error', () => {})
    if (req.method !== 'GET') return rejectUpgrade(socket, 405, 'InvalidRequest', 'Method not allowed: use GET')
    let params: SubscribeParams
    try {
      params = parseSubscribeParams(url.searchParams, req.headers['socket-encoding'] as string | undefined)
    } catch (err) {
      if (!isAtfedError(err)) throw err
      return rejectUpgrade(socket, 400, err.name, err.message)
    }
    if (params.compress && this.#shared.zstd === null) {
      return rejectUpgrade(socket, 400, 'CompressionUnavailable', 'this relay cannot compress (no zstd in this runtime)')
    }
    if (this.#closing) return rejectUpgrade(socket, 503, 'ServerShutdown', 'the server is shutting down')
    const refused = this.#slots.take(socket)
    if (refused !== null) return rejectUpgrade(socket, refused.status, refused.error, refused.message)
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, socket, params))
  }

  #accept(ws: WebSocket, socket: Duplex, params: SubscribeParams): void {
    if (this.#closing) return void ws.terminate()
    const { index } = this.#shared
    const connection = new JetstreamConnection(ws, this.#shared, { socket, ...params })
    const done = index.ready
      .then(() => connection.run(index.resolve(params.cursorUs)))
      .catch(() => {
        ws.terminate() // a log read failed: drop the connection, the client reconnects with its cursor
        return 'closed' as const
      })
    this.#connections.set(connection, done)
    void done.then((end) => {
      this.#ends[end]++
      this.#endedSent += connection.sent
      this.#connections.delete(connection)
    })
  }
}

/** Serve the Jetstream endpoint on `httpServer` (upgrades for `options.path` only) from `options.log`. */
export function attachJetstream(httpServer: Server, options: JetstreamOptions): JetstreamHandle {
  return new JetstreamServer(httpServer, options)
}
