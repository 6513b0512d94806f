/**
 * A fuzz target with a planted bug behind a 4-byte magic compared one byte
 * at a time ("FUZZ"): blind mutation of the seed needs ~2^32 tries to hit
 * it, a coverage-guided fuzzer keeps each input that gets one byte further
 * (a new block) and climbs.
 */
import { AtfedError } from '../../core/errors.ts'
import type { FuzzTarget } from '../../fuzz/engine/target.ts'

export const target: FuzzTarget = {
  name: 'planted',
  expectedErrors: ['TooShort'],
  coverageDirs: ['test/fuzz/planted-target.ts'],
  seeds: () => [new TextEncoder().encode('seed')],
  run(bytes) {
    if (bytes.length < 4) throw new AtfedError('TooShort', 'need 4 bytes')
    if (bytes[0] === 0x46) {
      if (bytes[1] === 0x55) {
        if (bytes[2] === 0x5a) {
          if (bytes[3] === 0x5a) throw new TypeError('planted bug reached')
        }
      }
    }
  },
}
