/**
 * Re-stamp `seq` in an already-encoded event frame without decoding it: walk
 * the CBOR item heads to the payload's top-level `seq` key and splice in the
 * new integer. Cost is one walk over the heads before `seq` (for #commit the
 * `ops` array comes first in canonical order) plus one copy of the frame;
 * `blocks` (the big part) is never parsed.
 *
 * The result is byte-identical to encoding the same payload with the new
 * seq: the payload map keeps its keys and order (`seq` is a fixed-length key,
 * so its position in canonical order does not depend on its value) and the
 * integer is written in shortest form.
 *
 * Input must be a frame we produced or one that passed `decodeFrame` (this
 * walker trusts canonical form and only guards bounds); anything it cannot
 * walk is `InvalidFrame`.
 */
import { AtfedError } from '../errors.ts'
import { FRAME_BYTES_MAX, STREAM_SEQ_MAX } from '../limits.ts'
import { encodeCbor } from '../data/cbor.ts'

const SEQ_KEY = [0x63, 0x73, 0x65, 0x71] // text(3) "seq"
const MAJOR_UINT = 0
const MAJOR_TEXT = 3
const MAJOR_MAP = 5

function invalid(message: string): AtfedError<'InvalidFrame'> {
  return new AtfedError('InvalidFrame', message)
}

type Head = { major: number; arg: number; next: number }

function readHead(b: Uint8Array, p: number): Head {
  if (p >= b.length) throw invalid('frame ends inside a CBOR item')
  const ib = b[p] as number
  const major = ib >> 5
  const info = ib & 31
  if (info < 24) return { major, arg: info, next: p + 1 }
  if (info > 27) throw invalid('indefinite or reserved CBOR length in frame')
  const size = 1 << (info - 24) // 1, 2, 4 or 8 bytes
  if (p + 1 + size > b.length) throw invalid('frame ends inside a CBOR head')
  let arg = 0
  for (let i = 1; i <= size; i++) arg = arg * 256 + (b[p + i] as number)
  return { major, arg, next: p + 1 + size }
}

/** Offset just past the item at `p` (containers included). */
function skipItem(b: Uint8Array, p: number): number {
  let pending = 1
  while (pending > 0) {
    pending--
    const h = readHead(b, p)
    p = h.next
    if (h.major === 2 || h.major === MAJOR_TEXT) p += h.arg
    else if (h.major === 4) pending += h.arg
    else if (h.major === MAJOR_MAP) pending += 2 * h.arg
    else if (h.major === 6) pending += 1
    // Every pending item needs at least one byte: this also bounds the loop.
    if (p > b.length || pending > b.length - p) throw invalid('frame ends inside a CBOR item')
  }
  return p
}

function isSeqKey(b: Uint8Array, p: number): boolean {
  return b[p] === SEQ_KEY[0] && b[p + 1] === SEQ_KEY[1] && b[p + 2] === SEQ_KEY[2] && b[p + 3] === SEQ_KEY[3]
}

/** A copy of `frame` whose payload `seq` is `seq`. Throws `InvalidFrame` if the payload has no integer seq. */
export function restampSeq(frame: Uint8Array, seq: number): Uint8Array {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > STREAM_SEQ_MAX) throw new RangeError(`bad seq ${seq}`)
  const payloadStart = skipItem(frame, 0)
  const map = readHead(frame, payloadStart)
  if (map.major !== MAJOR_MAP) throw invalid('frame payload is not a map')
  let p = map.next
  for (let i = 0; i < map.arg; i++) {
    const keyStart = p
    const key = readHead(frame, p)
    if (key.major !== MAJOR_TEXT) throw invalid('frame payload has a non-text key')
    p = key.next + key.arg
    const valueEnd = skipItem(frame, p)
    if (isSeqKey(frame, keyStart) && key.arg === 3) {
      if (readHead(frame, p).major !== MAJOR_UINT) throw invalid('frame payload seq is not an unsigned integer')
      const value = encodeCbor(seq)
      const length = frame.length - (valueEnd - p) + value.length
      if (length > FRAME_BYTES_MAX) throw new AtfedError('FrameTooLarge', `re-stamped frame is ${length} bytes`)
      const out = new Uint8Array(length)
      out.set(frame.subarray(0, p), 0)
      out.set(value, p)
      out.set(frame.subarray(valueEnd), p + value.length)
      return out
    }
    p = valueEnd
  }
  throw invalid('frame payload has no seq')
}
