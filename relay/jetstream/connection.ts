/**
 * One Jetstream subscriber: a pump that reads the shared event log at its
 * own position, turns each event into its JSON messages (from the shared
 * render cache, rendering on a miss), filters them for this subscriber and
 * writes them to its WebSocket (text frames, or binary zstd frames),
 * pre-framed on the socket with a header shared by every subscriber
 * (core/stream/subscriber.ts wsWire).
 *
 * Ordering: the pump never reads past the time index's head (time-index.ts)
 * and carries the clock forward from its start point, so the time_us it
 * sends are strictly increasing and equal to what every other reader
 * computes for the same event. Replay becomes live with no gap and no
 * duplicate: the position only moves to the seq just handled, and the log
 * publishes in seq order. Messages with time_us below the cursor are skipped.
 *
 * Memory is bounded like core/stream/subscriber.ts: it stops sending while
 * the socket holds >= sendBufferBytesMax unsent bytes or sendQueueMessagesMax
 * messages, and while blocked closes the connection (1008 ConsumerTooSlow)
 * when it is live and more than lagEventsMax events behind the head, or when
 * the socket accepted nothing for stallMsMax. A subscriber whose position
 * was trimmed away is closed the same way.
 *
 * Subscriber messages: text `options_update` replaces the filter from the
 * next message on; anything invalid closes the connection (1008 with the
 * error name as reason), as Jetstream does. With requireHello, nothing is
 * sent before the first valid update.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { isAtfedError } from '../../core/errors.ts'
import type { EventLog } from '../../core/stream/event-log.ts'
import { wsWire } from '../../core/stream/subscriber.ts'
import { filterMatches, parseOptionsUpdate } from './params.ts'
import type { JetstreamFilter } from './params.ts'
import type { RenderCache } from './render-cache.ts'
import { renderEvent } from './render.ts'
import type { JetstreamMessage, RenderedEvent } from './render.ts'
import type { StartPoint, TimeIndex } from './time-index.ts'
import type { ZstdCodec } from './zstd.ts'

export type ConnectionLimits = {
  sendBufferBytesMax: number
  sendQueueMessagesMax: number
  lagEventsMax: number
  stallMsMax: number
  readPageEvents: number
  closeGraceMs: number
}

export type ConnectionEnd = 'closed' | 'ConsumerTooSlow' | 'ServerShutdown' | 'InvalidOptionsUpdate'

export type ConnectionShared = {
  log: EventLog
  index: TimeIndex
  cache: RenderCache
  zstd: ZstdCodec | null
  limits: ConnectionLimits
  /** Called after each send with the socket's unsent bytes. */
  onSent: (bufferedBytes: number) => void
}

const CLOSE_POLICY = 1008
const CLOSE_GOING_AWAY = 1001
const WS_OPEN = 1

export class JetstreamConnection {
  readonly #ws: WebSocket
  readonly #socket: Duplex
  readonly #shared: ConnectionShared
  readonly #compress: boolean
  #filter: JetstreamFilter
  #waitingForHello: boolean
  #position = 0
  #prevEnd = 0
  #minTimeUs = 0
  /** False while the clock is a lower bound (started below a trim): renders are then not shared. */
  #exact = true
  #live = false
  #corked = false
  #inflight = 0
  #sent = 0
  #end: ConnectionEnd | null = null
  #wake: (() => void) | null = null
  #missedPings = 0
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>

