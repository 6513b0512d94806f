/**
 * JWS compact serialization (RFC 7515 §7.1): `b64url(header).b64url(payload).b64url(sig)`,
 * parsed strictly and cheaply, before any key or signature work.
 *
 * What `splitCompactJwt` always checks, in order: the token is a string of at
 * most JWT_LENGTH_MAX chars; exactly three segments; each segment is
 * canonical base64url (alphabet `A-Z a-z 0-9 - _`, no padding, never a lone
 * trailing char, unused trailing bits zero, so one token has one spelling);
 * header and payload are UTF-8 JSON objects (not arrays, not null).
 * It does not look at any claim. Every failure is an AtfedError whose name the
 * caller picks (`BadJwt` for service tokens, `InvalidToken` for sessions).
 */
import { Buffer } from 'node:buffer'
import { AtfedError } from '../errors.ts'
import { JWT_LENGTH_MAX } from '../limits.ts'

export type JsonObject = { readonly [key: string]: unknown }

export type CompactJwt = {
  readonly header: JsonObject
  readonly payload: JsonObject
  /** The ASCII bytes of `header.payload`: what the signature covers. */
  readonly signingInput: Uint8Array
  readonly signature: Uint8Array
}

const BASE64URL_CHARS = /^[A-Za-z0-9_-]*$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The bytes of canonical unpadded base64url text, or null. */
export function decodeBase64UrlStrict(text: string): Uint8Array | null {
  if (!BASE64URL_CHARS.test(text) || text.length % 4 === 1) return null
  const bytes = Buffer.from(text, 'base64url')
  // Non-zero unused bits decode to the same bytes as their zeroed twin: refuse them.
  if (bytes.toString('base64url') !== text) return null
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

export function encodeJsonSegment(value: JsonObject): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

function decodeJsonSegment(text: string, what: string, errorName: string): JsonObject {
  const bytes = decodeBase64UrlStrict(text)
  if (bytes === null) throw new AtfedError(errorName, `jwt ${what} is not canonical base64url`)
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch {
    throw new AtfedError(errorName, `jwt ${what} is not UTF-8 JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AtfedError(errorName, `jwt ${what} is not a JSON object`)
  }
  return value as JsonObject
}

/** Split and decode a compact JWS; see the module header for what is checked. */
export function splitCompactJwt(token: unknown, errorName: string): CompactJwt {
  if (typeof token !== 'string') throw new AtfedError(errorName, 'jwt is not a string')
  if (token.length > JWT_LENGTH_MAX) throw new AtfedError(errorName, `jwt is longer than ${JWT_LENGTH_MAX} chars`)
  const parts = token.split('.')
  if (parts.length !== 3) throw new AtfedError(errorName, 'poorly formatted jwt: expected 3 segments')
  const [headerText, payloadText, sigText] = parts as [string, string, string]
  const header = decodeJsonSegment(headerText, 'header', errorName)
  const payload = decodeJsonSegment(payloadText, 'payload', errorName)
  const signature = decodeBase64UrlStrict(sigText)
  if (signature === null) throw new AtfedError(errorName, 'jwt signature is not canonical base64url')
  const signingInput = Buffer.from(`${headerText}.${payloadText}`, 'ascii')
  return { header, payload, signingInput: new Uint8Array(signingInput), signature }
}

/** `header.payload.signature` with `sign` applied to the ASCII signing input. */
export function formatCompactJwt(
  header: JsonObject,
  payload: JsonObject,
  sign: (signingInput: Uint8Array) => Uint8Array,
): string {
  const input = `${encodeJsonSegment(header)}.${encodeJsonSegment(payload)}`
  const signature = sign(new Uint8Array(Buffer.from(input, 'ascii')))
  return `${input}.${encodeBase64Url(signature)}`
}

/** Optional claim readers: absent is fine, a wrong type is not. */
export function claim(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

export function optionalString(obj: JsonObject, key: string, errorName: string): string | undefined {
  const value = claim(obj, key)
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new AtfedError(errorName, `jwt "${key}" must be a string`)
  return value
}

export function optionalNumber(obj: JsonObject, key: string, errorName: string): number | undefined {
  const value = claim(obj, key)
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new AtfedError(errorName, `jwt "${key}" must be a number`)
  }
  return value
}
