/**
 * Lexicon documents as closed TypeScript unions: the shapes `parseLexiconDoc`
 * (./parse-doc.ts) produces from JSON and the validator (./validate.ts)
 * walks. Every def type of Lexicon v1 appears exactly once; switches over
 * `type` are exhaustive.
 *
 * Normalisations made by the parser (so the validator never re-derives them):
 * - every `ref` / union `refs` entry is absolute: `nsid` for a `main` def,
 *   `nsid#name` otherwise (a `#name` or `nsid#main` in the file is rewritten);
 * - `required` / `nullable` on objects and params are always arrays (maybe empty);
 * - unknown keys are dropped (forward compatibility: the spec lets schemas grow).
 *
 * The parser modules import only types from here, so re-exporting
 * `parseLexiconDoc` below creates no runtime import cycle.
 */
import type { Nsid } from '../syntax/nsid.ts'

export { parseLexiconDoc } from './parse-doc.ts'

export type LexStringFormat =
  | 'at-identifier'
  | 'at-uri'
  | 'cid'
  | 'datetime'
  | 'did'
  | 'handle'
  | 'language'
  | 'nsid'
  | 'record-key'
  | 'tid'
  | 'uri'

type Described = { description?: string }

// Concrete field types
export type LexBoolean = Described & { type: 'boolean'; default?: boolean; const?: boolean }
export type LexInteger = Described & {
  type: 'integer'
  default?: number
  const?: number
  enum?: number[]
  minimum?: number
  maximum?: number
}
export type LexString = Described & {
  type: 'string'
  format?: LexStringFormat
  default?: string
  const?: string
  enum?: string[]
  knownValues?: string[]
  /** UTF-8 bytes */
  minLength?: number
  maxLength?: number
  /** Unicode extended grapheme clusters */
  minGraphemes?: number
  maxGraphemes?: number
}
export type LexBytes = Described & { type: 'bytes'; minLength?: number; maxLength?: number }
export type LexCidLink = Described & { type: 'cid-link' }
export type LexBlob = Described & {
  type: 'blob'
  /** MIME types; `type/*` and `*\/*` globs allowed */
  accept?: string[]
  maxSize?: number
}

// Containers and meta types
export type LexArray = Described & { type: 'array'; items: LexField; minLength?: number; maxLength?: number }
export type LexObject = Described & {
  type: 'object'
  properties: { [name: string]: LexField }
  required: string[]
  nullable: string[]
}
export type LexRef = Described & { type: 'ref'; /** absolute */ ref: string }
export type LexUnion = Described & { type: 'union'; /** absolute */ refs: string[]; closed: boolean }
export type LexUnknown = Described & { type: 'unknown' }
export type LexToken = Described & { type: 'token' }

/** What may appear as an object property or array item. */
export type LexField =
  | LexBoolean
  | LexInteger
  | LexString
  | LexBytes
  | LexCidLink
  | LexBlob
  | LexArray
  | LexObject
  | LexRef
  | LexUnion
  | LexUnknown

// XRPC parameters: only scalars or arrays of scalars (they travel in a query string)
export type LexParamScalar = LexBoolean | LexInteger | LexString
export type LexParamArray = Described & {
  type: 'array'
  items: LexParamScalar
  minLength?: number
  maxLength?: number
}
export type LexParamField = LexParamScalar | LexParamArray
export type LexParams = Described & {
  type: 'params'
  properties: { [name: string]: LexParamField }
  required: string[]
}

export type LexBody = Described & { encoding: string; schema?: LexObject | LexRef | LexUnion }
export type LexXrpcError = Described & { name: string }

// Primary types (only ever the `main` def)
export type LexRecordKeyType = 'tid' | 'nsid' | 'any' | `literal:${string}`
export type LexRecord = Described & { type: 'record'; key: LexRecordKeyType; record: LexObject }
export type LexQuery = Described & {
  type: 'query'
  parameters?: LexParams
  output?: LexBody
  errors: LexXrpcError[]
}
export type LexProcedure = Described & {
  type: 'procedure'
  parameters?: LexParams
  input?: LexBody
  output?: LexBody
  errors: LexXrpcError[]
}
export type LexSubscription = Described & {
  type: 'subscription'
  parameters?: LexParams
  message: Described & { schema: LexUnion }
  errors: LexXrpcError[]
}
export type LexPermissionValue = string | number | boolean | Array<string | number | boolean>
export type LexPermission = {
  type: 'permission'
  resource: string
  /** resource-specific fields (collection, action, lxm, aud, inheritAud, ...) */
  fields: { [name: string]: LexPermissionValue }
}
export type LexPermissionSet = Described & {
  type: 'permission-set'
  title?: string
  'title:lang'?: { [lang: string]: string }
  detail?: string
  'detail:lang'?: { [lang: string]: string }
  permissions: LexPermission[]
}

export type LexPrimary = LexRecord | LexQuery | LexProcedure | LexSubscription | LexPermissionSet
export type LexMethod = LexQuery | LexProcedure | LexSubscription

/** What may be a named def in `defs` (primary types only as `main`). */
export type LexUserDef =
  | LexPrimary
  | LexObject
  | LexArray
  | LexToken
  | LexString
  | LexInteger
  | LexBoolean
  | LexBytes
  | LexCidLink
  | LexBlob

export type LexiconDoc = {
  lexicon: 1
  id: Nsid
  revision?: number
  description?: string
  defs: { [name: string]: LexUserDef }
}

export function isPrimaryDef(def: LexUserDef): def is LexPrimary {
  switch (def.type) {
    case 'record':
    case 'query':
    case 'procedure':
    case 'subscription':
    case 'permission-set':
      return true
    default:
      return false
  }
}
