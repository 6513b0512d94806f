/**
 * One Jetstream subscriber: a pump that reads the shared event log at its
 * own position, turns each event into its JSON messages (from the shared
 * render cache, rendering on a miss), filters them for this subscriber and
 * writes them to its WebSocket (text frames, or binary zstd frames)
 * through core/stream/paced-socket.ts, as the firehose subscriber does.
 *
 * Ordering: the pump never reads past the time index's head (time-index.ts)
 * and carries the clock forward from its start point, so the time_us it
 * sends are strictly increasing and equal to what every other reader
 * computes for the same event. Replay becomes live with no gap and no
 * duplicate: the position only moves to the seq just handled, and the log
 * publishes in seq order. Messages with time_us below the cursor are skipped.
 *
 * Memory is bounded like core/stream/subscriber.ts: the paced socket stops
 * sending while it holds >= sendBufferBytesMax unsent bytes or
 * sendQueueMessagesMax messages, and while blocked the connection closes (1008 ConsumerTooSlow)
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
import { PacedSocket } from '../../core/stream/paced-socket.ts'
import type { PacedSocketLimits } from '../../core/stream/paced-socket.ts'
import { filterMatches, parseOptionsUpdate } from './params.ts'
import type { JetstreamFilter } from './params.ts'
import type { RenderCache } from './render-cache.ts'
import { renderEvent } from './render.ts'
import type { JetstreamMessage, RenderedEvent } from './render.ts'
import type { StartPoint, TimeIndex } from './time-index.ts'
import type { ZstdCodec } from './zstd.ts'

export type ConnectionLimits = PacedSocketLimits & {
  /** While blocked and live: end as too slow past this many events behind the head. */
  lagEventsMax: number
  readPageEvents: number
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

export class JetstreamConnection {
  readonly #shared: ConnectionShared
  readonly #out: PacedSocket<ConnectionEnd>
  readonly #compress: boolean
  #filter: JetstreamFilter
  #waitingForHello: boolean
  #position = 0
  #prevEnd = 0
  #minTimeUs = 0
  /** False while the clock is a lower bound (started below a trim): renders are then not shared. */
  #exact = true
  #live = false
  #sent = 0
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>

  constructor(
    ws: WebSocket,
    shared: ConnectionShared,
    options: { socket: Duplex; filter: JetstreamFilter; compress: boolean; requireHello: boolean },
  ) {
    this.#shared = shared
    this.#out = new PacedSocket(ws, { socket: options.socket, limits: shared.limits, onSent: shared.onSent })
    this.closed = this.#out.closed
    this.#filter = options.filter
    this.#compress = options.compress
    this.#waitingForHello = options.requireHello
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary))
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
    const unsubscribe = index.onAdvance(() => this.#out.wakeUp())
    try {
      await this.#pump()
    } finally {
      unsubscribe()
    }
    return this.#out.end ?? 'closed'
  }

  ping(missedMax: number): void {
    this.#out.ping(missedMax)
  }

  shutdown(): void {
    this.#out.shutdown()
  }

  async #pump(): Promise<void> {
    const { log, index, limits } = this.#shared
    const out = this.#out
    while (out.end === null) {
      const upTo = index.headSeq
      if (this.#waitingForHello || this.#position >= upTo) {
        this.#live = this.#live || this.#position >= upTo
        await out.sleep(null)
        continue
      }
      if (this.#position < log.floorSeq()) return this.#fail('fell out of the retention window')
      const page = Math.min(limits.readPageEvents, upTo - this.#position)
      let read = 0
      for await (const { seq, frameBytes } of log.read(this.#position, page)) {
        if (seq > upTo) break
        read++
        const rendered = this.#rendered(seq, frameBytes)
        for (const message of rendered.messages) {
          if (message.timeUs < this.#minTimeUs || !filterMatches(this.#filter, message)) continue
          if (!out.hasRoom() && !(await this.#waitForRoom())) return
          this.#send(message)
        }
        this.#prevEnd = rendered.end
        this.#position = seq
      }
      // A short page saw every published seq up to `upTo` (the rest were burned by aborted appends).
      if (read < page && out.end === null) this.#position = Math.max(this.#position, upTo)
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

  async #waitForRoom(): Promise<boolean> {
    const { limits, index } = this.#shared
    const lagging = (): string | null =>
      this.#live && index.headSeq - this.#position > limits.lagEventsMax ? `more than ${limits.lagEventsMax} events behind` : null
    const waited = await this.#out.waitForRoom(lagging)
    if (waited === 'room') return true
    if (waited !== 'ended') this.#fail(waited.tooSlow)
    return false
  }

  #send(message: JetstreamMessage): void {
    const zstd = this.#compress ? this.#shared.zstd : null
    if (zstd === null) {
      if (this.#out.send(message.data, 'text')) this.#sent++
    } else if (this.#out.send((message.zstd ??= zstd.compress(message.data)), 'binary')) this.#sent++
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#out.end !== null) return
    try {
      if (isBinary) throw new Error('binary')
      this.#filter = parseOptionsUpdate(data.toString('utf8'))
      this.#waitingForHello = false
      this.#out.wakeUp()
    } catch (err) {
      const name = isAtfedError(err) ? err.name : 'InvalidOptionsUpdate'
      this.#out.finish('InvalidOptionsUpdate')
      this.#out.closeSocket(CLOSE_POLICY, name)
    }
  }

  #fail(message: string): void {
    if (this.#out.end !== null) return
    this.#out.finish('ConsumerTooSlow')
    this.#out.closeSocket(CLOSE_POLICY, `ConsumerTooSlow: ${message}`.slice(0, 120))
  }
}
