/**
 * Where repo code reads blocks from, and the in-memory block map used for
 * firehose CARs, proofs and the new blocks of a commit.
 *
 * `BlockReader` is synchronous on purpose: LevelDB has `getSync`, the relay
 * works from the blocks of one in-memory frame, and the MST decodes nodes on
 * its hot path. Contract: `get(cid)` returns bytes that hash to `cid` (or
 * undefined). Readers over untrusted data check that when they take the
 * blocks in (the CAR parser re-hashes every block); the MST does not re-hash.
 *
 * `MemoryBlockMap` keys its map by the CID's binary form (a 36-byte latin1
 * string for blessed CIDs), which is cheaper than base32 text.
 */
import type { CID } from '../data/cid.ts'

export interface BlockReader {
  get(cid: CID): Uint8Array | undefined
}

type Slot = { cid: CID; bytes: Uint8Array }

/** Map key for a CID: its binary bytes, one char per byte. */
export function cidKey(cid: CID): string {
  return binaryKey(cid.bytes)
}

/** One char per byte (latin1). */
export function binaryKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
}

export class MemoryBlockMap implements BlockReader {
  private readonly map = new Map<string, Slot>()
  private bytesTotal = 0

  get(cid: CID): Uint8Array | undefined {
    return this.map.get(cidKey(cid))?.bytes
  }

  has(cid: CID): boolean {
    return this.map.has(cidKey(cid))
  }

  /** Adds or replaces the block for `cid`; the caller vouches that bytes hash to cid. */
  set(cid: CID, bytes: Uint8Array): this {
    const key = cidKey(cid)
    const old = this.map.get(key)
    if (old !== undefined) this.bytesTotal -= old.bytes.length
    this.map.set(key, { cid, bytes })
    this.bytesTotal += bytes.length
    return this
  }

  delete(cid: CID): boolean {
    const key = cidKey(cid)
    const old = this.map.get(key)
    if (old === undefined) return false
    this.bytesTotal -= old.bytes.length
    return this.map.delete(key)
  }

  /** Copies every block of `other` into this map. */
  addAll(other: MemoryBlockMap): this {
    for (const [key, slot] of other.map) {
      const old = this.map.get(key)
      if (old !== undefined) this.bytesTotal -= old.bytes.length
      this.map.set(key, slot) // slots are never mutated: sharing one is safe, and the key is not rebuilt
      this.bytesTotal += slot.bytes.length
    }
    return this
  }

  *entries(): Generator<[CID, Uint8Array], void, undefined> {
    for (const slot of this.map.values()) yield [slot.cid, slot.bytes]
  }

  *cids(): Generator<CID, void, undefined> {
    for (const slot of this.map.values()) yield slot.cid
  }

  [Symbol.iterator](): Generator<[CID, Uint8Array], void, undefined> {
    return this.entries()
  }

  get size(): number {
    return this.map.size
  }

  /** Sum of the block byte lengths (not counting CIDs). */
  get byteLength(): number {
    return this.bytesTotal
  }
}
