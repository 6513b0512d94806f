/**
 * The sending side of one streaming WebSocket connection, shared by the
 * firehose subscriber (subscriber.ts) and the relay's Jetstream connection:
 * bounded buffering, pre-framed writes, the wait-for-room loop with its stall
 * limit, keepalive pings, and how a connection ends.
 *
 * The owner runs a pump that asks `hasRoom()` before each message and, when
 * there is none, awaits `waitForRoom(lagging)`; it sleeps with `sleep()` when
 * it has nothing to send and is woken by `wakeUp()` (the owner's log
 * notification), by each write leaving our buffer, or by the end.
 *
 * Messages go to the TCP socket already framed, not through `ws.send`: an
 * unmasked server-to-client message is the same bytes for every connection,
 * so each payload's 2–10-byte WebSocket header (and a `Buffer` view of its
 * bytes, which the socket would otherwise make per write) is built once and
 * shared (`wsWire`: a WeakMap keyed by the payload object every connection
 * is handed), and a delivery costs two buffered writes of shared bytes and
 * no allocation of its own. Only while the WebSocket is OPEN (never after our
 * close frame); `ws` still sends pings, error frames and the close on the
 * same socket in order, and its `bufferedAmount` counts our writes too.
 */
import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'

export type PacedSocketLimits = {
  /** Stop sending while the socket holds this many unsent bytes. */
  sendBufferBytesMax: number
  /** ...or this many messages not yet flushed. */
  sendQueueMessagesMax: number
  /** While blocked: end as too slow once the socket accepted nothing for this long. */
  stallMsMax: number
  /** After our close frame: terminate a peer that has not completed the close within this. */
  closeGraceMs: number
}

/** How every connection can end, whatever else its owner adds. */
export type BaseEnd = 'closed' | 'ServerShutdown'

const WS_OPEN = 1
const FIN = 0x80
const OPCODE = { text: 0x1, binary: 0x2 } as const
const CLOSE_GOING_AWAY = 1001

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

/** The wire form of `payload` as one server-to-client message, shared by every sender of the same payload object. */
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

export class PacedSocket<End extends string> {
  readonly #ws: WebSocket
  /** The upgraded TCP socket under `ws`, corked while a burst is sent. */
  readonly #socket: Duplex
  readonly #limits: PacedSocketLimits
  readonly #onSent: (bufferedBytes: number) => void
  #corked = false
  #inflight = 0
  #end: End | BaseEnd | null = null
  #wake: (() => void) | null = null
  #missedPings = 0
  /** Resolves when the socket is closed (cleanly or not). */
  readonly closed: Promise<void>

  constructor(
    ws: WebSocket,
    options: { socket: Duplex; limits: PacedSocketLimits; onSent: (bufferedBytes: number) => void },
  ) {
    this.#ws = ws
    this.#socket = options.socket
    this.#limits = options.limits
    this.#onSent = options.onSent
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    ws.on('close', () => this.finish('closed'))
    ws.on('pong', () => (this.#missedPings = 0))
    ws.on('error', () => {}) // 'close' follows
  }

  get end(): End | BaseEnd | null {
    return this.#end
  }

  /** The common case, without a promise per message. */
  hasRoom(): boolean {
    const limits = this.#limits
    return this.#end === null && this.#ws.bufferedAmount < limits.sendBufferBytesMax && this.#inflight < limits.sendQueueMessagesMax
  }

  /**
   * Wait until the socket can take another message: 'room'; 'ended' when the
   * connection ended meanwhile; or why the peer is too slow — `lagging()`
   * names the owner's own lag limit, the stall limit is checked here.
   */
  async waitForRoom(lagging: () => string | null): Promise<'room' | 'ended' | { tooSlow: string }> {
    const { stallMsMax } = this.#limits
    const blockedAt = Date.now()
    for (;;) {
      if (this.#end !== null) return 'ended'
      if (this.hasRoom()) return 'room'
      const lag = lagging()
      if (lag !== null) return { tooSlow: lag }
      const waitedMs = Date.now() - blockedAt
      if (waitedMs >= stallMsMax) return { tooSlow: `socket accepted nothing for ${stallMsMax} ms` }
      await this.sleep(stallMsMax - waitedMs)
    }
  }

  /** Write one message; false when the WebSocket is no longer open (its 'close' ends the connection). */
  send(payload: Uint8Array, kind: 'text' | 'binary'): boolean {
    // Messages sent in one tick leave in one writev instead of one syscall each
    // (the syscall, not our code, is what fan-out costs).
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(() => {
        this.#corked = false
        this.#socket.uncork()
      })
    }
    if (this.#ws.readyState !== WS_OPEN) return false
    this.#inflight++
    const wire = wsWire(payload, kind)
    this.#socket.write(wire.header)
    this.#socket.write(wire.body, this.#written)
    this.#onSent(this.#ws.bufferedAmount)
    return true
  }

  /** One callback for every message (none made per delivery): it left our buffer. */
  readonly #written = (): void => {
    this.#inflight--
    this.wakeUp()
  }

  /** Until `wakeUp()` (or `ms` elapse; null: no timeout). */
  sleep(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === null ? null : setTimeout(() => this.wakeUp(), ms)
      this.#wake = () => {
        if (timer !== null) clearTimeout(timer)
        resolve()
      }
    })
  }

  wakeUp(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
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
    this.finish('ServerShutdown')
    this.closeSocket(CLOSE_GOING_AWAY, 'ServerShutdown')
  }

  closeSocket(code: number, reason: string): void {
    this.#ws.close(code, reason)
    // A peer that does not read will never finish the close handshake.
    const timer = setTimeout(() => this.#ws.terminate(), this.#limits.closeGraceMs)
    timer.unref()
    this.#ws.once('close', () => clearTimeout(timer))
  }

  /** Record how the connection ended (the first reason wins) and wake the pump so it stops. */
  finish(end: End | BaseEnd): void {
    if (this.#end === null) this.#end = end
    this.wakeUp()
  }
}
