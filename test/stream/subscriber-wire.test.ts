/**
 * The subscriber writes frames to the socket itself (subscriber.ts): its
 * WebSocket header for an unmasked binary message must be byte-identical to
 * the one `ws` would have made, at every length boundary of RFC 6455 §5.2.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRequire } from 'node:module'
import { binaryFrameHeader } from '../../core/stream/subscriber.ts'

type WsFrame = (data: Buffer, options: object) => Buffer[]

/** ws's own framing (its Sender is not in its type declarations). */
const { Sender } = createRequire(import.meta.url)('ws') as { Sender: { frame: WsFrame } }

test('binaryFrameHeader equals ws framing at each length boundary', () => {
  const frame = Sender.frame.bind(Sender)
  for (const length of [0, 1, 125, 126, 127, 4_200, 65_535, 65_536, 70_000, 5_000_000]) {
    const [wsHeader] = frame(Buffer.alloc(length), { fin: true, opcode: 2, mask: false, readOnly: true, rsv1: false })
    assert.deepEqual(binaryFrameHeader(length), wsHeader, `length ${length}`)
  }
})
