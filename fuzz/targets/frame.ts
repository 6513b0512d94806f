/**
 * Fuzz target: firehose frame decoding and event validation
 * (core/stream/event-parse.ts `parseFrame`, which runs `decodeFrame`), as the
 * relay and every consumer apply it to each WebSocket message. Documented
 * errors: FrameTooLarge, InvalidFrame (fatal to a connection), InvalidEvent
 * (one bad event).
 */
import { parseFrame } from '../../core/stream/event-parse.ts'
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
    parseFrame(bytes)
  },
}
