/**
 * Data-model rules beyond what the CBOR codec enforces, shared by
 * `jsonToLex` (JSON form) and `validateLexValue` (in-memory form):
 * - `$type`, when present, is a non-empty string;
 * - an object with `$type: "blob"` is a well-formed typed blob ref
 *   (blob-ref.ts: raw-codec CID `ref`, `mimeType`, integer `size`, no other keys);
 * - `$link` and `$bytes` are reserved for the JSON encodings of links and
 *   bytes, so a map may not use them as keys (its JSON form would be ambiguous);
 * - numbers are safe integers (no floats), strings are well-formed Unicode,
 *   map keys are at most CBOR_MAP_KEY_BYTES_MAX UTF-8 bytes, and the same
 *   depth and container-length limits as CBOR apply.
 * Violations are `InvalidDataModel` errors whose message names the path
 * (e.g. `/rcrd/$type`); the name is stable, the message is not.
 */
import { AtfedError } from '../errors.ts'
import { CBOR_CONTAINER_LENGTH_MAX, CBOR_DEPTH_MAX, CBOR_MAP_KEY_BYTES_MAX } from '../limits.ts'
import { blobRefProblem } from './blob-ref.ts'
import { utf8Length } from './cbor-keys.ts'

type WellFormedString = string & { isWellFormed?: () => boolean }
const LONE_SURROGATE = /\p{Surrogate}/u

export function dataModelError(path: readonly string[], problem: string): AtfedError<'InvalidDataModel'> {
  return new AtfedError('InvalidDataModel', `${problem} at /${path.join('/')}`)
}

export function checkNumber(n: number, path: readonly string[]): void {
  if (!Number.isInteger(n)) throw dataModelError(path, `${n} is not an integer (floats are not allowed)`)
  if (!Number.isSafeInteger(n)) throw dataModelError(path, `${n} is outside +-(2^53-1)`)
}

export function checkString(s: string, path: readonly string[]): void {
  const wellFormed = (s as WellFormedString).isWellFormed?.() ?? !LONE_SURROGATE.test(s)
  if (!wellFormed) throw dataModelError(path, 'string has a lone UTF-16 surrogate')
}

/** Depth and length limits for entering a container; returns the new depth. */
export function enterContainer(depth: number, length: number, path: readonly string[]): number {
  if (depth + 1 > CBOR_DEPTH_MAX) throw dataModelError(path, `nesting deeper than ${CBOR_DEPTH_MAX}`)
  if (length > CBOR_CONTAINER_LENGTH_MAX) throw dataModelError(path, `${length} entries > ${CBOR_CONTAINER_LENGTH_MAX}`)
  return depth + 1
}

export function checkMapKey(key: string, path: readonly string[]): void {
  if (key === '$link' || key === '$bytes') throw dataModelError(path, `${key} is reserved for its JSON encoding`)
  checkString(key, path)
  if (key.length * 3 > CBOR_MAP_KEY_BYTES_MAX && utf8Length(key) > CBOR_MAP_KEY_BYTES_MAX) {
    throw dataModelError(path, `map key longer than ${CBOR_MAP_KEY_BYTES_MAX} bytes`)
  }
}

/** `$type` and blob rules for a finished (lex form) map. */
export function checkMapRules(map: Record<string, unknown>, path: readonly string[]): void {
  if (!('$type' in map)) return
  const type = map.$type
  if (typeof type !== 'string' || type.length === 0) throw dataModelError([...path, '$type'], '$type is not a non-empty string')
  if (type === 'blob') {
    const problem = blobRefProblem(map)
    if (problem !== null) throw dataModelError(path, `malformed blob: ${problem}`)
  }
}
