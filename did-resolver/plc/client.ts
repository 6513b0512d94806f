/**
 * A client for a PLC directory (ours or plc.directory): what the PDS uses to
 * create and update its accounts' DIDs, and the CLI to read history.
 *
 * Every request has one deadline (`timeoutMs`, headers and body), a body cap
 * (PLC_CLIENT_RESPONSE_BYTES_MAX, or PLC_CLIENT_LOG_BYTES_MAX for logs),
 * refuses redirects, and parses what comes back strictly (`parsePlcOp` for
 * ops, the same limits for /data). The directory URL is operator config, not
 * stranger input, so there is no private-address check here (that is
 * safe-fetch.ts's job for did:web and handles).
 *
 * Errors: 404 → DidNotFound, 410 → DidDeactivated; a refused op keeps the
 * directory's error name when it sends one (ours does) and is otherwise
 * PlcOpRejected (plc.directory sends only `{message}`); other statuses are
 * PlcRequestFailed; PlcTimeout, PlcUnavailable, ResponseTooLarge and
 * InvalidPlcResponse cover the transport.
 */
import { AtfedError } from '../../core/errors.ts'
import {
  PLC_CLIENT_LOG_BYTES_MAX,
  PLC_CLIENT_RESPONSE_BYTES_MAX,
  PLC_CLIENT_TIMEOUT_MS,
} from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PlcDocumentData } from './document.ts'
import { parsePlcOp, type PlcOp } from './operation.ts'
import type { LogEntry } from './validate.ts'

export type PlcClientOptions = {
  timeoutMs?: number
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch
}

type PlcRequest = { path: string; method?: 'GET' | 'POST'; body?: unknown; bytesMax?: number }

function invalidResponse(message: string, cause?: unknown): AtfedError<'InvalidPlcResponse'> {
  return new AtfedError('InvalidPlcResponse', message, cause === undefined ? undefined : { cause })
}

/**
 * A promise that rejects with PlcTimeout when `signal` aborts. Reads race
 * against it: undici does not always end a body stream that is already
 * being read when the fetch signal aborts, so the deadline is enforced here.
 */
function deadlineOf(signal: AbortSignal, url: string, timeoutMs: number): Promise<never> {
  const deadline = new Promise<never>((_resolve, reject) => {
    const fire = () => reject(new AtfedError('PlcTimeout', `no full answer from ${url} within ${timeoutMs} ms`))
    if (signal.aborted) fire()
    else signal.addEventListener('abort', fire, { once: true })
  })
  deadline.catch(() => undefined) // raced, not awaited on its own
  return deadline
}

async function readCapped(res: Response, bytesMax: number, deadline: Promise<never>): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0')
  if (declared > bytesMax) throw new AtfedError('ResponseTooLarge', `response of ${declared} bytes (max ${bytesMax})`)
  if (res.body === null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline])
      if (done) return Buffer.concat(chunks).toString('utf8')
      total += value.byteLength
      if (total > bytesMax) throw new AtfedError('ResponseTooLarge', `response over ${bytesMax} bytes`)
      chunks.push(value)
    }
  } catch (err) {
    reader.cancel().catch(() => undefined)
    throw err
  }
}

function errorFor(status: number, text: string, path: string): AtfedError {
  let body: { error?: unknown; message?: unknown } = {}
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    // Not JSON: keep the status.
  }
  const message = typeof body.message === 'string' ? body.message.slice(0, 500) : `HTTP ${status} from ${path}`
  if (status === 404) return new AtfedError('DidNotFound', message)
  if (status === 410) return new AtfedError('DidDeactivated', message)
  if (status === 400) {
    const name = typeof body.error === 'string' && /^[A-Za-z]{1,64}$/.test(body.error) ? body.error : 'PlcOpRejected'
    return new AtfedError(name, message)
  }
  return new AtfedError('PlcRequestFailed', `${message} (HTTP ${status})`)
}

function parseAuditEntry(did: Did, raw: unknown): LogEntry {
  const e = raw as { did?: unknown; operation?: unknown; cid?: unknown; nullified?: unknown; createdAt?: unknown }
  if (typeof e !== 'object' || e === null) throw invalidResponse('audit log entry is not an object')
  const createdAt = typeof e.createdAt === 'string' ? Date.parse(e.createdAt) : NaN
  if (e.did !== did || typeof e.cid !== 'string' || typeof e.nullified !== 'boolean' || Number.isNaN(createdAt)) {
    throw invalidResponse('malformed audit log entry')
  }
  return { did, operation: parsePlcOp(e.operation, { allowLegacy: true }), cid: e.cid, nullified: e.nullified, createdAt }
}

export class PlcClient {
  readonly url: string
  private readonly timeoutMs: number
  private readonly fetchFn: typeof fetch

