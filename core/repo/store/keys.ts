/**
 * Key layout of the block store. Inside its sublevel, a block's key is
 *
 *   DID (ASCII) ‖ 0x00 ‖ binary CID (36 bytes)
 *
 * and a repo head's key is the DID alone (in a second sublevel). A DID never
 * contains 0x00, so the range [DID ‖ 0x00, DID ‖ 0x01) holds exactly one
 * repo's blocks, whatever other DIDs share its prefix (`did:plc:abc` and
 * `did:plc:abcd` do not overlap). Export is one range scan; deleting an
 * account is one range delete. LevelDB prefix-compresses keys on disk, so
 * repeating the DID in every key costs little space.
 *
 * The store reads and writes through the root db with the sublevel's prefix
 * already in place (`rootKeyPrefix`), which is byte for byte the key the
 * sublevel would have written: the layout on disk is the sublevel layout,
 * and code that opens the sublevel itself (pds/repo/record-refs.ts uses the
 * same per-DID keys in its own sublevel) is unaffected.
 */
import { assert } from '../../errors.ts'
import { CID_BINARY_BYTES } from '../../data/cid.ts'
import type { CID } from '../../data/cid.ts'
import { cidFromBytes } from '../mst/cid-bytes.ts'
import type { Did } from '../../syntax/did.ts'

const SEPARATOR = 0x00
const encoder = new TextEncoder()

export type RepoKeyRange = { gte: Uint8Array; lt: Uint8Array }

export function didKey(did: Did): Uint8Array {
  return encoder.encode(did)
}

/** DID ‖ 0x00: the prefix shared by all of one repo's block keys. */
export function blockKeyPrefix(did: Did): Uint8Array {
  return withDid(new Uint8Array(0), did, true)
}

/**
 * `root` ‖ DID, and ‖ 0x00 when `separated`: a head key (false) or a block
 * key prefix (true) as the root db sees it, `root` being the sublevel prefix.
 */
export function withDid(root: Uint8Array, did: Did, separated: boolean): Uint8Array {
  const key = new Uint8Array(root.length + did.length * 3 + (separated ? 1 : 0))
  key.set(root, 0)
  const { written } = encoder.encodeInto(did, key.subarray(root.length))
  const end = root.length + written
  if (!separated) return key.slice(0, end)
  key[end] = SEPARATOR
  return key.slice(0, end + 1)
}

/** The bytes of a sublevel prefix string (`!repo!!blocks!`), for keys on the root db. */
export function rootKeyPrefix(sublevelPrefix: string): Uint8Array {
  return encoder.encode(sublevelPrefix)
}

/** Keys cut from one buffer: the first holds this many, each next one twice as many, up to the max. */
const KEYS_PER_BUFFER_MIN = 16
const KEYS_PER_BUFFER_MAX = 1_024

/**
 * Block keys of one repo for a batch, cut from shared buffers (a small
 * Uint8Array each costs an off-heap allocation). A key is never written to
 * again once returned (LevelDB copies keys into its batch; a buffer is
 * dropped when its last key is).
 */
export class BlockKeys {
  readonly #prefix: Uint8Array
  readonly #keyBytes: number
  #buffer = new Uint8Array(0)
  #used = 0
  #perBuffer = KEYS_PER_BUFFER_MIN

  constructor(prefix: Uint8Array) {
    this.#prefix = prefix
    this.#keyBytes = prefix.length + CID_BINARY_BYTES
  }

  key(cid: CID): Uint8Array {
    const bytes = cid.bytes
    assert(bytes.length === CID_BINARY_BYTES, 'stored blocks must have 36-byte CIDs')
    if (this.#used + this.#keyBytes > this.#buffer.length) {
      this.#buffer = new Uint8Array(this.#keyBytes * this.#perBuffer)
      this.#perBuffer = Math.min(this.#perBuffer * 2, KEYS_PER_BUFFER_MAX)
      this.#used = 0
    }
    const key = this.#buffer.subarray(this.#used, this.#used + this.#keyBytes)
    this.#used += this.#keyBytes
    key.set(this.#prefix, 0)
    key.set(bytes, this.#prefix.length)
    return key
  }
}

/**
 * One scratch key rewritten for every lookup, for synchronous point reads
 * only: the key must not be kept past the call it is passed to.
 */
export function scratchBlockKey(prefix: Uint8Array): (cid: CID) => Uint8Array {
  const key = new Uint8Array(prefix.length + CID_BINARY_BYTES)
  key.set(prefix, 0)
  return (cid) => {
    const bytes = cid.bytes
    assert(bytes.length === CID_BINARY_BYTES, 'stored blocks must have 36-byte CIDs')
    key.set(bytes, prefix.length)
    return key
  }
}

export function blockKey(prefix: Uint8Array, cid: CID): Uint8Array {
  const bytes = cid.bytes
  assert(bytes.length === CID_BINARY_BYTES, 'stored blocks must have 36-byte CIDs')
  const key = new Uint8Array(prefix.length + CID_BINARY_BYTES)
  key.set(prefix, 0)
  key.set(bytes, prefix.length)
  return key
}

/** Every key that starts with `prefix` (whose last byte is a separator: 0x00, or a sublevel's '!'). */
export function blockKeyRange(prefix: Uint8Array): RepoKeyRange {
  const lt = Uint8Array.from(prefix)
  lt[lt.length - 1] = lt[lt.length - 1]! + 1
  return { gte: prefix, lt }
}

export function cidFromBlockKey(prefix: Uint8Array, key: Uint8Array): CID {
  assert(key.length === prefix.length + CID_BINARY_BYTES, 'block key has the wrong length')
  return cidFromBytes(key.subarray(prefix.length))
}
