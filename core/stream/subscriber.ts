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
 * Frames go to the TCP socket already framed, not through `ws.send`: an
 * unmasked server-to-client binary message is the same bytes for every
 * subscriber, so each frame's 2–10-byte WebSocket header (and a `Buffer`
 * view of its bytes, which the socket would otherwise make per write) is
 * built once and shared (`wsWire`: a WeakMap keyed by the frame the log
 * hands to everyone), and a delivery costs two buffered writes that
 * reference shared bytes and no allocation of its own: what 1,000
 * subscribers cost is their sockets, not their traffic. Only while the
 * WebSocket is OPEN (never after our close frame); `ws` still sends pings,
 * error frames and the close, on the same socket in order, and its
 * `bufferedAmount` counts our writes too. (relay/jetstream/connection.ts
 * sends its JSON messages the same way.)
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import type { EventLog } from './event-log.ts'
import { encodeErrorFrame, encodeInfoFrame } from './frames.ts'

export type SubscriberLimits = {
  sendBufferBytesMax: number
  sendQueueFramesMax: number
  lagEventsMax: number
  stallMsMax: number
  readPageEvents: number
  closeGraceMs: number
}

export type SubscriberEnd = 'closed' | 'FutureCursor' | 'ConsumerTooSlow' | 'ServerShutdown'

const WS_OPEN = 1
const FIN = 0x80
const OPCODE = { text: 0x1, binary: 0x2 } as const

/** The header of an unmasked, final WebSocket message of `length` payload bytes (RFC 6455 §5.2). */
export function wsMessageHeader(kind: keyof typeof OPCODE, length: number): Buffer {
  const first = FIN | OPCODE[kind]
  if (length < 126) return Buffer.from([first, length])
  if (length < 65_536) return Buffer.from([first, 126, length >>> 8, length & 0xff])
  const header = Buffer.alloc(10)
  header[0] = first
  header[1] = 127
  header.writeUIntBE(length, 4, 6) // lengths past 2^48 cannot occur (frames are capped far below)
  return header
}

/** A message as written: its WebSocket header and a `Buffer` view of its bytes (no copy). */
export type WsWire = { readonly header: Buffer; readonly body: Buffer }

/** Each payload's wire form, made once for every socket it goes to, gone with the payload. */
const wires = { text: new WeakMap<Uint8Array, WsWire>(), binary: new WeakMap<Uint8Array, WsWire>() }

/**
 * The wire form of `payload` as one server-to-client message: write
 * `header` then `body` to the upgraded socket, and only while the WebSocket
 * is OPEN (never after its close frame). Shared by every subscriber that
 * sends the same payload object.
 */
export function wsWire(payload: Uint8Array, kind: keyof typeof OPCODE): WsWire {
  const cache = wires[kind]
  let wire = cache.get(payload)
  if (wire === undefined) {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    wire = { header: wsMessageHeader(kind, payload.length), body }
    cache.set(payload, wire)
  }
  return wire
}

/** Close code 1008 (policy violation) with the error name as reason, as the reference does. */
const CLOSE_POLICY = 1008
const CLOSE_GOING_AWAY = 1001

export class Subscriber {
  readonly #ws: WebSocket
  readonly #log: EventLog
  readonly #limits: SubscriberLimits
  readonly #onSent: (bufferedBytes: number) => void
  /** The upgraded TCP socket under `ws` (ours: the server handed it to `ws`), corked while a burst is sent. */
  readonly #socket: Duplex
  #corked = false
  #position = 0
  #live = false
  #inflight = 0
  #end: SubscriberEnd | null = null
  #wake: (() => void) | null = null
  #unsubscribe: () => void = () => {}
  #missedPings = 0
  /** Resolves when the socket is closed (cleanly or not). */
  readonly closed: Promise<void>

