/**
 * Request bodies: bounded, decoded, timed.
 *
 * `openRequestBody(req, limits)` returns the body as a Readable of decoded
 * bytes. It throws at once (nothing read yet) for a malformed Content-Length
 * (400), a Content-Length over the cap (413) and an unknown or too deeply
 * stacked Content-Encoding (415). The stream then errors with an XrpcError:
 * 413 when the DECODED bytes pass `bytesMax` (so a gzip bomb stops after
 * `bytesMax` bytes of output, however small its input), 400 for a corrupt
 * encoding or a client that went away, 408 when the whole body takes longer
 * than `timeoutMs` or the client pauses longer than `idleTimeoutMs`
 * (slow-loris). The idle clock only runs while we are waiting for the
 * network: when the consumer applies backpressure, the pause is ours.
 *
 * `readRequestBody` of a body without Content-Encoding skips the stream
 * plumbing (`readPlainBody`: same limits and errors, fewer objects).
 *
 * Tricky bit: `req` is never piped with `stream.pipeline` and never
 * destroyed here, because destroying it destroys the socket and the client
 * would get a reset instead of our 413. On error the body is unpiped; the
 * server then answers with `Connection: close` and drains (`discardRequestBody`).
 */
import type { IncomingMessage } from 'node:http'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import zlib from 'node:zlib'
import { XRPC_BODY_IDLE_TIMEOUT_MS, XRPC_CONTENT_ENCODINGS_MAX } from '../limits.ts'
import { XrpcError, invalidRequest } from './errors.ts'

