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
 */
import { assert } from '../../errors.ts'
import { CID, CID_BINARY_BYTES } from '../../data/cid.ts'
import type { Did } from '../../syntax/did.ts'

const SEPARATOR = 0x00
const encoder = new TextEncoder()

export type RepoKeyRange = { gte: Uint8Array; lt: Uint8Array }

export function didKey(did: Did): Uint8Array {
  return encoder.encode(did)
}

/** DID ‖ 0x00: the prefix shared by all of one repo's block keys. */
export function blockKeyPrefix(did: Did): Uint8Array {
  const didBytes = encoder.encode(did)
  const prefix = new Uint8Array(didBytes.length + 1)
  prefix.set(didBytes, 0)
  prefix[didBytes.length] = SEPARATOR
  return prefix
}

export function blockKey(prefix: Uint8Array, cid: CID): Uint8Array {
  assert(cid.bytes.length === CID_BINARY_BYTES, 'stored blocks must have 36-byte CIDs')
  const key = new Uint8Array(prefix.length + CID_BINARY_BYTES)
  key.set(prefix, 0)
  key.set(cid.bytes, prefix.length)
  return key
}

/** Every key that starts with `prefix` (whose last byte is the 0x00 separator). */
export function blockKeyRange(prefix: Uint8Array): RepoKeyRange {
  const lt = Uint8Array.from(prefix)
  lt[lt.length - 1] = SEPARATOR + 1
  return { gte: prefix, lt }
}

export function cidFromBlockKey(prefix: Uint8Array, key: Uint8Array): CID {
  assert(key.length === prefix.length + CID_BINARY_BYTES, 'block key has the wrong length')
  return CID.decode(key.subarray(prefix.length))
}
