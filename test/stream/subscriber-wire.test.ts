/**
 * The subscriber (and the Jetstream connection) write messages to the
 * socket themselves (subscriber.ts wsWire): the WebSocket header of an
 * unmasked message must be byte-identical to the one `ws` would have made,
 * at every length boundary of RFC 6455 §5.2, binary and text.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRequire } from 'node:module'
import { wsMessageHeader, wsWire } from '../../core/stream/paced-socket.ts'

type WsFrame = (data: Buffer, options: object) => Buffer[]

/** ws's own framing (its Sender is not in its type declarations). */
const { Sender } = createRequire(import.meta.url)('ws') as { Sender: { frame: WsFrame } }

test('wsMessageHeader equals ws framing at each length boundary, binary and text', () => {
  const frame = Sender.frame.bind(Sender)
  for (const [kind, opcode] of [['binary', 2], ['text', 1]] as const) {
    for (const length of [0, 1, 125, 126, 127, 4_200, 65_535, 65_536, 70_000, 5_000_000]) {
      const [wsHeader] = frame(Buffer.alloc(length), { fin: true, opcode, mask: false, readOnly: true, rsv1: false })
      assert.deepEqual(wsMessageHeader(kind, length), wsHeader, `${kind} length ${length}`)
    }
  }
})

test('wsWire: one wire form per payload and kind, a view of the same bytes', () => {
  const payload = new Uint8Array(300).fill(7)
  const wire = wsWire(payload, 'binary')
  assert.equal(wsWire(payload, 'binary'), wire, 'cached')
  assert.notEqual(wsWire(payload, 'text').header, wire.header)
  assert.equal(wire.body.buffer, payload.buffer, 'no copy')
  assert.deepEqual(wire.header, Buffer.from([0x82, 126, 1, 44]))
})
