/**
 * The CAR v1 header: a DAG-CBOR map `{roots: [cid…], version: 1}` (keys in
 * canonical order, so `roots` comes first), preceded by its varint length.
 *
 * We always write zero or one root: one (the commit) for repo exports and
 * proofs, none for `getBlocks`. Reading is strict: exactly those two keys,
 * version 1, at most CAR_ROOTS_MAX roots ('InvalidCarRoots'), every root a
 * blessed dag-cbor CID, the whole header at most CAR_HEADER_BYTES_MAX bytes.
 */
import { AtfedError, isAtfedError } from '../../errors.ts'
import { CAR_ROOTS_MAX } from '../../limits.ts'
import { decodeCbor, encodeCbor } from '../../data/cbor.ts'
import { asCid, DAG_CBOR_CODEC, isBlessedCid } from '../../data/cid.ts'
import type { CID } from '../../data/cid.ts'

export function encodeCarHeader(root: CID | null): Uint8Array {
  return encodeCbor({ roots: root === null ? [] : [root], version: 1 })
}

/** Parses the header bytes (without the length varint) into its roots. */
export function decodeCarHeader(bytes: Uint8Array): CID[] {
  let header: unknown
  try {
    header = decodeCbor(bytes)
  } catch (err) {
    if (!isAtfedError(err)) throw err
    throw new AtfedError('InvalidCar', 'CAR header is not valid DAG-CBOR', { cause: err })
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header) || header instanceof Uint8Array) {
    throw new AtfedError('InvalidCar', 'CAR header is not a map')
  }
  const keys = Object.keys(header)
  const fields = header as { roots?: unknown; version?: unknown }
  if (keys.length !== 2 || fields.version !== 1 || !Array.isArray(fields.roots)) {
    throw new AtfedError('InvalidCar', 'CAR header must be exactly {roots, version: 1}')
  }
  if (fields.roots.length > CAR_ROOTS_MAX) {
    throw new AtfedError('InvalidCarRoots', `CAR has ${fields.roots.length} roots; at most ${CAR_ROOTS_MAX} allowed`)
  }
  return fields.roots.map((value) => {
    const cid = asCid(value)
    if (cid === null || !isBlessedCid(cid) || cid.code !== DAG_CBOR_CODEC) {
      throw new AtfedError('InvalidCar', 'CAR root is not a dag-cbor sha2-256 CIDv1')
    }
    return cid
  })
}

/** Exactly one root, as repo exports, proofs and `#sync` CARs must have. */
export function singleRoot(roots: CID[]): CID {
  const [root] = roots
  if (roots.length !== 1 || root === undefined) {
    throw new AtfedError('InvalidCarRoots', `expected exactly one CAR root, got ${roots.length}`)
  }
  return root
}
