/**
 * The one module that owns DAG-CBOR (atproto's "DRISL"): import encoding and
 * decoding from here. The codec is our own, strict both ways:
 * - `cbor-encode.ts`: canonical bytes (identical to @ipld/dag-cbor for valid
 *   values), integers only, undefined object properties dropped;
 * - `cbor-decode.ts`: accepts only canonical DAG-CBOR within the limits of
 *   core/limits.ts;
 * - `cbor-error.ts`: every failure is an AtfedError named `InvalidCbor` with a
 *   stable `reason`.
 */
import { cidForCbor } from './cid.ts'
import type { CID } from './cid.ts'
import { encodeCbor } from './cbor-encode.ts'

export type { LexValue, LexMap } from './lex-value.ts'
export { encodeCbor } from './cbor-encode.ts'
export { decodeCbor, decodeCborFirst } from './cbor-decode.ts'
export { CborError } from './cbor-error.ts'
export type { CborErrorReason } from './cbor-error.ts'

/** Encode `value` and compute the CIDv1 (dag-cbor, sha2-256) of the bytes. */
export function encodeCborWithCid(value: unknown): { bytes: Uint8Array; cid: CID } {
  const bytes = encodeCbor(value)
  return { bytes, cid: cidForCbor(bytes) }
}
