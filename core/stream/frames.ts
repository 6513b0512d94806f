/**
 * Event-stream frames (subscribeRepos, subscribeLabels): one WebSocket binary
 * message is exactly two DAG-CBOR values back to back, a header and a payload.
 *
 *   message: {t: '#commit', op: 1}  ‖ payload map
 *   error:   {op: -1}               ‖ {error: name, message?: text}
 *
 * The header bytes are fixed by canonical CBOR (`t` sorts before `op`):
 * `a2 61 74 67 23 63 6f 6d 6d 69 74 62 6f 70 01` for #commit and
 * `a1 62 6f 70 20` for an error.
 *
 * Decoding is strict: both values go through the strict decoder
 * (`decodeCborFirst` for the header, which reports where it ends; `decodeCbor`
 * for the payload, which rejects anything after it, so a third value is an
 * error). Every failure is `InvalidFrame` (the CBOR error is the `cause`);
 * a message over FRAME_BYTES_MAX is `FrameTooLarge`, checked before any
 * decoding and also on encode, so we never send what we would refuse.
 *
 * Unknown `op` values and unknown `t` values are not errors here: the spec
 * says consumers ignore them, so they decode to `kind: 'unknown'` / a message
 * with that `t`, and the event layer skips them.
 */
import { AtfedError } from '../errors.ts'
import { FRAME_BYTES_MAX } from '../limits.ts'
import { decodeCbor, decodeCborFirst, encodeCbor } from '../data/cbor.ts'
import type { LexMap, LexValue } from '../data/cbor.ts'

export const OP_MESSAGE = 1
export const OP_ERROR = -1

export type DecodedFrame =
  | { kind: 'message'; t: string; payload: LexMap }
  | { kind: 'error'; error: string; message?: string }
  | { kind: 'unknown'; op: number }

function invalidFrame(message: string, cause?: unknown): AtfedError<'InvalidFrame'> {
  return new AtfedError('InvalidFrame', message, cause === undefined ? undefined : { cause })
}

function checkFrameSize(bytes: number): void {
  if (bytes > FRAME_BYTES_MAX) {
    throw new AtfedError('FrameTooLarge', `frame is ${bytes} bytes, over the ${FRAME_BYTES_MAX}-byte limit`)
  }
}

function concat(header: Uint8Array, payload: Uint8Array): Uint8Array {
  checkFrameSize(header.length + payload.length)
  const out = new Uint8Array(header.length + payload.length)
  out.set(header, 0)
  out.set(payload, header.length)
  return out
}

const headerCache = new Map<string, Uint8Array>()

/** Header bytes for a message of type `t`; cached (there are a handful of types). */
function messageHeader(t: string): Uint8Array {
  let bytes = headerCache.get(t)
  if (bytes === undefined) {
    bytes = encodeCbor({ t, op: OP_MESSAGE })
    if (headerCache.size < 64) headerCache.set(t, bytes)
  }
  return bytes
}

const ERROR_HEADER = encodeCbor({ op: OP_ERROR })

/** A message frame: header `{t, op: 1}` + `payload` (a plain map, no `$type`). Throws `FrameTooLarge`. */
export function encodeMessageFrame(t: string, payload: LexMap | Record<string, unknown>): Uint8Array {
  return concat(messageHeader(t), encodeCbor(payload))
}

/** A frame from a header and already-encoded payload bytes (no re-encoding). Throws `FrameTooLarge`. */
export function encodeMessageFrameFromPayload(t: string, payloadBytes: Uint8Array): Uint8Array {
  return concat(messageHeader(t), payloadBytes)
}

/** An error frame `{op: -1}` + `{error, message?}`; the stream is closed after it. */
export function encodeErrorFrame(error: string, message?: string): Uint8Array {
  return concat(ERROR_HEADER, encodeCbor(message === undefined ? { error } : { error, message }))
}

/** An `#info` message (no seq), e.g. `OutdatedCursor`. */
export function encodeInfoFrame(name: string, message?: string): Uint8Array {
  return encodeMessageFrame('#info', message === undefined ? { name } : { name, message })
}

/** A decoded CBOR map (the decoder builds plain objects; arrays, bytes and CIDs are not maps). */
export function isMap(value: LexValue | undefined): value is LexMap {
  if (value === null || typeof value !== 'object') return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Where the header ends, after checking its shape; throws `InvalidFrame`. */
function decodeHeader(frame: Uint8Array): { op: number; t: string | undefined; end: number } {
  let header: LexValue
  let end: number
  try {
    ;({ value: header, end } = decodeCborFirst(frame))
  } catch (err) {
    throw invalidFrame('frame header is not valid DAG-CBOR', err)
  }
  if (!isMap(header)) throw invalidFrame('frame header must be a map')
  const { op, t } = header
  if (typeof op !== 'number') throw invalidFrame('frame header needs an integer `op`')
  if (t !== undefined && typeof t !== 'string') throw invalidFrame('frame header `t` must be a string')
  if (op === OP_MESSAGE && t === undefined) throw invalidFrame('message header needs `t`')
  return { op, t, end }
}

/** Decode one frame. Throws `FrameTooLarge` or `InvalidFrame`. */
export function decodeFrame(frame: Uint8Array): DecodedFrame {
  checkFrameSize(frame.length)
  const { op, t, end } = decodeHeader(frame)
  if (end === frame.length) throw invalidFrame('frame has a header but no payload')
  let payload: LexValue
  try {
    payload = decodeCbor(frame.subarray(end))
  } catch (err) {
    throw invalidFrame('frame payload is not exactly one valid DAG-CBOR value', err)
  }
  if (!isMap(payload)) throw invalidFrame('frame payload must be a map')
  const body = payload
  if (op === OP_MESSAGE) return { kind: 'message', t: t as string, payload: body }
  if (op !== OP_ERROR) return { kind: 'unknown', op }
  const { error, message } = body
  if (typeof error !== 'string') throw invalidFrame('error payload needs a string `error`')
  if (message !== undefined && typeof message !== 'string') throw invalidFrame('error `message` must be a string')
  return message === undefined ? { kind: 'error', error } : { kind: 'error', error, message }
}
