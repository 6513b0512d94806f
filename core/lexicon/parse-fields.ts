/**
 * Parses the non-primary lexicon def types (fields, containers, meta types)
 * from JSON into the closed unions of ./schema.ts.
 *
 * Where a type may appear is the caller's choice: `parseField` (object
 * properties, array items), `parseNamedDef` (a non-main or non-primary def),
 * `parseBodySchema` (XRPC input/output). `unknown`, `ref` and `union` are never
 * named defs; `token` is only a named def (spec: Lexicon, "Field Type
 * Definitions"). Constraint sanity is checked here once (min <= max, const and
 * default exclusive, default within range) so validation can trust the schema.
 */
import type {
  LexArray, LexBlob, LexBoolean, LexField, LexInteger, LexObject, LexRef, LexString, LexStringFormat,
  LexToken, LexUnion, LexUserDef,
} from './schema.ts'
import {
  type JsonObject, checkRange, described, invalidLexicon, optBoolean, optCount, optInteger, optIntegerArray,
  optString, optStringArray, readObject,
} from './parse-reader.ts'
import { normalizeRef } from './refs.ts'

const STRING_FORMATS: ReadonlySet<string> = new Set<LexStringFormat>([
  'at-identifier', 'at-uri', 'cid', 'datetime', 'did', 'handle', 'language', 'nsid', 'record-key', 'tid', 'uri',
])
/** `*\/*`, `type/*` or `type/subtype`; partial globs and a bare `*` are not supported (spec). */
const ACCEPT_PATTERN = /^(?:\*\/\*|[^\s/*]+\/(?:\*|[^\s/*]+))$/

type AnyDef = LexField | LexToken
type ParseCtx = { docId: string }

function parseAny(value: unknown, path: string, ctx: ParseCtx): AnyDef {
  const obj = readObject(value, path)
  const type = obj['type']
  if (typeof type !== 'string') invalidLexicon(`${path}/type`, 'must be a string')
  switch (type) {
    case 'boolean': return parseBoolean(obj, path)
    case 'integer': return parseInteger(obj, path)
    case 'string': return parseString(obj, path)
    case 'bytes': {
      const minLength = optCount(obj, 'minLength', path)
      const maxLength = optCount(obj, 'maxLength', path)
      checkRange(minLength, maxLength, path, 'Length')
      return { type, ...described(obj, path), ...defined({ minLength, maxLength }) }
    }
    case 'cid-link': return { type, ...described(obj, path) }
    case 'blob': return parseBlob(obj, path)
    case 'array': return parseArray(obj, path, ctx)
    case 'object': return parseObject(obj, path, ctx)
    case 'ref': {
      const ref = optString(obj, 'ref', path)
      if (ref === undefined) invalidLexicon(`${path}/ref`, 'is required')
      return { type, ...described(obj, path), ref: normalizeRef(ref, ctx.docId, `${path}/ref`) } satisfies LexRef
    }
    case 'union': return parseUnion(obj, path, ctx)
    case 'unknown': return { type, ...described(obj, path) }
    case 'token': return { type, ...described(obj, path) }
    default: return invalidLexicon(`${path}/type`, `"${type}" is not allowed here`)
  }
}

/** An object property or array item. */
export function parseField(value: unknown, path: string, ctx: ParseCtx): LexField {
  const def = parseAny(value, path, ctx)
  if (def.type === 'token') invalidLexicon(`${path}/type`, 'a token can only be a named def')
  return def
}

/** A named def that is not a primary type. */
export function parseNamedDef(value: unknown, path: string, ctx: ParseCtx): LexUserDef {
  const def = parseAny(value, path, ctx)
  if (def.type === 'ref' || def.type === 'union' || def.type === 'unknown') {
    invalidLexicon(`${path}/type`, `"${def.type}" can not be a named def`)
  }
  return def
}

/** XRPC input/output `schema`: an object, a ref or a union. */
export function parseBodySchema(value: unknown, path: string, ctx: ParseCtx): LexObject | LexRef | LexUnion {
  const def = parseAny(value, path, ctx)
  if (def.type !== 'object' && def.type !== 'ref' && def.type !== 'union') {
    invalidLexicon(`${path}/type`, 'must be "object", "ref" or "union"')
  }
  return def
}

export function parseObject(obj: JsonObject, path: string, ctx: ParseCtx): LexObject {
  const propsPath = `${path}/properties`
  const rawProps = readObject(obj['properties'], propsPath)
  const properties: { [name: string]: LexField } = {}
  for (const [name, propDef] of Object.entries(rawProps)) {
    if (name.length === 0) invalidLexicon(propsPath, 'has an empty property name')
    properties[name] = parseField(propDef, `${propsPath}/${name}`, ctx)
  }
  const required = declaredNames(obj, 'required', path, properties)
  const nullable = declaredNames(obj, 'nullable', path, properties)
  return { type: 'object', ...described(obj, path), properties, required, nullable }
}

/** `required` / `nullable`: strings naming declared properties. */
export function declaredNames(obj: JsonObject, key: string, path: string, properties: object): string[] {
  const names = optStringArray(obj, key, path) ?? []
  names.forEach((name, i) => {
    if (!Object.hasOwn(properties, name)) invalidLexicon(`${path}/${key}/${i}`, `names undeclared property "${name}"`)
  })
  return names
}

export function parseBoolean(obj: JsonObject, path: string): LexBoolean {
  const dflt = optBoolean(obj, 'default', path)
  const konst = optBoolean(obj, 'const', path)
  if (dflt !== undefined && konst !== undefined) invalidLexicon(path, 'has both const and default')
  return { type: 'boolean', ...described(obj, path), ...defined({ default: dflt, const: konst }) }
}

export function parseInteger(obj: JsonObject, path: string): LexInteger {
  const def: LexInteger = {
    type: 'integer',
    ...described(obj, path),
    ...defined({
      default: optInteger(obj, 'default', path),
      const: optInteger(obj, 'const', path),
      enum: optIntegerArray(obj, 'enum', path),
      minimum: optInteger(obj, 'minimum', path),
      maximum: optInteger(obj, 'maximum', path),
    }),
  }
  checkRange(def.minimum, def.maximum, path, 'imum')
  if (def.default !== undefined && def.const !== undefined) invalidLexicon(path, 'has both const and default')
  for (const key of ['default', 'const'] as const) {
    const v = def[key]
    if (v === undefined) continue
    const inRange = (def.minimum === undefined || v >= def.minimum) && (def.maximum === undefined || v <= def.maximum)
    if (!inRange || (def.enum !== undefined && !def.enum.includes(v))) {
      invalidLexicon(`${path}/${key}`, 'does not satisfy the def\'s own constraints')
    }
  }
  return def
}

export function parseString(obj: JsonObject, path: string): LexString {
  const format = optString(obj, 'format', path)
  if (format !== undefined && !STRING_FORMATS.has(format)) invalidLexicon(`${path}/format`, `"${format}" is not a known format`)
  const def: LexString = {
    type: 'string',
    ...described(obj, path),
    ...defined({
      format: format as LexStringFormat | undefined,
      default: optString(obj, 'default', path),
      const: optString(obj, 'const', path),
      enum: optStringArray(obj, 'enum', path),
      knownValues: optStringArray(obj, 'knownValues', path),
      minLength: optCount(obj, 'minLength', path),
      maxLength: optCount(obj, 'maxLength', path),
      minGraphemes: optCount(obj, 'minGraphemes', path),
      maxGraphemes: optCount(obj, 'maxGraphemes', path),
    }),
  }
  checkRange(def.minLength, def.maxLength, path, 'Length')
  checkRange(def.minGraphemes, def.maxGraphemes, path, 'Graphemes')
  if (def.default !== undefined && def.const !== undefined) invalidLexicon(path, 'has both const and default')
  if (def.default !== undefined && def.enum !== undefined && !def.enum.includes(def.default)) {
    invalidLexicon(`${path}/default`, 'is not in enum')
  }
  return def
}

function parseBlob(obj: JsonObject, path: string): LexBlob {
  const accept = optStringArray(obj, 'accept', path)
  accept?.forEach((pattern, i) => {
    if (!ACCEPT_PATTERN.test(pattern)) invalidLexicon(`${path}/accept/${i}`, `"${pattern}" is not a MIME type pattern`)
  })
  const maxSize = optCount(obj, 'maxSize', path)
  return { type: 'blob', ...described(obj, path), ...defined({ accept, maxSize }) }
}

function parseArray(obj: JsonObject, path: string, ctx: ParseCtx): LexArray {
  if (obj['items'] === undefined) invalidLexicon(`${path}/items`, 'is required')
  const items = parseField(obj['items'], `${path}/items`, ctx)
  const minLength = optCount(obj, 'minLength', path)
  const maxLength = optCount(obj, 'maxLength', path)
  checkRange(minLength, maxLength, path, 'Length')
  return { type: 'array', ...described(obj, path), items, ...defined({ minLength, maxLength }) }
}

function parseUnion(obj: JsonObject, path: string, ctx: ParseCtx): LexUnion {
  const refs = optStringArray(obj, 'refs', path)
  if (refs === undefined) invalidLexicon(`${path}/refs`, 'is required')
  const closed = optBoolean(obj, 'closed', path) ?? false
  if (closed && refs.length === 0) invalidLexicon(path, 'is a closed union with no refs')
  const absolute = refs.map((ref, i) => normalizeRef(ref, ctx.docId, `${path}/refs/${i}`))
  return { type: 'union', ...described(obj, path), refs: absolute, closed }
}

/** Drops keys whose value is undefined, so parsed defs carry only what the file said. */
export function defined<T extends object>(fields: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: { [key: string]: unknown } = {}
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v
  return out as { [K in keyof T]?: Exclude<T[K], undefined> }
}
