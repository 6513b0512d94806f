/**
 * One CAR block section: `varint(len) ‖ cid ‖ block`. The CID is binary with
 * no multibase prefix.
 *
 * We accept only the atproto blessed CID shape in sections: CIDv1, codec
 * dag-cbor (0x71) or raw (0x55), sha2-256, 32-byte digest, so always exactly
 * 36 bytes (the reference TS reader slices 36 bytes blindly; anything else
 * would mean two readers disagreeing on where the block starts). Every block
 * is re-hashed against its CID unless the caller opts out ('CidMismatch').
 */
import { AtfedError } from '../../errors.ts'
import { CAR_BLOCK_BYTES_MAX } from '../../limits.ts'
import {
  blockMatchesCid,
  CID,
  CID_BINARY_BYTES,
  DAG_CBOR_CODEC,
  RAW_CODEC,
  SHA256_CODE,
} from '../../data/cid.ts'
import { MemoryBlockMap } from '../block-reader.ts'

export type CarBlock = { cid: CID; bytes: Uint8Array }

/** Blocks to write: a list/generator of `{cid, bytes}` or a MemoryBlockMap. */
export type BlockSource = Iterable<CarBlock> | MemoryBlockMap

export function* blocksOf(source: BlockSource): Generator<CarBlock, void, undefined> {
  if (source instanceof MemoryBlockMap) {
    for (const [cid, bytes] of source.entries()) yield { cid, bytes }
  } else {
    yield* source
  }
}

export type ReadCarOptions = {
  /** Largest block (without its CID) accepted; default CAR_BLOCK_BYTES_MAX. */
  blockBytesMax?: number
  /** Re-hash every block against its CID (default true). */
  verifyCids?: boolean
}

export type SectionRules = { sectionBytesMax: number; verifyCids: boolean }

export function sectionRules(options: ReadCarOptions = {}): SectionRules {
  const blockBytesMax = options.blockBytesMax ?? CAR_BLOCK_BYTES_MAX
  return { sectionBytesMax: CID_BINARY_BYTES + blockBytesMax, verifyCids: options.verifyCids ?? true }
}

/** Splits a section body (after its varint) into a checked CID and block. */
export function parseSection(section: Uint8Array, rules: SectionRules): CarBlock {
  if (section.length < CID_BINARY_BYTES) {
    throw new AtfedError('InvalidCar', `CAR section of ${section.length} bytes is shorter than a CID`)
  }
  const codec = section[1]
  if (
    section[0] !== 1 ||
    (codec !== DAG_CBOR_CODEC && codec !== RAW_CODEC) ||
    section[2] !== SHA256_CODE ||
    section[3] !== 32
  ) {
    throw new AtfedError('InvalidCar', 'CAR section CID is not a blessed sha2-256 CIDv1')
  }
  const cid = CID.decode(section.subarray(0, CID_BINARY_BYTES))
  const bytes = section.subarray(CID_BINARY_BYTES)
  if (rules.verifyCids && !blockMatchesCid(cid, bytes)) {
    throw new AtfedError('CidMismatch', `CAR block does not hash to its CID ${cid.toString()}`)
  }
  return { cid, bytes }
}
