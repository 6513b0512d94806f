/**
 * What a method accepts as its request body, and reading it.
 *
 * - No `input` spec (every query, and bodiless procedures such as
 *   refreshSession): the body must be absent or empty; clients send no
 *   Content-Type, so none is required. A body → 400.
 * - `{ kind: 'json' }`: `application/json`, read whole under `bytesMax`
 *   (default XRPC_JSON_BODY_BYTES_MAX) and XRPC_JSON_BODY_TIMEOUT_MS, then
 *   JSON.parse. The handler gets the plain JSON value; converting `$link` /
 *   `$bytes` and lexicon checks belong to the `validateInput` hook.
 * - `{ kind: 'bytes' }` (uploadBlob, importRepo): any Content-Type in
 *   `encodings` (default any, including the literal `*`/`*` goat sends); the
 *   handler gets a bounded, decoded stream (body.ts) and the declared type.
 * Messages follow the reference server's wording.
 */
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { XRPC_BINARY_BODY_TIMEOUT_MS, XRPC_JSON_BODY_BYTES_MAX, XRPC_JSON_BODY_TIMEOUT_MS } from '../limits.ts'
import { bodyPresence, openRequestBody, readRequestBody, requestMediaType } from './body.ts'
import { invalidRequest } from './errors.ts'

export type InputSpec =
  | { readonly kind: 'json'; readonly bytesMax?: number }
  | {
      readonly kind: 'bytes'
      readonly bytesMax: number
      /** Accepted media types; default any. */
      readonly encodings?: readonly string[]
      /** Whole-body time limit; default XRPC_BINARY_BODY_TIMEOUT_MS. */
      readonly timeoutMs?: number
    }

export type XrpcInput =
  | { readonly encoding: 'application/json'; readonly body: unknown }
  | { readonly encoding: string; readonly body: Readable }

const JSON_TYPE = 'application/json'

function checkEncoding(req: IncomingMessage, accepted: readonly string[] | undefined): string {
  const type = requestMediaType(req)
  if (type === undefined) throw invalidRequest('Request encoding (Content-Type) required but not provided')
  if (accepted !== undefined && !accepted.includes('*/*') && !accepted.includes(type)) {
    throw invalidRequest(`Wrong request encoding (Content-Type): ${type}`)
  }
  return type
}

/** Read the input `spec` describes; undefined for methods without input. Throws XrpcError. */
export async function readInput(req: IncomingMessage, spec: InputSpec | undefined): Promise<XrpcInput | undefined> {
  const presence = bodyPresence(req)
  if (spec === undefined) {
    if (presence === 'present') throw invalidRequest('A request body was provided when none was expected')
    return undefined
  }
  // An empty body is never valid JSON; for bytes it is a (useless but legal) empty upload.
  if (presence === 'missing' || (presence === 'empty' && spec.kind === 'json')) {
    throw invalidRequest('A request body is expected but none was provided')
  }
  if (spec.kind === 'bytes') {
    const encoding = checkEncoding(req, spec.encodings)
    const body = openRequestBody(req, { bytesMax: spec.bytesMax, timeoutMs: spec.timeoutMs ?? XRPC_BINARY_BODY_TIMEOUT_MS })
    return { encoding, body }
  }
  checkEncoding(req, [JSON_TYPE])
  const bytes = await readRequestBody(req, {
    bytesMax: spec.bytesMax ?? XRPC_JSON_BODY_BYTES_MAX,
    timeoutMs: XRPC_JSON_BODY_TIMEOUT_MS,
  })
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw invalidRequest('Request body is not valid JSON')
  }
  return { encoding: JSON_TYPE, body }
}
