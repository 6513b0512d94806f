/**
 * A tiny seeded PRNG for property tests (mulberry32: 32-bit state, period
 * 2^32, good enough to drive test inputs; NOT for keys). The same seed always
 * gives the same sequence, so a failing case can be replayed from its seed.
 */
export type Rng = {
  /** Uniform float in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
  pick<T>(arr: readonly T[]): T
  bytes(n: number): Uint8Array
}

export function makeRng(seed: number): Rng {
  let state = seed >>> 0
  const nextU32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
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
