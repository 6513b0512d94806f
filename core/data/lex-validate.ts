/**
 * `validateLexValue`: check that an in-memory value is a valid atproto
 * data-model value (the rules are listed in lex-rules.ts), e.g. a decoded
 * record before indexing, or a value built in code before it is written.
 * A property whose value is `undefined` counts as absent, as in the CBOR
 * encoder. Links must be CIDv1 of at most CID_BYTES_MAX bytes (the CBOR codec
 * itself also carries v0 links, as DAG-CBOR allows). Throws `InvalidDataModel`.
 */
import { CID_BYTES_MAX } from '../limits.ts'
import { asCid } from './cid.ts'
import type { CID } from './cid.ts'
import type { LexValue } from './lex-value.ts'
import { checkMapKey, checkMapRules, checkNumber, checkString, dataModelError, enterContainer } from './lex-rules.ts'

export function validateLexValue(value: unknown): asserts value is LexValue {
  check(value, 0, [])
}

function check(value: unknown, depth: number, path: string[]): void {
  switch (typeof value) {
    case 'boolean':
      return
    case 'number':
      return checkNumber(value, path)
    case 'string':
      return checkString(value, path)
    case 'object':
      if (value === null || value instanceof Uint8Array) return
      if (Array.isArray(value)) return checkArray(value, depth, path)
      return checkObject(value, depth, path)
    default:
      throw dataModelError(path, `${typeof value} is not a data-model value`)
  }
}

function checkArray(arr: unknown[], depth: number, path: string[]): void {
  const inner = enterContainer(depth, arr.length, path)
  for (let i = 0; i < arr.length; i++) {
    path.push(String(i))
    if (arr[i] === undefined) throw dataModelError(path, 'undefined is not a data-model value')
    check(arr[i], inner, path)
    path.pop()
  }
}

function checkObject(obj: object, depth: number, path: string[]): void {
  const proto: unknown = Object.getPrototypeOf(obj)
  if (proto !== Object.prototype && proto !== null) {
    const cid = asCid(obj)
    if (cid !== null) return checkCid(cid, path)
    throw dataModelError(path, 'only plain objects, arrays, bytes and CIDs are data-model values')
  }
  const map = obj as Record<string, unknown>
  const keys = Object.keys(map)
  const inner = enterContainer(depth, keys.length, path)
  for (const key of keys) {
    path.push(key)
    checkMapKey(key, path)
    if (map[key] !== undefined) check(map[key], inner, path)
    path.pop()
  }
  checkMapRules(map, path)
}

/** Links must be CIDv1 (atproto forbids v0; JSON `$link` cannot carry one) and fit CID_BYTES_MAX. */
function checkCid(cid: CID, path: string[]): void {
  if (cid.version !== 1) throw dataModelError(path, 'CIDv0 links are not allowed')
  if (cid.bytes.length > CID_BYTES_MAX) throw dataModelError(path, `CID longer than ${CID_BYTES_MAX} bytes`)
}
