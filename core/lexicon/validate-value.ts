/**
 * The validation walk: a data-model value against a lexicon def, following
 * refs and unions through the registry. Containers (object, array) and meta
 * types (ref, union, unknown) live here; leaf types in ./validate-scalars.ts.
 *
 * Contract: returns the value, or a shallow copy along the changed path when
 * `applyDefaults` filled in absent properties that declare a `default`
 * (records are validated with `applyDefaults: false`, so a stored record is
 * never rewritten). Throws `ctx.errorName` naming the failing path; a broken
 * schema (unresolvable ref, ref to a token) throws `InvalidLexicon`.
 *
 * Rules worth knowing: properties the schema does not declare are ignored
 * (spec: lexicon evolution); `null` passes only for `nullable` properties; a
 * union value needs a `$type` (never with a `#main` suffix) and, in a closed
 * union, one of the listed refs, while an open union accepts unlisted types
 * unchecked; `unknown` takes any object except a blob; nesting deeper than
 * LEXICON_VALIDATION_DEPTH_MAX fails.
 */
import { CID } from 'multiformats/cid'
import { AtfedError } from '../errors.ts'
import { LEXICON_VALIDATION_DEPTH_MAX } from '../limits.ts'
import type { LexiconRegistry } from './registry.ts'
import type { LexArray, LexField, LexObject, LexUnion, LexUserDef } from './schema.ts'
import {
  type ValidationErrorName, checkBlob, checkBoolean, checkBytes, checkCidLink, checkInteger, checkString,
  invalidValue,
} from './validate-scalars.ts'

export type ValidationCtx = {
  readonly registry: LexiconRegistry
  readonly errorName: ValidationErrorName
  readonly applyDefaults: boolean
}

type Def = LexField | LexUserDef
type Obj = { [key: string]: unknown }

/** A plain data-model map: not an array, bytes or CID. */
export function isPlainObject(value: unknown): value is Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  if (value instanceof Uint8Array || CID.asCID(value) !== null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

export function checkValue(ctx: ValidationCtx, path: string, def: Def, value: unknown, depth: number): unknown {
  const err = ctx.errorName
  switch (def.type) {
    case 'boolean': checkBoolean(err, path, def, value); return value
    case 'integer': checkInteger(err, path, def, value); return value
    case 'string': checkString(err, path, def, value); return value
    case 'bytes': checkBytes(err, path, def, value); return value
    case 'cid-link': checkCidLink(err, path, value); return value
    case 'blob': checkBlob(err, path, def, value); return value
    case 'unknown':
      if (!isPlainObject(value)) invalidValue(err, path, 'must be an object')
      if (value['$type'] === 'blob') invalidValue(err, path, 'must be an object, not a blob')
      return value
    case 'array': return checkArray(ctx, path, def, value, depth)
    case 'object': return checkObject(ctx, path, def, value, depth)
    case 'record': return checkObject(ctx, path, def.record, value, depth)
    case 'ref': return checkValue(ctx, path, resolve(ctx, def.ref, path), value, depth)
    case 'union': return checkUnion(ctx, path, def, value, depth)
    case 'token':
    case 'query':
    case 'procedure':
    case 'subscription':
    case 'permission-set':
      throw new AtfedError('InvalidLexicon', `${path}: a ${def.type} def can not describe a value`)
  }
}

export function checkObject(ctx: ValidationCtx, path: string, def: LexObject, value: unknown, depth: number): Obj {
  if (!isPlainObject(value)) invalidValue(ctx.errorName, path, 'must be an object')
  if (depth >= LEXICON_VALIDATION_DEPTH_MAX) invalidValue(ctx.errorName, path, 'is nested too deeply')
  let out = value
  for (const [key, propDef] of Object.entries(def.properties)) {
    const propPath = `${path}/${key}`
    const propValue = Object.hasOwn(value, key) ? value[key] : undefined
    if (propValue === undefined) {
      const dflt = ctx.applyDefaults && 'default' in propDef ? propDef.default : undefined
      if (dflt !== undefined) {
        if (out === value) out = { ...value }
        out[key] = dflt
      } else if (def.required.includes(key)) {
        invalidValue(ctx.errorName, propPath, 'is required')
      }
      continue
    }
    if (propValue === null && def.nullable.includes(key)) continue
    const checked = checkValue(ctx, propPath, propDef, propValue, depth + 1)
    if (checked !== propValue) {
      if (out === value) out = { ...value }
      out[key] = checked
    }
  }
  return out
}

function checkArray(ctx: ValidationCtx, path: string, def: LexArray, value: unknown, depth: number): unknown[] {
  const err = ctx.errorName
  if (!Array.isArray(value)) invalidValue(err, path, 'must be an array')
  if (depth >= LEXICON_VALIDATION_DEPTH_MAX) invalidValue(err, path, 'is nested too deeply')
  if (def.maxLength !== undefined && value.length > def.maxLength) {
    invalidValue(err, path, `must not have more than ${def.maxLength} elements`)
  }
  if (def.minLength !== undefined && value.length < def.minLength) {
    invalidValue(err, path, `must not have fewer than ${def.minLength} elements`)
  }
  let out = value
  for (let i = 0; i < value.length; i++) {
    const checked = checkValue(ctx, `${path}/${i}`, def.items, value[i], depth + 1)
    if (checked !== value[i]) {
      if (out === value) out = [...value]
      out[i] = checked
    }
  }
  return out
}

function checkUnion(ctx: ValidationCtx, path: string, def: LexUnion, value: unknown, depth: number): unknown {
  const err = ctx.errorName
  if (!isPlainObject(value) || typeof value['$type'] !== 'string') {
    invalidValue(err, path, 'must be an object with a string "$type"')
  }
  const type = value['$type']
  if (type.endsWith('#main')) invalidValue(err, `${path}/$type`, 'must not end in "#main"')
  if (!def.refs.includes(type)) {
    if (def.closed) invalidValue(err, `${path}/$type`, `must be one of (${def.refs.join('|')})`)
    return value
  }
  return checkValue(ctx, path, resolve(ctx, type, path), value, depth)
}

function resolve(ctx: ValidationCtx, ref: string, path: string): LexUserDef {
  const def = ctx.registry.getDef(ref)
  if (def === undefined) throw new AtfedError('InvalidLexicon', `${path}: lexicon ref "${ref}" does not resolve`)
  return def
}