  constructor(
    ws: WebSocket,
    shared: ConnectionShared,
    options: { socket: Duplex; filter: JetstreamFilter; compress: boolean; requireHello: boolean },
  ) {
    this.#ws = ws
    this.#socket = options.socket
    this.#shared = shared
    this.#filter = options.filter
    this.#compress = options.compress
    this.#waitingForHello = options.requireHello
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    ws.on('close', () => this.#finish('closed'))
    ws.on('pong', () => (this.#missedPings = 0))
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary))
    ws.on('error', () => {}) // 'close' follows
  }

  /** Messages written to the socket so far. */
  get sent(): number {
    return this.#sent
  }

  /** Pump from `start` until the connection ends. */
  async run(start: StartPoint): Promise<ConnectionEnd> {
    const { log, index } = this.#shared
    // Below a trim: go on from the floor; the checkpoint's end is a lower bound of the clock there.
    this.#position = Math.max(start.afterSeq, Math.min(log.floorSeq(), index.headSeq))
    this.#exact = this.#position === start.afterSeq
    this.#prevEnd = start.prevEnd
    this.#minTimeUs = start.minTimeUs
    const unsubscribe = index.onAdvance(() => this.#wakeUp())
    try {
      await this.#pump()
    } finally {
      unsubscribe()
    }
    return this.#end ?? 'closed'
  }

  ping(missedMax: number): void {
    if (this.#missedPings >= missedMax) return void this.#ws.terminate()
    this.#missedPings++
    this.#ws.ping()
  }

  shutdown(): void {
    if (this.#end !== null) return
    this.#finish('ServerShutdown')
    this.#closeSocket(CLOSE_GOING_AWAY, 'ServerShutdown')
  }

  async #pump(): Promise<void> {
    const { log, index, limits } = this.#shared
    while (this.#end === null) {
      const upTo = index.headSeq
      if (this.#waitingForHello || this.#position >= upTo) {
        this.#live = this.#live || this.#position >= upTo
        await this.#sleep(null)
        continue
      }
      if (this.#position < log.floorSeq()) return this.#fail('ConsumerTooSlow', 'fell out of the retention window')
      const page = Math.min(limits.readPageEvents, upTo - this.#position)
      let read = 0
      for await (const { seq, frameBytes } of log.read(this.#position, page)) {
        if (seq > upTo) break
        read++
        const rendered = this.#rendered(seq, frameBytes)
        for (const message of rendered.messages) {
          if (message.timeUs < this.#minTimeUs || !filterMatches(this.#filter, message)) continue
          if (!this.#hasRoom() && !(await this.#waitForRoom())) return
          this.#send(message)
        }
        this.#prevEnd = rendered.end
        this.#position = seq
      }
      // A short page saw every published seq up to `upTo` (the rest were burned by aborted appends).
      if (read < page && this.#end === null) this.#position = Math.max(this.#position, upTo)
    }
  }

  #rendered(seq: number, frameBytes: Uint8Array): RenderedEvent {
    const { cache, index } = this.#shared
    const cached = cache.get(seq)
    if (cached !== undefined) {
      this.#exact = true // the shared clock is >= a lower bound, so time_us still increases
      return cached
    }
    const options = { prevEnd: this.#prevEnd, capUs: index.capUs(), clampedBase: index.clampedBase(seq) }
    const rendered = renderEvent(seq, frameBytes, options)
    return this.#exact ? cache.put(rendered) : rendered
  }

  /** The common case, without a promise per message. */
  #hasRoom(): boolean {
    const { limits } = this.#shared
    return this.#end === null && this.#ws.bufferedAmount < limits.sendBufferBytesMax && this.#inflight < limits.sendQueueMessagesMax
  }

  async #waitForRoom(): Promise<boolean> {
    const { limits, index } = this.#shared
    const blockedAt = Date.now()
    for (;;) {
      if (this.#end !== null) return false
      if (this.#hasRoom()) return true
      if (this.#live && index.headSeq - this.#position > limits.lagEventsMax) {
        this.#fail('ConsumerTooSlow', `more than ${limits.lagEventsMax} events behind`)
        return false
      }
      const waitedMs = Date.now() - blockedAt
      if (waitedMs >= limits.stallMsMax) {
        this.#fail('ConsumerTooSlow', `socket accepted nothing for ${limits.stallMsMax} ms`)
        return false
      }
      await this.#sleep(limits.stallMsMax - waitedMs)
    }
  }

  #send(message: JetstreamMessage): void {
    if (!this.#corked) {
      // Messages sent in one tick leave in one writev.
      this.#corked = true
      this.#socket.cork()
      process.nextTick(() => {
        this.#corked = false
        this.#socket.uncork()
      })
    }
    if (this.#ws.readyState !== WS_OPEN) return // closing: 'close' ends the pump
    const zstd = this.#compress ? this.#shared.zstd : null
    const data = zstd === null ? message.data : (message.zstd ??= zstd.compress(message.data))
    // Pre-framed, as core/stream/subscriber.ts does: the header is made once per message for every subscriber.
    const wire = wsWire(data, zstd === null ? 'text' : 'binary')
    this.#inflight++
    this.#sent++
    this.#socket.write(wire.header)
    this.#socket.write(wire.body, this.#written)
    this.#shared.onSent(this.#ws.bufferedAmount)
  }

  /** One callback for every message: it left our buffer. */
  readonly #written = (): void => {
    this.#inflight--
    this.#wakeUp()
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#end !== null) return
    try {
      if (isBinary) throw new Error('binary')
      this.#filter = parseOptionsUpdate(data.toString('utf8'))
      this.#waitingForHello = false
      this.#wakeUp()
    } catch (err) {
      const name = isAtfedError(err) ? err.name : 'InvalidOptionsUpdate'
      this.#finish('InvalidOptionsUpdate')
      this.#closeSocket(CLOSE_POLICY, name)
    }
  }

  #sleep(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === null ? null : setTimeout(() => this.#wakeUp(), ms)
      this.#wake = () => {
        if (timer !== null) clearTimeout(timer)
        resolve()
      }
    })
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  #fail(name: 'ConsumerTooSlow', message: string): void {
    if (this.#end !== null) return
    this.#finish(name)
    this.#closeSocket(CLOSE_POLICY, `${name}: ${message}`.slice(0, 120))
  }

  #closeSocket(code: number, reason: string): void {
    this.#ws.close(code, reason)
    const timer = setTimeout(() => this.#ws.terminate(), this.#shared.limits.closeGraceMs)
    timer.unref()
    this.#ws.once('close', () => clearTimeout(timer))
  }

  #finish(end: ConnectionEnd): void {
    if (this.#end === null) this.#end = end
    this.#wakeUp()
  }
}
