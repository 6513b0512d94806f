/**
 * XRPC query-string parameters: strings in, typed values out.
 *
 * Input is a `URLSearchParams` or a record of `string | string[]` (what a
 * query parser gives). Each declared param is coerced by its schema type:
 * integer from an optional `-` and digits only (a safe integer), boolean
 * from exactly `true` or `false`, string as is; an array param takes every
 * repeated value (`cids=a&cids=b`), a scalar param exactly one. Then the
 * usual lexicon checks run and absent params get their `default`. Params the
 * lexicon does not declare are dropped from the result. Errors are
 * `InvalidRequest` naming `Params/<name>`.
 */
import { AtfedError } from '../errors.ts'
import type { LexiconRegistry } from './registry.ts'
import type { LexParamField, LexParamScalar } from './schema.ts'
import { checkBoolean, checkInteger, checkString, invalidValue } from './validate-scalars.ts'

export type RawParams = URLSearchParams | { readonly [name: string]: string | readonly string[] | undefined }
export type ParamScalar = string | number | boolean
export type ParamValue = ParamScalar | ParamScalar[]

const INTEGER_TEXT = /^-?[0-9]+$/

function rawValues(params: RawParams, name: string): readonly string[] {
  if (params instanceof URLSearchParams) return params.getAll(name)
  const v = params[name]
  if (v === undefined) return []
  return typeof v === 'string' ? [v] : v
}

function coerceScalar(path: string, def: LexParamScalar, text: string): ParamScalar {
  switch (def.type) {
    case 'string':
      checkString('InvalidRequest', path, def, text)
      return text
    case 'integer': {
      const n = INTEGER_TEXT.test(text) ? Number(text) : NaN
      checkInteger('InvalidRequest', path, def, n)
      return n
    }
    case 'boolean': {
      if (text !== 'true' && text !== 'false') invalidValue('InvalidRequest', path, 'must be "true" or "false"')
      const b = text === 'true'
      checkBoolean('InvalidRequest', path, def, b)
      return b
    }
  }
}

function coerceParam(path: string, def: LexParamField, texts: readonly string[]): ParamValue {
  if (def.type !== 'array') {
    if (texts.length > 1) invalidValue('InvalidRequest', path, 'must be given once')
    return coerceScalar(path, def, texts[0] as string)
  }
  if (def.maxLength !== undefined && texts.length > def.maxLength) {
    invalidValue('InvalidRequest', path, `must not have more than ${def.maxLength} elements`)
  }
  if (def.minLength !== undefined && texts.length < def.minLength) {
    invalidValue('InvalidRequest', path, `must not have fewer than ${def.minLength} elements`)
  }
  return texts.map((text, i) => coerceScalar(`${path}/${i}`, def.items, text))
}

/**
 * Coerces and validates the query-string params of method `nsid`.
 * Throws `LexiconNotFound` when the registry has no such method.
 */
export function validateParams(
  registry: LexiconRegistry,
  nsid: string,
  params: RawParams,
): { [name: string]: ParamValue } {
  const def = registry.getMethodDef(nsid)
  if (def === undefined) throw new AtfedError('LexiconNotFound', `no XRPC method lexicon for ${nsid}`)
  const out: { [name: string]: ParamValue } = {}
  if (def.parameters === undefined) return out
  for (const [name, propDef] of Object.entries(def.parameters.properties)) {
    const path = `Params/${name}`
    const texts = rawValues(params, name)
    if (texts.length > 0) {
      out[name] = coerceParam(path, propDef, texts)
    } else if (propDef.type !== 'array' && propDef.default !== undefined) {
      out[name] = propDef.default
    } else if (def.parameters.required.includes(name)) {
      invalidValue('InvalidRequest', path, 'is required')
    }
  }
  return out
}
