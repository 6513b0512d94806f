/**
 * Frames: the spec's header bytes, a round trip, an @ipld/dag-cbor cross-check,
 * the cheap seq re-stamp against a full re-encode (seeded), then every
 * malformed frame rejected by name.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { FRAME_BYTES_MAX } from '../../core/limits.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import {
  decodeFrame,
  encodeErrorFrame,
  encodeInfoFrame,
  encodeMessageFrame,
  encodeMessageFrameFromPayload,
} from '../../core/stream/frames.ts'
import { encodeEventFrame } from '../../core/stream/events.ts'
import type { StreamEvent } from '../../core/stream/events.ts'
import { restampSeq } from '../../core/stream/restamp.ts'
import { makeRng } from '../helpers/prng.ts'
import { accountEvent, commitEvent, identityEvent, syncEvent } from './fixtures.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const COMMIT_HEADER = 'a261746723636f6d6d6974626f7001' // a2 61 74 67 23 63 6f 6d 6d 69 74 62 6f 70 01
const ERROR_HEADER = 'a1626f7020' // a1 62 6f 70 20

test('header bytes are exactly the spec bytes', () => {
  assert.equal(hex(encodeEventFrame(commitEvent(1))).slice(0, COMMIT_HEADER.length), COMMIT_HEADER)
  assert.equal(hex(encodeErrorFrame('FutureCursor')).slice(0, ERROR_HEADER.length), ERROR_HEADER)
  assert.equal(hex(encodeErrorFrame('FutureCursor')), ERROR_HEADER + hex(encodeCbor({ error: 'FutureCursor' })))
})

test('frames equal @ipld/dag-cbor header ‖ payload', () => {
  for (const event of [commitEvent(3), syncEvent(4), identityEvent(5), accountEvent(6)] as StreamEvent[]) {
    const frame = encodeEventFrame(event)
    const header = dagCbor.encode({ t: event.t, op: 1 })
    const payload = frame.subarray(header.length)
    assert.equal(hex(frame.subarray(0, header.length)), hex(header))
    assert.equal(hex(dagCbor.encode(dagCbor.decode(payload))), hex(payload))
  }
})

test('round trip: message, error, info, unknown op', () => {
  const frame = encodeMessageFrame('#commit', { seq: 7, x: 'y' })
  assert.deepEqual(decodeFrame(frame), { kind: 'message', t: '#commit', payload: { seq: 7, x: 'y' } })
  assert.deepEqual(decodeFrame(encodeErrorFrame('ConsumerTooSlow', 'bye')), {
    kind: 'error',
    error: 'ConsumerTooSlow',
    message: 'bye',
  })
  assert.deepEqual(decodeFrame(encodeErrorFrame('FutureCursor')), { kind: 'error', error: 'FutureCursor' })
  assert.deepEqual(decodeFrame(encodeInfoFrame('OutdatedCursor', 'm')), {
    kind: 'message',
    t: '#info',
    payload: { name: 'OutdatedCursor', message: 'm' },
  })
  const unknownOp = concat(encodeCbor({ op: 2, t: '#x' }), encodeCbor({ a: 1 }))
  assert.deepEqual(decodeFrame(unknownOp), { kind: 'unknown', op: 2 })
  const unknownT = encodeMessageFrame('#future', { a: 1 })
  assert.deepEqual(decodeFrame(unknownT), { kind: 'message', t: '#future', payload: { a: 1 } })
})

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

test('restampSeq equals a full re-encode with the new seq (seeded)', () => {
  const rng = makeRng(0x5eed)
  const seqs = [1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]
  for (let i = 0; i < 200; i++) {
    const makers = [
      () => commitEvent(1 + rng.int(1000), { blocksBytes: rng.int(3000), seq: rng.pick(seqs) }),
      () => ({ ...syncEvent(1), seq: rng.pick(seqs) }),
      () => ({ ...identityEvent(1, rng.int(2) === 0 ? null : 'bob.test'), seq: rng.pick(seqs) }),
      () => ({ ...accountEvent(1, rng.int(2) === 0), seq: rng.pick(seqs) }),
    ]
    const event = rng.pick(makers)() as StreamEvent
    const seq = rng.pick(seqs)
    const expected = encodeEventFrame({ ...event, seq })
    assert.equal(hex(restampSeq(encodeEventFrame(event), seq)), hex(expected))
  }
})

test('restampSeq rejects frames it cannot walk', () => {
  assert.throws(() => restampSeq(encodeInfoFrame('OutdatedCursor'), 5), { name: 'InvalidFrame' })
  const frame = encodeEventFrame(commitEvent(2))
  assert.throws(() => restampSeq(frame.subarray(0, 40), 5), { name: 'InvalidFrame' })
  assert.throws(() => restampSeq(encodeMessageFrame('#commit', { seq: 'x' }), 5), { name: 'InvalidFrame' })
})

test('malformed frames are InvalidFrame', () => {
  const header = encodeCbor({ t: '#commit', op: 1 })
  const payload = encodeCbor({ seq: 1 })
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['header only', header],
    ['three values', concat(header, payload, encodeCbor({ seq: 2 }))],
    ['one trailing byte', concat(header, payload, new Uint8Array([0x00]))],
    ['truncated payload', concat(header, payload.subarray(0, payload.length - 1))],
    ['header is an array', concat(encodeCbor(['#commit', 1]), payload)],
    ['header without op', concat(encodeCbor({ t: '#commit' }), payload)],
    ['header op is text', concat(encodeCbor({ t: '#commit', op: '1' }), payload)],
    ['message header without t', concat(encodeCbor({ op: 1 }), payload)],
    ['header t is not text', concat(encodeCbor({ t: 5, op: 1 }), payload)],
    ['header keys out of canonical order', concat(new Uint8Array([0xa2, 0x62, 0x6f, 0x70, 0x01, 0x61, 0x74, 0x61, 0x78]), payload)],
    ['header with a float', concat(new Uint8Array([0xa1, 0x62, 0x6f, 0x70, 0xf9, 0x3c, 0x00]), payload)],
    ['payload is an array', concat(header, encodeCbor([1, 2]))],
    ['payload is a CID-free scalar', concat(header, encodeCbor(5))],
    ['payload not canonical (indefinite map)', concat(header, new Uint8Array([0xbf, 0x61, 0x61, 0x01, 0xff]))],
    ['error payload without error', concat(encodeCbor({ op: -1 }), encodeCbor({ message: 'x' }))],
    ['error message not text', concat(encodeCbor({ op: -1 }), encodeCbor({ error: 'X', message: 1 }))],
  ]
  for (const [name, bytes] of cases) {
    assert.throws(() => decodeFrame(bytes), { name: 'InvalidFrame' }, name)
  }
})

test('FRAME_BYTES_MAX is enforced on decode and encode', () => {
  const header = encodeCbor({ t: '#commit', op: 1 })
  const fill = (total: number): Uint8Array => {
    // {b: bytes(n)}: 1 (map) + 2 (key) + 5 (bytes head, n >= 65536) + n
    const n = total - header.length - 8
    return encodeMessageFrameFromPayload('#commit', encodeCbor({ b: new Uint8Array(n) }))
  }
  const atLimit = fill(FRAME_BYTES_MAX)
  assert.equal(atLimit.length, FRAME_BYTES_MAX)
  assert.equal(decodeFrame(atLimit).kind, 'message')
  assert.throws(() => fill(FRAME_BYTES_MAX + 1), { name: 'FrameTooLarge' })
  const over = new Uint8Array(FRAME_BYTES_MAX + 1)
  over.set(atLimit)
  assert.throws(() => decodeFrame(over), { name: 'FrameTooLarge' })
  assert.throws(() => encodeEventFrame(commitEvent(1, { blocksBytes: FRAME_BYTES_MAX })), { name: 'FrameTooLarge' })
})
