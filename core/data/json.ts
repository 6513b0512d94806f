/**
 * The atproto JSON form of data-model values, both ways.
 *
 * JSON -> lex (`jsonToLex`, the edge parse; it also validates, see lex-rules.ts):
 * - `{"$link": "<CID>"}` becomes a CID. The string must be a canonical CIDv1
 *   (the parse -> toString round trip gives it back) of at most CID_BYTES_MAX bytes.
 * - `{"$bytes": "<base64>"}` becomes a Uint8Array: standard alphabet, padding optional.
 * - An object with a `$link` or `$bytes` key must have exactly that one key,
 *   holding a string; anything else (extra keys, wrong type) is rejected, not
 *   treated as an ordinary object.
 * - Blob objects keep their shape; their `ref` is a `$link` and so becomes a CID.
 * - Numbers must be safe integers. JSON `123.0` parses to 123, so it passes.
 * lex -> JSON (`lexToJson`): CIDs as `{"$link": base32}`, bytes as
 * `{"$bytes": base64}` WITHOUT padding; `undefined` properties are dropped.
 *
 * `assertDataModel` is the record-level check: a JSON object (top level must
 * be an object) that is a valid data-model value. Errors: `InvalidDataModel`.
 */
import { CID_BYTES_MAX } from '../limits.ts'
import { asCid, parseCid } from './cid.ts'
import type { CID } from './cid.ts'
import { decodeBase64, encodeBase64 } from './base64.ts'
import type { LexMap, LexValue } from './lex-value.ts'
import { checkMapKey, checkMapRules, checkNumber, checkString, dataModelError, enterContainer } from './lex-rules.ts'

export { validateLexValue } from './lex-validate.ts'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** Parse the JSON form of a data-model value (e.g. from JSON.parse). */
export function jsonToLex(json: unknown): LexValue {
  return fromJson(json, 0, [])
}

/** A JSON top-level object that is a valid data-model value, in lex form. */
export function assertDataModel(json: unknown): LexMap {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw dataModelError([], 'top level is not an object')
  }
  return fromJson(json, 0, []) as LexMap
}

/** The JSON form of a lex value. */
export function lexToJson(value: LexValue): JsonValue {
  return toJson(value, [])
}

function fromJson(json: unknown, depth: number, path: string[]): LexValue {
  switch (typeof json) {
    case 'boolean':
      return json
    case 'number':
      checkNumber(json, path)
      return json
    case 'string':
      checkString(json, path)
      return json
    case 'object':
      if (json === null) return null
      if (Array.isArray(json)) {
        const inner = enterContainer(depth, json.length, path)
        return json.map((item: unknown, i) => {
          path.push(String(i))
          if (item === undefined) throw dataModelError(path, 'undefined is not a data-model value')
          const out = fromJson(item, inner, path)
          path.pop()
          return out
        })
      }
      return fromJsonObject(json, depth, path)
    default:
      throw dataModelError(path, `${typeof json} is not a JSON value`)
  }
}

function fromJsonObject(obj: object, depth: number, path: string[]): LexValue {
  const proto: unknown = Object.getPrototypeOf(obj)
  if (proto !== Object.prototype && proto !== null) throw dataModelError(path, 'not a plain JSON object')
  const map = obj as Record<string, unknown>
  if (Object.hasOwn(map, '$link')) return parseLinkObject(map, path)
  if (Object.hasOwn(map, '$bytes')) return parseBytesObject(map, path)
  const keys = Object.keys(map)
  const inner = enterContainer(depth, keys.length, path)
  const out: LexMap = {}
  for (const key of keys) {
    const value = map[key]
    if (value === undefined) continue
    path.push(key)
    checkMapKey(key, path)
    setOwn(out, key, fromJson(value, inner, path))
    path.pop()
  }
  checkMapRules(out, path)
  return out
}

function parseLinkObject(map: Record<string, unknown>, path: string[]): CID {
  if (Object.keys(map).length !== 1) throw dataModelError(path, '$link object has other keys')
  const s = map.$link
  if (typeof s !== 'string') throw dataModelError(path, '$link is not a string')
  let cid: CID
  try {
    cid = parseCid(s)
  } catch {
    throw dataModelError(path, '$link is not a valid CID')
  }
  if (cid.bytes.length > CID_BYTES_MAX) throw dataModelError(path, `$link CID longer than ${CID_BYTES_MAX} bytes`)
  return cid
}

function parseBytesObject(map: Record<string, unknown>, path: string[]): Uint8Array {
  if (Object.keys(map).length !== 1) throw dataModelError(path, '$bytes object has other keys')
  const s = map.$bytes
  if (typeof s !== 'string') throw dataModelError(path, '$bytes is not a string')
  const bytes = decodeBase64(s)
  if (bytes === null) throw dataModelError(path, '$bytes is not standard base64')
  return bytes
}

function toJson(value: LexValue, path: string[]): JsonValue {
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value
    case 'number':
      checkNumber(value, path)
      return value
    case 'object': {
      if (value === null) return null
      if (value instanceof Uint8Array) return { $bytes: encodeBase64(value) }
      if (Array.isArray(value)) {
        return value.map((item, i) => {
          path.push(String(i))
          const out = toJson(item, path)
          path.pop()
          return out
        })
      }
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        const cid = asCid(value)
        if (cid === null) throw dataModelError(path, 'only plain objects, arrays, bytes and CIDs are data-model values')
        return { $link: cid.toString() }
      }
      const out: { [key: string]: JsonValue } = {}
      for (const [key, item] of Object.entries(value)) {
        if (item === undefined) continue
        path.push(key)
        setOwn(out, key, toJson(item, path))
        path.pop()
      }
      return out
    }
    default:
      throw dataModelError(path, `${typeof value} is not a data-model value`)
  }
}

/** obj[key] = value, also for the key "__proto__" (which must stay an own property). */
function setOwn<T>(obj: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}
