/**
 * One firehose subscriber: a pump that reads the shared event log at its own
 * position and writes the stored frames, verbatim, to one WebSocket.
 *
 * There is no per-subscriber copy of the log and no separate replay and live
 * modes: the pump always asks the log for "frames after my position", sends
 * them, and when there are none waits for the log's append notification.
 * Replay turns into live with no gap and no duplicate by construction (the
 * position only ever moves to the seq just sent; the log publishes in seq
 * order).
 *
 * Memory per subscriber is bounded: the pump stops sending while the socket
 * holds >= sendBufferBytesMax unsent bytes or sendQueueFramesMax frames
 * (so at most that plus one frame), and the log iterator it holds open.
 * While blocked it disconnects with `ConsumerTooSlow` when
 * - it is live (has caught up once) and lags the head by > lagEventsMax, or
 * - the socket has accepted nothing for stallMsMax;
 * and, in any mode, when the log was trimmed past its position.
 * (A replaying subscriber may lag arbitrarily: it reads from storage at its
 * own pace, like the reference PDS's backfill.)
 *
 * Sending (bounded buffering, pre-framed writes shared by every subscriber,
 * stall limit, pings, shutdown) is paced-socket.ts's job.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { EventLog } from './event-log.ts'
import { encodeErrorFrame, encodeInfoFrame } from './frames.ts'
import { PacedSocket } from './paced-socket.ts'

export type SubscriberLimits = {
  sendBufferBytesMax: number
  sendQueueFramesMax: number
  lagEventsMax: number
  stallMsMax: number
  readPageEvents: number
  closeGraceMs: number
}

export type SubscriberEnd = 'closed' | 'FutureCursor' | 'ConsumerTooSlow' | 'ServerShutdown'

/** Close code 1008 (policy violation) with the error name as reason, as the reference does. */
const CLOSE_POLICY = 1008

export class Subscriber {
  readonly #ws: WebSocket
  readonly #log: EventLog
  readonly #limits: SubscriberLimits
  readonly #out: PacedSocket<SubscriberEnd>
  #position = 0
  #live = false
  #unsubscribe: () => void = () => {}
  /** Resolves when the socket is closed (cleanly or not). */
  readonly closed: Promise<void>

  constructor(
    ws: WebSocket,
    log: EventLog,
    options: { socket: Duplex; limits: SubscriberLimits; onSent: (bufferedBytes: number) => void },
  ) {
    this.#ws = ws
    this.#log = log
    this.#limits = options.limits
    const { sendQueueFramesMax: sendQueueMessagesMax, ...limits } = options.limits
    this.#out = new PacedSocket(ws, { socket: options.socket, limits: { ...limits, sendQueueMessagesMax }, onSent: options.onSent })
    this.closed = this.#out.closed
    ws.on('message', () => {}) // client frames are ignored
  }

  get end(): SubscriberEnd | null {
    return this.#out.end
  }

  /** Apply the cursor rules (spec §7.4) and pump until the connection ends. */
  async run(cursor: number | null): Promise<SubscriberEnd> {
    const log = this.#log
    if (cursor !== null && cursor > log.lastSeq()) {
      this.#fail('FutureCursor', `cursor ${cursor} is past the last seq ${log.lastSeq()}`)
      return this.#out.end ?? 'FutureCursor'
    }
    if (cursor === null) this.#position = log.lastSeq()
    else if (cursor < log.floorSeq()) {
      this.#ws.send(encodeInfoFrame('OutdatedCursor', 'cursor is older than the retained events; some were missed'), {
        binary: true,
      })
      this.#position = log.floorSeq()
    } else this.#position = cursor
    this.#unsubscribe = log.onAppend(() => this.#out.wakeUp())
    try {
      await this.#pump()
    } finally {
      this.#unsubscribe()
    }
    return this.#out.end ?? 'closed'
  }

  /** Keepalive tick: terminate a peer that missed `missedMax` pongs in a row, else ping it. */
  ping(missedMax: number): void {
    this.#out.ping(missedMax)
  }

  /** Server shutdown: a normal close, then a hard one after the grace period. */
  shutdown(): void {
    this.#out.shutdown()
  }

  async #pump(): Promise<void> {
    const log = this.#log
    const out = this.#out
    while (out.end === null) {
      if (this.#position < log.floorSeq()) return this.#fail('ConsumerTooSlow', 'fell out of the retention window')
      let sent = 0
      const published = log.lastSeq()
      for await (const { seq, frameBytes } of log.read(this.#position, this.#limits.readPageEvents)) {
        if (!out.hasRoom() && !(await this.#waitForRoom())) return
        out.send(frameBytes, 'binary')
        this.#position = seq
        sent++
      }
      // A short page means nothing else up to `published` exists: the seqs
      // in between were burned by aborted appends. Step over them, or the
      // pump would re-read the same empty range forever without yielding.
      if (sent < this.#limits.readPageEvents && published > this.#position) this.#position = published
      if (sent === 0) {
        this.#live = true
        if (log.lastSeq() <= this.#position) await out.sleep(null)
      }
    }
  }

  /** True when the socket can take another frame; false when the subscriber ended (or was ended here). */
  async #waitForRoom(): Promise<boolean> {
    const { lagEventsMax } = this.#limits
    const lagging = (): string | null =>
      this.#live && this.#log.lastSeq() - this.#position > lagEventsMax ? `more than ${lagEventsMax} events behind` : null
    const waited = await this.#out.waitForRoom(lagging)
    if (waited === 'room') return true
    if (waited !== 'ended') this.#fail('ConsumerTooSlow', waited.tooSlow)
    return false
  }

  /** Error frame (sent past the buffer limit: it is one small frame), then close 1008. */
  #fail(name: 'FutureCursor' | 'ConsumerTooSlow', message: string): void {
    if (this.#out.end !== null) return
    this.#out.finish(name)
    this.#ws.send(encodeErrorFrame(name, message), { binary: true })
    this.#out.closeSocket(CLOSE_POLICY, name)
  }
}
