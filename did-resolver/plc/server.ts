/**
 * The PLC directory over HTTP, speaking the public directory's API:
 *
 *   POST /:did             submit a signed op (JSON) → 200 "OK"
 *   GET  /:did             DID document (application/did+ld+json)
 *   GET  /:did/data        PLC state {did, rotationKeys, verificationMethods, alsoKnownAs, services}
 *   GET  /:did/log         active ops, oldest first
 *   GET  /:did/log/audit   every entry {did, operation, cid, nullified, createdAt}
 *   GET  /:did/log/last    newest active op (may be a tombstone)
 *   GET  /export           JSON lines; ?after=<ISO time> (or none): entries by createdAt;
 *                          ?after=<integer>: entries by seq, with `seq` and `type`; ?count ≤ 1000
 *   GET  /_health          {version}
 *
 * Errors are `{error, message}` with the reference's `message` field: 400 for
 * every refused op (the error name says which rule), 404 for an unknown DID,
 * 410 for a tombstoned one (plc.directory's choice; the TS reference says
 * 404), 400 InvalidDid for a path that is not a did:plc (the reference
 * answers 404), 413 for a body over PLC_REQUEST_BODY_BYTES_MAX, 503 when the
 * write queue is full, 500 with no detail for our own bugs.
 */
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import express, { type ErrorRequestHandler, type Request, type Response } from 'express'
import { AtfedError } from '../../core/errors.ts'
import { PLC_EXPORT_COUNT_MAX, PLC_REQUEST_BODY_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcDirectory, parsePlcDidParam } from './directory.ts'
import { opToData, opsToDidDocument } from './document.ts'
import type { StoredEntry } from './store.ts'

export const PLC_SERVER_VERSION = 'atfed-plc/0.1.0'

const STATUS: { readonly [name: string]: number } = {
  InvalidDid: 400,
  InvalidRequest: 400,
  InvalidOperation: 400,
  LimitExceeded: 400,
  OperationTooLarge: 400,
  DuplicateOperation: 400,
  MisorderedOperation: 400,
  InvalidSignature: 400,
  GenesisHashMismatch: 400,
  ImproperOperation: 400,
  LateRecovery: 400,
  RateLimitExceeded: 400,
  DidNotFound: 404,
  DidDeactivated: 410,
  PayloadTooLarge: 413,
  DirectoryBusy: 503,
}

function auditJson(e: StoredEntry) {
  return { did: e.did, operation: e.operation, cid: e.cid, nullified: e.nullified, createdAt: new Date(e.createdAt).toISOString() }
}

async function lastOrThrow(directory: PlcDirectory, rawDid: string): Promise<{ did: Did; entry: StoredEntry }> {
  const did = parsePlcDidParam(rawDid)
  const entry = await directory.lastEntry(did)
  if (entry === null) throw new AtfedError('DidNotFound', `DID not registered: ${did}`)
  return { did, entry }
}

function gone(did: Did): AtfedError<'DidDeactivated'> {
  return new AtfedError('DidDeactivated', `DID not available: ${did}`)
}

function parseExportQuery(req: Request): { count: number; after: string | undefined } {
  const rawCount = req.query['count']
  const count = typeof rawCount === 'string' ? Number.parseInt(rawCount, 10) : PLC_EXPORT_COUNT_MAX
  if (!Number.isSafeInteger(count) || count < 1) throw new AtfedError('InvalidRequest', 'Invalid count parameter')
  const rawAfter = req.query['after']
  if (rawAfter !== undefined && typeof rawAfter !== 'string') throw new AtfedError('InvalidRequest', 'Invalid after parameter')
  return { count: Math.min(count, PLC_EXPORT_COUNT_MAX), after: rawAfter }
}

async function exportLines(directory: PlcDirectory, req: Request): Promise<string[]> {
  const { count, after } = parseExportQuery(req)
  if (after !== undefined && /^\d+$/.test(after)) {
    const seq = Number(after)
    if (!Number.isSafeInteger(seq)) throw new AtfedError('InvalidRequest', 'Invalid after parameter')
    const entries = await directory.store.exportBySeq(seq, count)
    return entries.map((e) => JSON.stringify({ seq: e.seq, type: 'sequenced_op', ...auditJson(e) }))
  }
  const afterMs = after === undefined || after === '' ? null : Date.parse(after)
  if (afterMs !== null && Number.isNaN(afterMs)) throw new AtfedError('InvalidRequest', 'Invalid after parameter')
  const entries = await directory.store.exportByTime(afterMs, count)
  return entries.map((e) => JSON.stringify(auditJson(e)))
}

