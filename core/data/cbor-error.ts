/**
 * The one error type of the DAG-CBOR codec. Every failure, on encode or on
 * decode, is an `AtfedError` named `InvalidCbor` (so callers and the XRPC
 * layer match one name); `reason` says which rule was broken. Both the name
 * and every `reason` value are stable API; the message is free text.
 *
 * Decode reasons (bad bytes):
 *   Truncated          input ends inside an item (or is empty)
 *   TrailingBytes      bytes left over after the top-level item
 *   IndefiniteLength   additional info 31 (indefinite length or a lone break)
 *   Malformed          reserved additional info 28-30
 *   NotShortest        an integer, length, tag or simple value not in its shortest form
 *   UnsafeInteger      an integer outside +-(2^53-1)
 *   Float              any float (half, single or double)
 *   Undefined          the simple value `undefined` (0xf7)
 *   SimpleValue        any other simple value than false, true, null
 *   UnsupportedTag     a tag other than 42
 *   InvalidCidLink     a tag-42 payload that is not a byte string, lacks the 0x00
 *                      prefix, is longer than CID_BYTES_MAX, or is not a valid CID
 *   MapKeyNotString    a map key that is not a text string
 *   DuplicateMapKey    the same key twice in one map
 *   MapKeyOrder        keys not sorted length-first then bytewise
 *   InvalidUtf8        a text string that is not valid UTF-8
 * Limit reasons (both directions; the producer refuses what the verifier would):
 *   DepthExceeded      more than CBOR_DEPTH_MAX nested arrays/maps
 *   ContainerTooLong   an array or map with more than CBOR_CONTAINER_LENGTH_MAX entries
 *   MapKeyTooLong      a map key longer than CBOR_MAP_KEY_BYTES_MAX UTF-8 bytes
 * Encode reasons (values outside the data model):
 *   NotInteger         a number that is not an integer (fractions, NaN, Infinity)
 *   UnsafeInteger      (as above)
 *   Undefined          `undefined` as a top-level value or array element
 *   UnsupportedType    bigint, symbol, function, Map, Date, class instances, ...
 *                      (also: a decode input that is not a Uint8Array)
 *   InvalidString      a string with a lone UTF-16 surrogate (not valid Unicode)
 *   InvalidCidLink     a CID whose binary form is longer than CID_BYTES_MAX
 */
import { AtfedError } from '../errors.ts'

export type CborErrorReason =
  | 'Truncated'
  | 'TrailingBytes'
  | 'IndefiniteLength'
  | 'Malformed'
  | 'NotShortest'
  | 'UnsafeInteger'
  | 'Float'
  | 'Undefined'
  | 'SimpleValue'
  | 'UnsupportedTag'
  | 'InvalidCidLink'
  | 'MapKeyNotString'
  | 'DuplicateMapKey'
  | 'MapKeyOrder'
  | 'InvalidUtf8'
  | 'DepthExceeded'
  | 'ContainerTooLong'
  | 'MapKeyTooLong'
  | 'NotInteger'
  | 'UnsupportedType'
  | 'InvalidString'

export class CborError extends AtfedError<'InvalidCbor'> {
  readonly reason: CborErrorReason
  constructor(reason: CborErrorReason, message: string, options?: { cause?: unknown }) {
    super('InvalidCbor', `${reason}: ${message}`, options)
    this.reason = reason
  }
}
