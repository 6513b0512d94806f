/**
 * Parses the primary def types (only ever `main`): record, query, procedure,
 * subscription, permission-set, and their sub-types params, body and errors.
 *
 * Spec points enforced here: a record has a `key` type (`tid`, `nsid`, `any`
 * or `literal:<record-key>`) and an `object` schema; params hold only
 * boolean/integer/string or arrays of those (they travel in a query string);
 * a subscription's message schema is a union; permission `*:lang` maps are
 * keyed by well-formed language tags.
 */
import { isRecordKey } from '../syntax/record-key.ts'
import { isLanguageSyntax } from '../syntax/language.ts'
import type {
  LexBody, LexParamField, LexParams, LexPermission, LexPermissionSet, LexPermissionValue, LexPrimary,
  LexRecordKeyType, LexXrpcError,
} from './schema.ts'
import {
  type JsonObject, described, invalidLexicon, optString, readObject, reqString,
} from './parse-reader.ts'
import { declaredNames, parseBodySchema, parseField, parseObject } from './parse-fields.ts'

type ParseCtx = { docId: string }

export function parsePrimary(value: unknown, path: string, ctx: ParseCtx): LexPrimary {
  const obj = readObject(value, path)
  const type = obj['type']
  switch (type) {
    case 'record': {
      const key = parseRecordKeyType(reqString(obj, 'key', path), `${path}/key`)
      const record = readObject(obj['record'], `${path}/record`)
      if (record['type'] !== 'object') invalidLexicon(`${path}/record/type`, 'must be "object"')
      return { type, ...described(obj, path), key, record: parseObject(record, `${path}/record`, ctx) }
    }
    case 'query':
    case 'procedure': {
      const parameters = optParams(obj, path, ctx)
      const input = type === 'procedure' ? optBody(obj, 'input', path, ctx) : undefined
      const output = optBody(obj, 'output', path, ctx)
      const errors = parseErrors(obj, path)
      const io = { ...(parameters && { parameters }), ...(input && { input }), ...(output && { output }) }
      return type === 'query'
        ? { type, ...described(obj, path), ...io, errors }
        : { type, ...described(obj, path), ...io, errors }
    }
    case 'subscription': {
      const parameters = optParams(obj, path, ctx)
      const msgPath = `${path}/message`
      const message = readObject(obj['message'], msgPath)
      const schema = parseBodySchema(message['schema'], `${msgPath}/schema`, ctx)
      if (schema.type !== 'union') invalidLexicon(`${msgPath}/schema/type`, 'must be "union"')
      return {
        type, ...described(obj, path), ...(parameters && { parameters }),
        message: { ...described(message, msgPath), schema }, errors: parseErrors(obj, path),
      }
    }
    case 'permission-set': return parsePermissionSet(obj, path)
    default: return invalidLexicon(`${path}/type`, `"${String(type)}" is not a primary type`)
  }
}

function parseRecordKeyType(key: string, path: string): LexRecordKeyType {
  if (key === 'tid' || key === 'nsid' || key === 'any') return key
  if (key.startsWith('literal:') && isRecordKey(key.slice('literal:'.length))) return key as LexRecordKeyType
  return invalidLexicon(path, `"${key}" is not a record key type (tid, nsid, any, literal:<key>)`)
}

function optParams(obj: JsonObject, path: string, ctx: ParseCtx): LexParams | undefined {
  if (obj['parameters'] === undefined) return undefined
  const pPath = `${path}/parameters`
  const params = readObject(obj['parameters'], pPath)
  if (params['type'] !== 'params') invalidLexicon(`${pPath}/type`, 'must be "params"')
  const rawProps = readObject(params['properties'], `${pPath}/properties`)
  const properties: { [name: string]: LexParamField } = {}
  for (const [name, raw] of Object.entries(rawProps)) {
    const propPath = `${pPath}/properties/${name}`
    const field = parseField(raw, propPath, ctx)
    const scalar = field.type === 'array' ? field.items : field
    if (scalar.type !== 'boolean' && scalar.type !== 'integer' && scalar.type !== 'string') {
      invalidLexicon(propPath, 'a param must be a boolean, integer, string or an array of those')
    }
    properties[name] = field as LexParamField
  }
  const required = declaredNames(params, 'required', pPath, properties)
  return { type: 'params', ...described(params, pPath), properties, required }
}

function optBody(obj: JsonObject, key: 'input' | 'output', path: string, ctx: ParseCtx): LexBody | undefined {
  if (obj[key] === undefined) return undefined
  const bPath = `${path}/${key}`
  const body = readObject(obj[key], bPath)
  const encoding = reqString(body, 'encoding', bPath)
  if (encoding.length === 0) invalidLexicon(`${bPath}/encoding`, 'must not be empty')
  const schema = body['schema'] === undefined ? undefined : parseBodySchema(body['schema'], `${bPath}/schema`, ctx)
  return { ...described(body, bPath), encoding, ...(schema && { schema }) }
}

function parseErrors(obj: JsonObject, path: string): LexXrpcError[] {
  const raw = obj['errors']
  if (raw === undefined) return []
  if (!Array.isArray(raw)) invalidLexicon(`${path}/errors`, 'must be an array')
  return raw.map((item, i) => {
    const ePath = `${path}/errors/${i}`
    const err = readObject(item, ePath)
    const name = reqString(err, 'name', ePath)
    if (!/^\S+$/.test(name)) invalidLexicon(`${ePath}/name`, 'must be non-empty with no whitespace')
    return { name, ...described(err, ePath) }
  })
}

function parsePermissionSet(obj: JsonObject, path: string): LexPermissionSet {
  const raw = obj['permissions']
  if (!Array.isArray(raw)) invalidLexicon(`${path}/permissions`, 'must be an array')
  const permissions = raw.map((item, i) => parsePermission(item, `${path}/permissions/${i}`))
  const out: LexPermissionSet = { type: 'permission-set', ...described(obj, path), permissions }
  const title = optString(obj, 'title', path)
  const detail = optString(obj, 'detail', path)
  if (title !== undefined) out.title = title
  if (detail !== undefined) out.detail = detail
  for (const key of ['title:lang', 'detail:lang'] as const) {
    if (obj[key] !== undefined) out[key] = parseLangMap(obj[key], `${path}/${key}`)
  }
  return out
}

function parsePermission(value: unknown, path: string): LexPermission {
  const obj = readObject(value, path)
  if (obj['type'] !== 'permission') invalidLexicon(`${path}/type`, 'must be "permission"')
  const resource = reqString(obj, 'resource', path)
  if (resource.length === 0) invalidLexicon(`${path}/resource`, 'must not be empty')
  const fields: { [name: string]: LexPermissionValue } = {}
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'type' || key === 'resource') continue
    const ok = isPermissionScalar(v) || (Array.isArray(v) && v.every(isPermissionScalar))
    if (!ok) invalidLexicon(`${path}/${key}`, 'must be a string, integer, boolean or an array of those')
    fields[key] = Array.isArray(v) ? [...v] : v
  }
  return { type: 'permission', resource, fields }
}

function isPermissionScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'boolean' || Number.isSafeInteger(v)
}

function parseLangMap(value: unknown, path: string): { [lang: string]: string } {
  const obj = readObject(value, path)
  const out: { [lang: string]: string } = {}
  for (const [lang, text] of Object.entries(obj)) {
    if (!isLanguageSyntax(lang)) invalidLexicon(`${path}/${lang}`, 'key is not a language tag')
    if (typeof text !== 'string') invalidLexicon(`${path}/${lang}`, 'must be a string')
    out[lang] = text
  }
  return out
}
