/**
 * Lexicon validation entry points: records, record keys, XRPC inputs and
 * outputs (query-string params are in ./validate-params.ts).
 *
 * Values are in the in-memory data model (core/data/lex-value.ts): CIDs as
 * multiformats `CID`, bytes as `Uint8Array`, blobs as
 * `{$type:'blob', ref: CID, mimeType, size}`. Convert JSON bodies first.
 *
 * Errors (names are API, messages name the failing path):
 * - `InvalidRecord`: `Record/embed/images/0/alt must be a string`;
 * - `InvalidRequest`: XRPC input and params (`Input/handle is required`);
 * - `InvalidResponse`: an output that breaks its own lexicon (our bug or an
 *   upstream's; the server answers 500);
 * - `LexiconNotFound`: no record def / method for that NSID in the registry
 *   (the PDS decides whether that is an error: `validate: true` vs optimistic);
 * - `InvalidLexicon`: the schema set itself is broken (an unresolved ref).
 *
 * Not checked here: that a blob was uploaded or matches the stored MIME/size,
 * record size limits, data-model well-formedness (the CBOR/JSON layer's job).
 */
import { AtfedError } from '../errors.ts'
import { isNsid } from '../syntax/nsid.ts'
import { isRecordKey } from '../syntax/record-key.ts'
import { isTid } from '../syntax/tid.ts'
import type { LexiconRegistry } from './registry.ts'
import type { LexBody, LexProcedure, LexQuery, LexRecord } from './schema.ts'
import { invalidValue } from './validate-scalars.ts'
import { type ValidationCtx, checkObject, checkValue, isPlainObject } from './validate-value.ts'

export { validateParams } from './validate-params.ts'

function recordDef(registry: LexiconRegistry, collection: string): LexRecord {
  const def = registry.getRecordDef(collection)
  if (def === undefined) throw new AtfedError('LexiconNotFound', `no record lexicon for ${collection}`)
  return def
}

/**
 * Validates a record for `collection`: `$type` must equal the collection,
 * then the record's object schema. Returns nothing: records are never rewritten.
 */
export function validateRecord(registry: LexiconRegistry, collection: string, value: unknown): void {
  const def = recordDef(registry, collection)
  if (!isPlainObject(value)) invalidValue('InvalidRecord', 'Record', 'must be an object')
  if (value['$type'] !== collection) invalidValue('InvalidRecord', 'Record/$type', `must be "${collection}"`)
  const ctx: ValidationCtx = { registry, errorName: 'InvalidRecord', applyDefaults: false }
  checkObject(ctx, 'Record', def.record, value, 0)
}

/** Checks a record key against the collection's key type (`tid`, `nsid`, `literal:<key>`, `any`). */
export function validateRecordKey(registry: LexiconRegistry, collection: string, rkey: string): void {
  if (!isRecordKey(rkey)) invalidValue('InvalidRecord', 'Record key', `${JSON.stringify(rkey)} is not a valid record key`)
  const key = recordDef(registry, collection).key
  const ok = key === 'any' ? true
    : key === 'tid' ? isTid(rkey)
    : key === 'nsid' ? isNsid(rkey)
    : rkey === key.slice('literal:'.length)
  if (!ok) invalidValue('InvalidRecord', 'Record key', `"${rkey}" does not match the ${collection} key type "${key}"`)
}

/** Validates a procedure's JSON input; returns it with schema defaults filled in. */
export function validateInput(registry: LexiconRegistry, nsid: string, value: unknown): unknown {
  const def = registry.getMethodDef(nsid)
  if (def?.type !== 'procedure') throw new AtfedError('LexiconNotFound', `no procedure lexicon for ${nsid}`)
  return checkBody(registry, def.input, { path: 'Input', errorName: 'InvalidRequest' }, value)
}

/** Validates a query's or procedure's JSON output; returns it with schema defaults filled in. */
export function validateOutput(registry: LexiconRegistry, nsid: string, value: unknown): unknown {
  const def = registry.getMethodDef(nsid)
  if (def?.type !== 'procedure' && def?.type !== 'query') {
    throw new AtfedError('LexiconNotFound', `no query or procedure lexicon for ${nsid}`)
  }
  return checkBody(registry, (def as LexQuery | LexProcedure).output, { path: 'Output', errorName: 'InvalidResponse' }, value)
}

/** A body with no schema (or a non-JSON encoding) is passed through; the server checks encodings. */
function checkBody(
  registry: LexiconRegistry,
  body: LexBody | undefined,
  opts: { path: string; errorName: ValidationCtx['errorName'] },
  value: unknown,
): unknown {
  if (body?.schema === undefined) return value
  if (!isPlainObject(value)) invalidValue(opts.errorName, opts.path, 'must be an object')
  const ctx: ValidationCtx = { registry, errorName: opts.errorName, applyDefaults: true }
  return checkValue(ctx, opts.path, body.schema, value, 0)
}
