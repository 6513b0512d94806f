/**
 * The fuzzer's seeded PRNG (mulberry32: 32-bit state, period 2^32). The same
 * seed gives the same sequence of mutations, so a run can be repeated with
 * `--seed N`. Not for keys.
 */
export type Rng = {
  /** Uniform unsigned 32-bit integer. */
  u32(): number
  /** Uniform integer in [0, n); n >= 1. */
  below(n: number): number
  /** True with probability 1/n. */
  oneIn(n: number): boolean
  pick<T>(items: readonly T[]): T
}

/** mulberry32: uniform unsigned 32-bit integers from a 32-bit seed (also test/helpers/prng.ts's source). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

export function makeRng(seed: number): Rng {
  const u32 = mulberry32(seed)
  const below = (n: number): number => Math.floor((u32() / 0x1_0000_0000) * n)
  return {
    u32,
    below,
    oneIn: (n) => below(n) === 0,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[below(items.length)]!
    },
  }
}
