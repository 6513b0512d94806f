/**
 * A fuzz target whose seeds misbehave on purpose, for the engine's watchdog
 * tests: "slow" busy-waits 300 ms, "hang" never returns, "oom" fills the
 * heap. Every other input is fine.
 */
import type { FuzzTarget } from '../../fuzz/engine/target.ts'

const text = new TextDecoder()

export const target: FuzzTarget = {
  name: 'watchdog',
  expectedErrors: [],
  coverageDirs: ['test/fuzz/watchdog-target.ts'],
  seeds: () => (process.env['ATFED_WATCHDOG_SEEDS'] ?? 'ok,slow,hang').split(',').map((s) => new TextEncoder().encode(s)),
  run(bytes) {
    const input = text.decode(bytes)
    if (input === 'slow') {
      const until = Date.now() + 300
      while (Date.now() < until) {
        // busy: a slow parser
      }
    } else if (input === 'hang') {
      for (;;) {
        // an endless loop
      }
    } else if (input === 'oom') {
      const hoard: number[][] = []
      for (;;) hoard.push(new Array(1 << 16).fill(hoard.length))
    }
  },
}
