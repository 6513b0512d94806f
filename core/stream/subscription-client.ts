/**
 * A subscribeRepos client: connects to a stream URL with a cursor, decodes
 * and validates every frame, and hands messages out through an async
 * iterator. Used by the relay (one per upstream host) and by consumers.
 *
 * - Ordering: an event whose seq is <= the last seq handed out is dropped
 *   (counted in `stats().duplicates`); this holds across reconnects, which
 *   resume with `cursor = lastSeq` (or the initial cursor when none was seen).
 * - Failures: a bad frame (`InvalidFrame`, `FrameTooLarge`, a text frame) is
 *   fatal to the connection, as the spec says; an `InvalidEvent` is one bad
 *   event and is handed out as `kind: 'invalid'` (the caller counts drops).
 *   An error frame `FutureCursor` ends the iterator with that error (the
 *   relay then marks the host idle); any other error frame or a dropped
 *   connection reconnects with capped exponential backoff and jitter. The
 *   failure count resets when a connection delivers an event; after
 *   failuresMax failures in a row the iterator throws `StreamUnreachable`.
 * - Backpressure: decoded messages wait in a queue; when it holds
 *   queueFramesMax messages or queueBytesMax bytes the socket is paused (TCP
 *   pushes back on the server) and resumed at half. A message already being
 *   received when the pause starts still arrives, so the bound is soft by at
 *   most one socket read.
 * - Keepalive: a ping every pingIntervalMs; pingsMissedMax missed pongs in a
 *   row drop the connection (an upstream that accepted TCP and went silent).
 */
import WebSocket from 'ws'
import { AtfedError, isAtfedError } from '../errors.ts'
import {
  FRAME_BYTES_MAX,
  STREAM_CLIENT_QUEUE_BYTES_MAX,
  STREAM_CLIENT_QUEUE_FRAMES_MAX,
  STREAM_HANDSHAKE_TIMEOUT_MS,
  STREAM_PING_INTERVAL_MS,
  STREAM_PINGS_MISSED_MAX,
  STREAM_RECONNECT_BACKOFF_MS_MAX,
  STREAM_RECONNECT_BACKOFF_MS_MIN,
  STREAM_RECONNECT_FAILURES_MAX,
} from '../limits.ts'
import type { InfoMessage, StreamEvent } from './events.ts'
import { parseFrame } from './event-parse.ts'
import { StreamQueue } from './stream-queue.ts'

export type SubscriptionClientOptions = {
  /** `ws(s)://host/xrpc/com.atproto.sync.subscribeRepos`; `cursor` is added by the client. */
  url: string
  /** Last seq already processed; null/absent = live only. */
  cursor?: number | null
  queueFramesMax?: number
  queueBytesMax?: number
  backoffMsMin?: number
  backoffMsMax?: number
  failuresMax?: number
  handshakeTimeoutMs?: number
  pingIntervalMs?: number
  pingsMissedMax?: number
  /** Connection-level problems (for logs and metrics); the client handles them itself. */
  onConnectionError?: (err: unknown) => void
}

export type ClientMessage =
  | { kind: 'event'; event: StreamEvent; frameBytes: Uint8Array }
  | { kind: 'info'; info: InfoMessage }
  | { kind: 'invalid'; error: AtfedError; frameBytes: Uint8Array }

export type ClientStats = {
  connects: number
  failures: number
  duplicates: number
  unknown: number
  errorFrames: number
  queued: number
  paused: boolean
}

type ConnectionOutcome = { progress: boolean; fatal: AtfedError | null }

export class SubscriptionClient implements AsyncIterable<ClientMessage> {
  readonly #options: SubscriptionClientOptions
  readonly #queue: StreamQueue<ClientMessage>
  #lastSeq: number | null
  #ws: WebSocket | null = null
  #closed = false
  #cancelSleep: (() => void) | null = null
  readonly #stats = { connects: 0, failures: 0, duplicates: 0, unknown: 0, errorFrames: 0 }

