/**
 * Fuzz target: firehose frame decoding and event validation
 * (core/stream/event-parse.ts `parseFrame`, which runs `decodeFrame`), as the
 * relay and every consumer apply it to each WebSocket message. Documented
 * errors: FrameTooLarge, InvalidFrame (fatal to a connection), InvalidEvent
 * (one bad event).
 *
 * Invariant on every event frame it accepts: `restampSeq` (the relay's
 * re-sequencing without a decode, core/stream/restamp.ts) gives exactly the
 * bytes of encoding the decoded payload with the new seq.
 */
import { parseFrame } from '../../core/stream/event-parse.ts'
import { decodeFrame, encodeMessageFrame } from '../../core/stream/frames.ts'
import { restampSeq } from '../../core/stream/restamp.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { tokens } from '../engine/target.ts'
import { repoSeeds } from '../seeds/repo.ts'

export const target: FuzzTarget = {
  name: 'frame',
  expectedErrors: ['FrameTooLarge', 'InvalidFrame', 'InvalidEvent'],
  coverageDirs: ['core/stream/', 'core/data/', 'core/syntax/'],
  cbor: true,
  maxBytes: 16 * 1024,
  seeds: () => repoSeeds().frames,
  dictionary: tokens('#commit', '#sync', '#identity', '#account', '#info', 'ops', 'prev', 'rebase', 'tooBig', 'prevData', 'since', 'blocks', 'did:plc:', 'create', 'update', 'delete', 'takendown', 'active', 'status', 'handle', 'action', 'path'),
  run(bytes) {
    const parsed = parseFrame(bytes)
    if (parsed.kind !== 'message' || !('seq' in parsed.message)) return
    const frame = decodeFrame(bytes)
    if (frame.kind !== 'message') throw new Error('parseFrame and decodeFrame disagree on the frame kind')
    const seq = parsed.message.seq === 424_242 ? 424_243 : 424_242
    const expected = encodeMessageFrame(frame.t, { ...frame.payload, seq })
    if (Buffer.compare(restampSeq(bytes, seq), expected) !== 0) throw new Error('restampSeq differs from re-encoding the payload with the new seq')
  },
}
