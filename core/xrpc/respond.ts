/**
 * Writing XRPC responses: handler outputs and errors.
 *
 * Outputs: nothing (200, empty body: procedures without output), JSON
 * (`{encoding: 'application/json', body}` → JSON.stringify), bytes, or a
 * stream (Readable or async iterable of bytes) piped with backpressure. A
 * stream that fails after the headers are out cannot change the status: the
 * response is destroyed so the client sees a truncated body, never a
 * "complete" corrupt one.
 *
 * Errors: `{error, message}` as JSON with the error's status and headers; a
 * 500 never carries details (errors.ts). If the headers already went out the
 * connection is destroyed instead.
 */
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assert } from '../errors.ts'
import type { XrpcError } from './errors.ts'

export type OutputHeaders = { readonly [name: string]: string }

export type XrpcOutput =
  | { readonly encoding: 'application/json'; readonly body: unknown; readonly headers?: OutputHeaders }
  | {
      readonly encoding: string
      readonly body: Uint8Array | Readable | AsyncIterable<Uint8Array>
      readonly headers?: OutputHeaders
    }

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'

function setHeaders(res: ServerResponse, headers: OutputHeaders | undefined): void {
  if (headers === undefined) return
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  assert(typeof text === 'string', 'JSON output must be a JSON value')
  res.statusCode = status
  res.setHeader('Content-Type', JSON_CONTENT_TYPE)
  res.setHeader('Content-Length', String(Buffer.byteLength(text)))
  res.end(text)
}

/** Write a handler's output (already validated). */
export async function sendOutput(res: ServerResponse, output: XrpcOutput | undefined): Promise<void> {
  if (output === undefined) {
    res.statusCode = 200
    res.end()
    return
  }
  setHeaders(res, output.headers)
  if (output.encoding === 'application/json') {
    sendJson(res, 200, output.body)
    return
  }
  const body = output.body
  res.statusCode = 200
  res.setHeader('Content-Type', output.encoding)
  if (body instanceof Uint8Array) {
    res.setHeader('Content-Length', String(body.byteLength))
    res.end(body)
    return
  }
  assert(typeof body === 'object' && body !== null && Symbol.asyncIterator in body, 'output body must be bytes or a stream')
  const stream = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>, { objectMode: false })
  // pipeline destroys `res` on failure, which cuts the connection mid-body.
  await pipeline(stream, res)
}

export function sendError(res: ServerResponse, err: XrpcError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  setHeaders(res, err.headers)
  sendJson(res, err.status, err.payload())
}
