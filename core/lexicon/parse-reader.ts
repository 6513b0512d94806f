/**
 * Small typed readers for lexicon JSON: each takes the raw object, a key and
 * the path of the object, and returns the typed value or throws
 * `InvalidLexicon` naming the failing path (`app.bsky.feed.post#main/record/required/0`).
 * Absent keys give `undefined`; present keys of the wrong type are errors.
 */
import { AtfedError } from '../errors.ts'

export type JsonObject = { [key: string]: unknown }

export function invalidLexicon(path: string, message: string): never {
  throw new AtfedError('InvalidLexicon', `${path} ${message}`)
}

export function readObject(value: unknown, path: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    invalidLexicon(path, 'must be an object')
  }
  return value as JsonObject
}

export function optString(obj: JsonObject, key: string, path: string): string | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string') invalidLexicon(`${path}/${key}`, 'must be a string')
  return v
}

export function reqString(obj: JsonObject, key: string, path: string): string {
  const v = optString(obj, key, path)
  if (v === undefined) invalidLexicon(`${path}/${key}`, 'is required')
  return v
}

export function optBoolean(obj: JsonObject, key: string, path: string): boolean | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') invalidLexicon(`${path}/${key}`, 'must be a boolean')
  return v
}

export function optInteger(obj: JsonObject, key: string, path: string): number | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (!Number.isSafeInteger(v)) invalidLexicon(`${path}/${key}`, 'must be an integer')
  return v as number
}

/** A non-negative integer (lengths, sizes). */
export function optCount(obj: JsonObject, key: string, path: string): number | undefined {
  const v = optInteger(obj, key, path)
  if (v !== undefined && v < 0) invalidLexicon(`${path}/${key}`, 'must not be negative')
  return v
}

export function optStringArray(obj: JsonObject, key: string, path: string): string[] | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (!Array.isArray(v)) invalidLexicon(`${path}/${key}`, 'must be an array of strings')
  v.forEach((s, i) => {
    if (typeof s !== 'string') invalidLexicon(`${path}/${key}/${i}`, 'must be a string')
  })
  return [...(v as string[])]
}

export function optIntegerArray(obj: JsonObject, key: string, path: string): number[] | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (!Array.isArray(v)) invalidLexicon(`${path}/${key}`, 'must be an array of integers')
  v.forEach((n, i) => {
    if (!Number.isSafeInteger(n)) invalidLexicon(`${path}/${key}/${i}`, 'must be an integer')
  })
  return [...(v as number[])]
}

/** Copies `description` when present (every def may carry one). */
export function described(obj: JsonObject, path: string): { description?: string } {
  const description = optString(obj, 'description', path)
  return description === undefined ? {} : { description }
}

/** Rejects `min > max` pairs such as minLength/maxLength. */
export function checkRange(min: number | undefined, max: number | undefined, path: string, what: string): void {
  if (min !== undefined && max !== undefined && min > max) {
    invalidLexicon(path, `has min${what} greater than max${what}`)
  }
}
