/**
 * A tiny seeded PRNG for property tests (mulberry32: 32-bit state, period
 * 2^32, good enough to drive test inputs; NOT for keys). The same seed always
 * gives the same sequence, so a failing case can be replayed from its seed.
 */
import { mulberry32 } from '../../fuzz/engine/rng.ts'

export type Rng = {
  /** Uniform float in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
  pick<T>(arr: readonly T[]): T
  bytes(n: number): Uint8Array
}

export function makeRng(seed: number): Rng {
  const nextU32 = mulberry32(seed)
  const next = (): number => nextU32() / 0x1_0000_0000
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`)
    return Math.floor(next() * n)
  }
  return {
    next,
    int,
    pick<T>(arr: readonly T[]): T {
      if (arr.length === 0) throw new RangeError('pick from an empty array')
      return arr[int(arr.length)]!
    },
    bytes(n: number): Uint8Array {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = nextU32() & 0xff
      return out
    },
  }
}
