/**
 * MST hot paths work on raw 36-byte CIDs (`01 71 12 20 <sha256>`), not on
 * `CID` objects: node values and links stay subarrays of the block they were
 * decoded from and are written back verbatim. `CID` objects are made only at
 * the public edges (a value returned to a caller, a block-store lookup).
 */
import { AtfedError } from '../../errors.ts'
import * as Digest from 'multiformats/hashes/digest'
import { CID, DAG_CBOR_CODEC, RAW_CODEC, SHA256_CODE, sha256 } from '../../data/cid.ts'

export const RAW_CID_BYTES = 36
/** Prefix of every dag-cbor sha2-256 CIDv1: version, codec, hash code, digest length. */
const NODE_CID_PREFIX = Uint8Array.of(0x01, DAG_CBOR_CODEC, SHA256_CODE, 0x20)

/** CID (raw bytes) of an MST node block. */
export function nodeCidFor(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(RAW_CID_BYTES)
  out.set(NODE_CID_PREFIX)
  out.set(sha256(bytes), 4)
  return out
}

/** True for the CIDs an MST may hold as values: CIDv1, dag-cbor or raw, sha2-256. */
export function isNodeValueCid(cid: CID): boolean {
  const b = cid.bytes
  return (
    b.length === RAW_CID_BYTES &&
    b[0] === 0x01 &&
    (b[1] === DAG_CBOR_CODEC || b[1] === RAW_CODEC) &&
    b[2] === SHA256_CODE &&
    b[3] === 0x20
  )
}

/** The raw bytes of a value CID, or 'InvalidCid'. */
export function valueCidBytes(cid: CID): Uint8Array {
  if (CID.asCID(cid) === null || !isNodeValueCid(cid)) {
    throw new AtfedError('InvalidCid', 'MST values must be blessed 36-byte CIDs')
  }
  return cid.bytes
}

/**
 * A `CID` object for raw bytes. The blessed 36-byte form is built directly
 * (10x cheaper than `CID.decode`, which parses varints); anything else is
 * decoded normally.
 */
export function cidFromBytes(raw: Uint8Array): CID {
  if (raw.length !== RAW_CID_BYTES || raw[0] !== 0x01 || raw[2] !== SHA256_CODE || raw[3] !== 0x20) return CID.decode(raw)
  const multihash = new Digest.Digest(SHA256_CODE, 32, raw.subarray(4), raw.subarray(2))
  return new CID(1, raw[1]!, multihash, raw)
}

export function rawEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