export type BodyLimits = {
  /** Most decoded bytes accepted. */
  bytesMax: number
  /** Whole body must arrive within this. */
  timeoutMs: number
  /** Longest pause between chunks; default XRPC_BODY_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number
}

/** Reference semantics: no length and no chunking is `missing`; `Content-Length: 0` is `empty`. */
export function bodyPresence(req: IncomingMessage): 'missing' | 'empty' | 'present' {
  if (req.headers['transfer-encoding'] !== undefined) return 'present'
  const length = req.headers['content-length']
  if (length === undefined) return 'missing'
  return length === '0' ? 'empty' : 'present'
}

/** The media type of the request (`application/json`), lower-cased, without parameters. */
export function requestMediaType(req: IncomingMessage): string | undefined {
  const header = req.headers['content-type']
  if (header === undefined) return undefined
  const type = header.split(';', 1)[0]!.trim().toLowerCase()
  return type === '' ? undefined : type
}

export function payloadTooLarge(): XrpcError {
  return new XrpcError(413, 'PayloadTooLarge', 'request entity too large')
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length']
  if (header === undefined) return undefined
  if (!/^[0-9]{1,15}$/.test(header)) throw invalidRequest('invalid content-length')
  return Number(header)
}

function createDecoders(header: string | undefined): Transform[] {
  if (header === undefined) return []
  const codings = header.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity')
  if (codings.length > XRPC_CONTENT_ENCODINGS_MAX) {
    throw new XrpcError(415, 'UnsupportedMediaType', `at most ${XRPC_CONTENT_ENCODINGS_MAX} content-encodings`)
  }
  // Codings are listed in the order they were applied; undo them last-first.
  return codings.reverse().map((coding) => {
    switch (coding) {
      case 'gzip':
      case 'x-gzip':
        return zlib.createGunzip()
      case 'deflate':
        return zlib.createInflate()
      case 'br':
        return zlib.createBrotliDecompress()
      default:
        throw new XrpcError(415, 'UnsupportedMediaType', 'unsupported content-encoding')
    }
  })
}

class ByteCap extends Transform {
  #bytes = 0
  readonly #bytesMax: number
  constructor(bytesMax: number) {
    super()
    this.#bytesMax = bytesMax
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length
    if (this.#bytes > this.#bytesMax) callback(payloadTooLarge())
    else callback(null, chunk)
  }
}

/** The decoded, bounded body stream; see the module header for every failure. */
export function openRequestBody(req: IncomingMessage, limits: BodyLimits): Readable {
  const declared = declaredLength(req)
  if (declared !== undefined && declared > limits.bytesMax) throw payloadTooLarge()
  const decoders = createDecoders(req.headers['content-encoding'])
  const out = new ByteCap(limits.bytesMax)
  out.on('error', () => {}) // the consumer sees errors through its reads; never crash on an unread body
  let source: Readable = req
  for (const decoder of decoders) {
    decoder.on('error', (err) => out.destroy(invalidRequest(`could not decode the request body: ${err.message}`)))
    source = source.pipe(decoder)
  }
  source.pipe(out)
  watchBody(req, out, decoders, limits)
  return out
}

function watchBody(req: IncomingMessage, out: Transform, decoders: Transform[], limits: BodyLimits): void {
  const idleMs = limits.idleTimeoutMs ?? XRPC_BODY_IDLE_TIMEOUT_MS
  const timedOut = () => new XrpcError(408, 'RequestTimeout', 'request body timed out')
  const total = setTimeout(() => out.destroy(timedOut()), limits.timeoutMs)
  let idle = setTimeout(onIdle, idleMs)
  function onIdle(): void {
    // Paused by backpressure: the consumer is slow, not the client.
    if (req.readableFlowing === false || req.complete) idle = setTimeout(onIdle, idleMs)
    else out.destroy(timedOut())
  }
  const onData = () => idle.refresh()
  const onAborted = () => out.destroy(invalidRequest('request body aborted by the client'))
  const onClose = () => {
    if (!req.complete) onAborted()
  }
  req.on('data', onData)
  req.on('close', onClose)
  req.on('error', onAborted)
  const cleanup = () => {
    clearTimeout(total)
    clearTimeout(idle)
    req.off('data', onData)
    req.off('close', onClose)
    req.off('error', onAborted)
    req.unpipe()
    for (const decoder of decoders) {
      decoder.unpipe()
      decoder.destroy()
    }
  }
  out.once('close', cleanup)
  out.once('end', cleanup)
}

/** The whole decoded body, bounded (for JSON and other small bodies). */
export async function readRequestBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  if (req.headers['content-encoding'] === undefined) return readPlainBody(req, limits)
  const body = openRequestBody(req, limits)
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * `readRequestBody` without a Content-Encoding (every JSON call in practice):
 * the same limits and errors as `openRequestBody` — 413 over the cap
 * (declared or counted), 408 on the whole-body or idle clock, 400 when the
 * client goes away — read straight from `req`'s 'data' events, without the
 * cap Transform, pipes and async iterator (a few per cent of a small JSON
 * call's CPU). Never paused here, so the idle clock is always the client's.
 */
function readPlainBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const declared = declaredLength(req)
  if (declared !== undefined && declared > limits.bytesMax) throw payloadTooLarge()
  const idleMs = limits.idleTimeoutMs ?? XRPC_BODY_IDLE_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    const stop = (): void => {
      clearTimeout(total)
      if (idle !== null) clearTimeout(idle)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      req.off('error', onAborted)
    }
    const fail = (err: XrpcError): void => {
      stop()
      reject(err)
    }
    const onTimeout = (): void => fail(new XrpcError(408, 'RequestTimeout', 'request body timed out'))
    const onData = (chunk: Buffer): void => {
      idle?.refresh()
      bytes += chunk.length
      if (bytes > limits.bytesMax) fail(payloadTooLarge())
      else chunks.push(chunk)
    }
    const onEnd = (): void => {
      stop()
      resolve(Buffer.concat(chunks, bytes))
    }
    const onAborted = (): void => fail(invalidRequest('request body aborted by the client'))
    const onClose = (): void => {
      if (!req.complete) onAborted()
    }
    const total = setTimeout(onTimeout, limits.timeoutMs)
    // The idle clock matters only when it is the shorter one (JSON: both 30 s).
    const idle = idleMs < limits.timeoutMs ? setTimeout(onTimeout, idleMs) : null
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('close', onClose)
    req.on('error', onAborted)
  })
}

/**
 * Stop caring about an unread body: answer with `Connection: close` and
 * drain what arrives until the server closes the socket after the response.
 */
export function discardRequestBody(req: IncomingMessage, res: { setHeader(name: string, value: string): unknown; headersSent: boolean }): void {
  if (req.complete) return
  if (!res.headersSent) res.setHeader('Connection', 'close')
  req.unpipe()
  req.resume()
}
