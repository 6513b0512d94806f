/**
 * Seeded random data-model values for the CBOR property and differential
 * tests. Biased towards the places where encoders go wrong: integers at
 * head-size boundaries, strings around the 23/24, 255/256 byte and JS/TextEncoder
 * thresholds, non-ASCII keys whose UTF-8 order differs from UTF-16 order,
 * keys of equal length, and CIDs that are not "blessed" (other hash, CIDv0,
 * identity multihash).
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { Rng } from '../helpers/prng.ts'
import type { LexValue } from '../../core/data/cbor.ts'

const INT_EDGES = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]
const LENGTH_EDGES = [0, 1, 16, 17, 23, 24, 64, 65, 255, 256, 300]

// Code point ranges: ASCII, Latin-1, BMP below the surrogates, U+E000-FFFD (sorts
// differently in UTF-16), astral (surrogate pairs), and the BOM.
const CODE_POINT_RANGES: readonly (readonly [number, number])[] = [
  [0x20, 0x7e],
  [0x00, 0x1f],
  [0x80, 0x7ff],
  [0x800, 0xd7ff],
  [0xe000, 0xfffd],
  [0x10000, 0x10ffff],
  [0xfeff, 0xfeff],
]

export function randomInt(rng: Rng): number {
  const magnitude =
    rng.next() < 0.5 ? rng.pick(INT_EDGES) + rng.int(3) - 1 : Math.floor(rng.next() * 2 ** (1 + rng.int(53)))
  const n = Math.min(Math.max(magnitude, 0), Number.MAX_SAFE_INTEGER)
  return rng.next() < 0.5 ? n : n === 0 ? 0 : -n
}

export function randomString(rng: Rng, opts: { lengthMax?: number } = {}): string {
  const ascii = rng.next() < 0.6
  const length = Math.min(rng.next() < 0.5 ? rng.pick(LENGTH_EDGES) : rng.int(40), opts.lengthMax ?? Infinity)
  let s = ''
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ascii ? CODE_POINT_RANGES[0]! : rng.pick(CODE_POINT_RANGES)
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1))
  }
  return s
}

export function randomCid(rng: Rng): CID {
  const kind = rng.int(10)
  const digest = new Uint8Array(createHash('sha256').update(rng.bytes(8)).digest())
  if (kind < 6) return CID.createV1(rng.pick([0x71, 0x55]), Digest.create(0x12, digest))
  if (kind === 6) return CID.createV0(Digest.create(0x12, digest))
  if (kind === 7) return CID.createV1(0x71, Digest.create(0x13, new Uint8Array(createHash('sha512').update(digest).digest())))
  if (kind === 8) return CID.createV1(0x55, Digest.create(0x00, rng.bytes(rng.int(40))))
  return CID.createV1(0x70, Digest.create(0x12, digest)) // dag-pb codec
}

/** A random value; `depth` limits nesting (containers stop at depth 0). */
export function randomValue(rng: Rng, depth: number): LexValue {
  const roll = rng.int(depth > 0 ? 10 : 7)
  switch (roll) {
    case 0:
      return rng.pick([null, true, false])
    case 1:
    case 2:
      return randomInt(rng)
    case 3:
    case 4:
      return randomString(rng)
    case 5:
      return rng.bytes(rng.next() < 0.5 ? rng.pick(LENGTH_EDGES) : rng.int(40))
    case 6:
      return randomCid(rng)
    case 7: {
      const n = rng.int(6)
      return Array.from({ length: n }, () => randomValue(rng, depth - 1))
    }
    default: {
      const out: { [key: string]: LexValue } = {}
      const n = rng.int(8)
      for (let i = 0; i < n; i++) {
        const key = rng.next() < 0.3 ? rng.pick(['a', 'b', 'e', 'l', 't', 'op', 'did', 'data', '$type', 'é', '\u{1F600}', '\uE000', 'ab', 'ba']) : randomString(rng, { lengthMax: 12 })
        out[key] = randomValue(rng, depth - 1)
      }
      return out
    }
  }
}