  constructor(options: SubscriptionClientOptions) {
    this.#options = options
    this.#lastSeq = options.cursor ?? null
    this.#queue = new StreamQueue<ClientMessage>({
      framesMax: options.queueFramesMax ?? STREAM_CLIENT_QUEUE_FRAMES_MAX,
      bytesMax: options.queueBytesMax ?? STREAM_CLIENT_QUEUE_BYTES_MAX,
      onFull: () => this.#ws?.pause(),
      onDrained: () => this.#ws?.resume(),
    })
    this.#queue.setOnReturn(() => this.close())
    void this.#run()
  }

  /** The seq of the last event handed to the queue (the cursor a reconnect uses). */
  get lastSeq(): number | null {
    return this.#lastSeq
  }

  stats(): ClientStats {
    return { ...this.#stats, queued: this.#queue.length, paused: this.#ws?.isPaused ?? false }
  }

  [Symbol.asyncIterator](): AsyncIterator<ClientMessage> {
    return this.#queue
  }

  /** Disconnect and end the iterator (messages already queued are dropped). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#cancelSleep?.()
    this.#ws?.terminate()
    this.#queue.end(null, { dropQueued: true })
  }

  async #run(): Promise<void> {
    const failuresMax = this.#options.failuresMax ?? STREAM_RECONNECT_FAILURES_MAX
    let failures = 0
    while (!this.#closed) {
      const outcome = await this.#connectOnce()
      if (this.#closed) return
      if (outcome.fatal !== null) return this.#finish(outcome.fatal)
      failures = outcome.progress ? 0 : failures + 1
      this.#stats.failures += outcome.progress ? 0 : 1
      if (failures >= failuresMax) {
        return this.#finish(new AtfedError('StreamUnreachable', `${failures} connection attempts in a row failed`))
      }
      await this.#sleep(this.#backoffMs(failures))
    }
  }

  #finish(err: AtfedError): void {
    this.#closed = true
    this.#queue.end(err)
  }

  /** Doubling from backoffMsMin, capped at backoffMsMax, times a jitter in [0.5, 1). */
  #backoffMs(failures: number): number {
    const min = this.#options.backoffMsMin ?? STREAM_RECONNECT_BACKOFF_MS_MIN
    const max = this.#options.backoffMsMax ?? STREAM_RECONNECT_BACKOFF_MS_MAX
    const base = Math.min(max, min * 2 ** Math.min(failures, 30))
    return base * (0.5 + Math.random() / 2)
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#cancelSleep = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  #connectOnce(): Promise<ConnectionOutcome> {
    const url = new URL(this.#options.url)
    if (this.#lastSeq !== null) url.searchParams.set('cursor', String(this.#lastSeq))
    const ws = new WebSocket(url, {
      maxPayload: FRAME_BYTES_MAX,
      handshakeTimeout: this.#options.handshakeTimeoutMs ?? STREAM_HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
    })
    this.#ws = ws
    const outcome: ConnectionOutcome = { progress: false, fatal: null }
    const reportError = (err: unknown): void => this.#options.onConnectionError?.(err)
    let missedPings = 0
    const pingTimer = setInterval(() => {
      if (missedPings >= (this.#options.pingsMissedMax ?? STREAM_PINGS_MISSED_MAX)) return void ws.terminate()
      missedPings++
      if (ws.readyState === WebSocket.OPEN) ws.ping()
    }, this.#options.pingIntervalMs ?? STREAM_PING_INTERVAL_MS)
    ws.on('open', () => {
      this.#stats.connects++
      if (this.#queue.isFull) ws.pause()
    })
    ws.on('pong', () => (missedPings = 0))
    ws.on('error', reportError)
    ws.on('unexpected-response', (_req, res) => {
      reportError(new AtfedError('StreamRefused', `server answered HTTP ${res.statusCode}`))
      res.resume()
      ws.terminate()
    })
    // After a fatal frame, `ws` may still emit messages it had already read: `dropped` ignores them.
    let dropped = false
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (dropped) return
      if (!isBinary) reportError(new AtfedError('InvalidFrame', 'text frame on an event stream'))
      missedPings = 0
      if (!isBinary || !this.#onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), outcome)) {
        dropped = true
        ws.terminate()
      }
    })
    return new Promise((resolve) =>
      ws.once('close', () => {
        clearInterval(pingTimer)
        if (this.#ws === ws) this.#ws = null
        resolve(outcome)
      }),
    )
  }

  /** Handle one binary frame; false when the connection must be dropped. */
  #onFrame(bytes: Uint8Array, outcome: ConnectionOutcome): boolean {
    let parsed
    try {
      parsed = parseFrame(bytes)
    } catch (err) {
      if (!isAtfedError(err, 'InvalidEvent')) {
        this.#options.onConnectionError?.(err)
        return false // bad framing or CBOR is fatal to the connection
      }
      this.#queue.push({ kind: 'invalid', error: err, frameBytes: bytes }, bytes.length)
      return true
    }
    switch (parsed.kind) {
      case 'unknown':
        this.#stats.unknown++
        return true
      case 'error':
        this.#stats.errorFrames++
        if (parsed.error === 'FutureCursor') outcome.fatal = new AtfedError('FutureCursor', parsed.message ?? 'cursor in the future')
        else this.#options.onConnectionError?.(new AtfedError(parsed.error, parsed.message ?? 'error frame'))
        return false // the server closes after an error frame anyway
      case 'message': {
        const message = parsed.message
        if (message.t === '#info') {
          this.#queue.push({ kind: 'info', info: message }, bytes.length)
        } else if (this.#lastSeq !== null && message.seq <= this.#lastSeq) {
          this.#stats.duplicates++
        } else {
          this.#lastSeq = message.seq
          outcome.progress = true
          this.#queue.push({ kind: 'event', event: message, frameBytes: bytes }, bytes.length)
        }
        return true
      }
    }
  }
}
