/**
 * What a fuzz target is: one of our real parsers behind `(bytes) => void`,
 * the error names it is documented to throw on bad input, where its code
 * lives (for coverage), and real inputs to start from.
 *
 * A run is a CRASH when `run` throws anything that is not an `AtfedError`
 * with one of `expectedErrors` (a TypeError, a RangeError, an AssertionError,
 * an AtfedError with another name), when one input takes longer than the
 * per-input time cap, or when the thread runs out of memory. A target may
 * also throw a plain Error itself for a broken invariant (e.g. a forged JWT
 * accepted).
 */
import type { Rng } from './rng.ts'

export type FuzzTarget = {
  name: string
  /** AtfedError names `run` may throw for bad input; anything else is a crash. */
  expectedErrors: readonly string[]
  /** Source directories (relative to the repository root) whose coverage guides the search. */
  coverageDirs: readonly string[]
  /** Real, valid inputs (and a few near-misses) to start from. */
  seeds(): Uint8Array[] | Promise<Uint8Array[]>
  /** Tokens worth inserting (field names, literals, magic bytes). */
  dictionary?: readonly Uint8Array[]
  /** Apply the CBOR-aware mutations too. */
  cbor?: boolean
  /** Apply the JSON-aware mutations too (inputs are JSON text). */
  json?: boolean
  /** A structure-aware edit of the target's own (e.g. a JWT claim changed and re-encoded). */
  customEdit?: (input: Uint8Array, rng: Rng) => Uint8Array
  /** Largest input worth trying (default 64 KiB). */
  maxBytes?: number
  run(bytes: Uint8Array): void | Promise<void>
}

const utf8 = new TextEncoder()

/** Dictionary helper: strings as UTF-8 bytes. */
export function tokens(...words: string[]): Uint8Array[] {
  return words.map((w) => utf8.encode(w))
}