  constructor(
    ws: WebSocket,
    log: EventLog,
    options: { socket: Duplex; limits: SubscriberLimits; onSent: (bufferedBytes: number) => void },
  ) {
    this.#ws = ws
    this.#socket = options.socket
    this.#log = log
    this.#limits = options.limits
    this.#onSent = options.onSent
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    ws.on('close', () => this.#finish('closed'))
    ws.on('pong', () => (this.#missedPings = 0))
    ws.on('message', () => {}) // client frames are ignored
    ws.on('error', () => {}) // 'close' follows
  }

  get end(): SubscriberEnd | null {
    return this.#end
  }

  /** Apply the cursor rules (spec §7.4) and pump until the connection ends. */
  async run(cursor: number | null): Promise<SubscriberEnd> {
    const log = this.#log
    if (cursor !== null && cursor > log.lastSeq()) {
      this.#fail('FutureCursor', `cursor ${cursor} is past the last seq ${log.lastSeq()}`)
      return this.#end as SubscriberEnd
    }
    if (cursor === null) this.#position = log.lastSeq()
    else if (cursor < log.floorSeq()) {
      this.#ws.send(encodeInfoFrame('OutdatedCursor', 'cursor is older than the retained events; some were missed'), {
        binary: true,
      })
      this.#position = log.floorSeq()
    } else this.#position = cursor
    this.#unsubscribe = log.onAppend(() => this.#wakeUp())
    try {
      await this.#pump()
    } finally {
      this.#unsubscribe()
    }
    return this.#end ?? 'closed'
  }

  /** Keepalive tick: terminate a peer that missed `missedMax` pongs in a row, else ping it. */
  ping(missedMax: number): void {
    if (this.#missedPings >= missedMax) return void this.#ws.terminate()
    this.#missedPings++
    this.#ws.ping()
  }

  /** Server shutdown: a normal close, then a hard one after the grace period. */
  shutdown(): void {
    if (this.#end !== null) return
    this.#finish('ServerShutdown')
    this.#closeSocket(CLOSE_GOING_AWAY, 'ServerShutdown')
  }

  async #pump(): Promise<void> {
    const log = this.#log
    while (this.#end === null) {
      if (this.#position < log.floorSeq()) return this.#fail('ConsumerTooSlow', 'fell out of the retention window')
      let sent = 0
      const published = log.lastSeq()
      for await (const { seq, frameBytes } of log.read(this.#position, this.#limits.readPageEvents)) {
        if (!this.#hasRoom() && !(await this.#waitForRoom())) return
        this.#send(frameBytes)
        this.#position = seq
        sent++
      }
      // A short page means nothing else up to `published` exists: the seqs
      // in between were burned by aborted appends. Step over them, or the
      // pump would re-read the same empty range forever without yielding.
      if (sent < this.#limits.readPageEvents && published > this.#position) this.#position = published
      if (sent === 0) {
        this.#live = true
        if (log.lastSeq() <= this.#position) await this.#sleep(null)
      }
    }
  }

  #hasRoom(): boolean {
    return this.#end === null && this.#ws.bufferedAmount < this.#limits.sendBufferBytesMax && this.#inflight < this.#limits.sendQueueFramesMax
  }

  /** True when the socket can take another frame; false when the subscriber ended (or was ended here). */
  async #waitForRoom(): Promise<boolean> {
    const { lagEventsMax, stallMsMax } = this.#limits
    const blockedAt = Date.now()
    for (;;) {
      if (this.#end !== null) return false
      if (this.#hasRoom()) return true
      if (this.#live && this.#log.lastSeq() - this.#position > lagEventsMax) {
        this.#fail('ConsumerTooSlow', `more than ${lagEventsMax} events behind`)
        return false
      }
      const waitedMs = Date.now() - blockedAt
      if (waitedMs >= stallMsMax) {
        this.#fail('ConsumerTooSlow', `socket accepted nothing for ${stallMsMax} ms`)
        return false
      }
      await this.#sleep(stallMsMax - waitedMs)
    }
  }

  #send(frame: Uint8Array): void {
    // Frames sent in one tick leave in one writev instead of one syscall each
    // (the syscall, not our code, is what fan-out costs).
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(() => {
        this.#corked = false
        this.#socket.uncork()
      })
    }
    if (this.#ws.readyState !== WS_OPEN) return // closing: 'close' ends the pump
    this.#inflight++
    const wire = wsWire(frame, 'binary')
    this.#socket.write(wire.header)
    this.#socket.write(wire.body, this.#written)
    this.#onSent(this.#ws.bufferedAmount)
  }

  /** One callback for every frame (none made per delivery): the frame left our buffer. */
  readonly #written = (): void => {
    this.#inflight--
    this.#wakeUp()
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

  /** Error frame (sent past the buffer limit: it is one small frame), then close 1008. */
  #fail(name: 'FutureCursor' | 'ConsumerTooSlow', message: string): void {
    if (this.#end !== null) return
    this.#finish(name)
    this.#ws.send(encodeErrorFrame(name, message), { binary: true })
    this.#closeSocket(CLOSE_POLICY, name)
  }

  #closeSocket(code: number, reason: string): void {
    this.#ws.close(code, reason)
    // A peer that does not read will never finish the close handshake.
    const timer = setTimeout(() => this.#ws.terminate(), this.#limits.closeGraceMs)
    timer.unref()
    this.#ws.once('close', () => clearTimeout(timer))
  }

  #finish(end: SubscriberEnd): void {
    if (this.#end === null) this.#end = end
    this.#wakeUp()
  }
}