function routes(directory: PlcDirectory): express.Router {
  const router = express.Router()
  router.get('/_health', (_req, res) => {
    res.json({ version: PLC_SERVER_VERSION })
  })
  router.get('/export', async (req, res) => {
    const lines = await exportLines(directory, req)
    res.status(200).type('application/jsonlines').send(lines.join('\n'))
  })
  router.get('/:did', async (req, res) => {
    const { did, entry } = await lastOrThrow(directory, req.params['did'] as string)
    const doc = opsToDidDocument(did, entry.operation)
    if (doc === null) throw gone(did)
    res.type('application/did+ld+json').send(JSON.stringify(doc))
  })
  router.get('/:did/data', async (req, res) => {
    const { did, entry } = await lastOrThrow(directory, req.params['did'] as string)
    const data = opToData(did, entry.operation)
    if (data === null) throw gone(did)
    res.json(data)
  })
  router.get('/:did/log', async (req, res) => {
    const log = await directory.activeLog(parsePlcDidParam(req.params['did'] as string))
    if (log.length === 0) throw new AtfedError('DidNotFound', `DID not registered: ${req.params['did']}`)
    res.json(log.map((e) => e.operation))
  })
  router.get('/:did/log/audit', async (req, res) => {
    const log = await directory.auditLog(parsePlcDidParam(req.params['did'] as string))
    if (log.length === 0) throw new AtfedError('DidNotFound', `DID not registered: ${req.params['did']}`)
    res.json(log.map(auditJson))
  })
  router.get('/:did/log/last', async (req, res) => {
    const { entry } = await lastOrThrow(directory, req.params['did'] as string)
    res.json(entry.operation)
  })
  router.post('/:did', async (req, res) => {
    await directory.submit(req.params['did'] as string, req.body)
    res.sendStatus(200)
  })
  return router
}

const onError: ErrorRequestHandler = (err: unknown, _req: Request, res: Response, next) => {
  if (res.headersSent) return next(err)
  const bodyError = err as { type?: string } | null
  if (bodyError?.type === 'entity.too.large') {
    return res.status(413).json({ error: 'PayloadTooLarge', message: `body over ${PLC_REQUEST_BODY_BYTES_MAX} bytes` })
  }
  if (bodyError?.type === 'entity.parse.failed') {
    return res.status(400).json({ error: 'InvalidOperation', message: 'body is not valid JSON' })
  }
  const status = err instanceof AtfedError ? STATUS[err.name] : undefined
  if (err instanceof AtfedError && status !== undefined) {
    return res.status(status).json({ error: err.name, message: err.message })
  }
  process.stderr.write(`plc: internal error: ${(err as Error)?.stack ?? String(err)}\n`)
  return res.status(500).json({ error: 'InternalServerError', message: 'Internal Server Error' })
}

export function createPlcApp(directory: PlcDirectory): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.use(express.json({ limit: PLC_REQUEST_BODY_BYTES_MAX }))
  app.use('/', routes(directory))
  app.use(onError)
  return app
}

export type PlcServerOptions = {
  port: number
  dataDir: string
  host?: string
  /** Injected clock (ms since the epoch), for tests. */
  now?: () => number
}

export type PlcServer = { url: string; directory: PlcDirectory; close(): Promise<void> }

export async function startPlcServer(options: PlcServerOptions): Promise<PlcServer> {
  const host = options.host ?? '127.0.0.1'
  const directory = await PlcDirectory.open({ dataDir: options.dataDir, ...(options.now ? { now: options.now } : {}) })
  const server = createPlcApp(directory).listen(options.port, host)
  try {
    await once(server, 'listening')
  } catch (err) {
    await directory.close()
    throw new AtfedError('ListenFailed', `cannot listen on ${host}:${options.port}`, { cause: err })
  }
  const { port } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closing: Promise<void> | null = null
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
      await directory.close()
    })()
    return closing
  }
  return { url, directory, close }
}