  constructor(url: string, options: PlcClientOptions = {}) {
    this.url = url.replace(/\/+$/, '')
    this.timeoutMs = options.timeoutMs ?? PLC_CLIENT_TIMEOUT_MS
    this.fetchFn = options.fetch ?? fetch
  }

  private async request(req: PlcRequest): Promise<string> {
    const signal = AbortSignal.timeout(this.timeoutMs)
    const deadline = deadlineOf(signal, this.url, this.timeoutMs)
    let res: Response
    try {
      const sent = this.fetchFn(this.url + req.path, {
        method: req.method ?? 'GET',
        redirect: 'error',
        signal,
        headers: req.body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
      })
      res = await Promise.race([sent, deadline])
    } catch (err) {
      if (err instanceof AtfedError) throw err
      if (signal.aborted) throw new AtfedError('PlcTimeout', `no answer from ${this.url} within ${this.timeoutMs} ms`)
      throw new AtfedError('PlcUnavailable', `cannot reach the PLC directory at ${this.url}`, { cause: err })
    }
    let text: string
    try {
      text = await readCapped(res, req.bytesMax ?? PLC_CLIENT_RESPONSE_BYTES_MAX, deadline)
    } catch (err) {
      if (err instanceof AtfedError) throw err
      if (signal.aborted) throw new AtfedError('PlcTimeout', `the PLC directory at ${this.url} answered too slowly`)
      throw new AtfedError('PlcUnavailable', 'the PLC response was cut off', { cause: err })
    }
    if (!res.ok) throw errorFor(res.status, text, req.path)
    return text
  }

  private async getJson(path: string, bytesMax?: number): Promise<unknown> {
    const text = await this.request({ path, ...(bytesMax === undefined ? {} : { bytesMax }) })
    try {
      return JSON.parse(text) as unknown
    } catch (err) {
      throw invalidResponse(`GET ${path} did not return JSON`, err)
    }
  }

  private didPath(did: Did, suffix = ''): string {
    return `/${encodeURIComponent(did)}${suffix}`
  }

  /** The DID document as served (checked to be an object whose id is `did`). */
  async getDocument(did: Did): Promise<{ id: string; [key: string]: unknown }> {
    const doc = (await this.getJson(this.didPath(did))) as { id?: unknown } | null
    if (typeof doc !== 'object' || doc === null || doc.id !== did) throw invalidResponse('DID document id does not match')
    return doc as { id: string }
  }

  async getDocumentData(did: Did): Promise<PlcDocumentData> {
    const raw = (await this.getJson(this.didPath(did, '/data'))) as { [key: string]: unknown } | null
    if (typeof raw !== 'object' || raw === null || raw['did'] !== did) throw invalidResponse('PLC data did does not match')
    const { did: _did, ...fields } = raw
    // The data object is an op's state: reuse the op parser's shapes and limits.
    const op = parsePlcOp({ type: 'plc_operation', ...fields, prev: null, sig: '' })
    if (op.type !== 'plc_operation') throw invalidResponse('unexpected PLC data')
    const { rotationKeys, verificationMethods, alsoKnownAs, services } = op
    return { did, rotationKeys, verificationMethods, alsoKnownAs, services }
  }

  async getLastOp(did: Did): Promise<PlcOp> {
    return parsePlcOp(await this.getJson(this.didPath(did, '/log/last')), { allowLegacy: true })
  }

  /** The active chain of ops, genesis first. */
  async getLog(did: Did): Promise<PlcOp[]> {
    const raw = await this.getJson(this.didPath(did, '/log'), PLC_CLIENT_LOG_BYTES_MAX)
    if (!Array.isArray(raw)) throw invalidResponse('op log is not an array')
    return raw.map((op) => parsePlcOp(op, { allowLegacy: true }))
  }

  /** Every entry, nullified ones included (createdAt as ms). Verify with `validateAuditLog`. */
  async getAuditLog(did: Did): Promise<LogEntry[]> {
    const raw = await this.getJson(this.didPath(did, '/log/audit'), PLC_CLIENT_LOG_BYTES_MAX)
    if (!Array.isArray(raw)) throw invalidResponse('audit log is not an array')
    return raw.map((e) => parseAuditEntry(did, e))
  }

  /** POST a signed op. Throws the directory's error name when it refuses it. */
  async submitOp(did: Did, op: PlcOp): Promise<void> {
    await this.request({ path: this.didPath(did), method: 'POST', body: op })
  }

  async health(): Promise<{ version: string }> {
    const raw = (await this.getJson('/_health')) as { version?: unknown } | null
    if (typeof raw !== 'object' || raw === null || typeof raw.version !== 'string') throw invalidResponse('bad health')
    return { version: raw.version }
  }
}
