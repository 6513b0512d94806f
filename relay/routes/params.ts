/**
 * Query-parameter parsing for the relay's XRPC routes (the router hands over
 * raw strings; the relay does not load the lexicon validator for six small
 * methods). Bad values are 400 'InvalidRequest', as the lexicon layer would
 * answer.
 */
import { invalidRequest } from '../../core/xrpc/errors.ts'
import type { XrpcParams } from '../../core/xrpc/server.ts'
import { isDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'

export function stringParam(params: XrpcParams, name: string): string | null {
  const value = params[name]
  if (value === undefined) return null
  if (typeof value !== 'string') throw invalidRequest(`${name} must be given once`)
  return value
}

export function requiredParam(params: XrpcParams, name: string): string {
  const value = stringParam(params, name)
  if (value === null || value === '') throw invalidRequest(`Error: Params must have the property "${name}"`)
  return value
}

export function didParam(params: XrpcParams, name = 'did'): Did {
  const value = requiredParam(params, name)
  if (!isDid(value)) throw invalidRequest(`${name} must be a DID`)
  return value
}

/** `limit` as an integer in 1..max, `fallback` when absent. */
export function limitParam(params: XrpcParams, fallback: number, max: number): number {
  const text = stringParam(params, 'limit')
  if (text === null) return fallback
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw invalidRequest(`limit must be an integer from 1 to ${max}`)
  return n
}
