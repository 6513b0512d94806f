/**
 * Operator routes, indigo's names and HTTP Basic auth (user `admin`, the
 * `--admin-password`); without a configured password every route answers
 * 401. Bodies are JSON ({error, message} on failure, like XRPC).
 *
 *   GET  /admin/pds/list                                   → {hosts: [host detail]}
 *   POST /admin/pds/requestCrawl  {hostname}               add a host (no daily new-host limit)
 *   POST /admin/pds/block         {host}                   ban: status banned, stream closed
 *   POST /admin/pds/unblock       {host}                   unban: status active, stream reopened
 *   POST /admin/pds/changeLimits  {host, accountsMax?, eventsPerSecond?, eventsPerHour?, eventsPerDay?}
 *
 * `atfed admin hosts list|ban|unban|limits` (cli/relay-admin.ts) speaks these.
 */
import { timingSafeEqual } from 'node:crypto'
import express from 'express'
import { AtfedError } from '../../core/errors.ts'
import { RELAY_ADMIN_BODY_BYTES_MAX } from '../../core/limits.ts'
import { XrpcError, toXrpcError } from '../../core/xrpc/errors.ts'
import { sendError } from '../../core/xrpc/respond.ts'
import type { RelayContext } from '../context.ts'
import { applyLimitsChange, parseLimitsChange } from '../hosts/host-limits.ts'
import { parseHostInput } from '../hosts/host-name.ts'
import type { HostRecord } from '../hosts/host-registry.ts'
import { hostDetail } from './views.ts'

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function checkBasicAuth(header: string | undefined, password: string | null): void {
  const unauthorized = new XrpcError(401, 'AuthenticationRequired', 'admin credentials required', {
    headers: { 'WWW-Authenticate': 'Basic realm="relay admin"' },
  })
  if (password === null || header === undefined || !header.startsWith('Basic ')) throw unauthorized
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0 || decoded.slice(0, colon) !== 'admin' || !sameSecret(decoded.slice(colon + 1), password)) throw unauthorized
}

function bodyOf(req: express.Request): { readonly [key: string]: unknown } {
  const body: unknown = req.body
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AtfedError('InvalidRequest', 'a JSON object body is required')
  return body as { readonly [key: string]: unknown }
}

function knownHost(ctx: RelayContext, body: { readonly [key: string]: unknown }): HostRecord {
  if (typeof body['host'] !== 'string') throw new AtfedError('InvalidRequest', 'body must have a string "host"')
  const { hostname } = parseHostInput(body['host'], { dev: true })
  const record = ctx.hosts.get(hostname)
  if (record === undefined) throw new AtfedError('HostNotFound', `unknown host: ${hostname}`)
  return record
}

type Handler = (req: express.Request) => Promise<unknown> | unknown

export function adminRoutes(ctx: RelayContext): express.Router {
  const router = express.Router()
  const route = (handler: Handler): express.RequestHandler => (req, res) => {
    void (async () => {
      try {
        checkBasicAuth(req.headers.authorization, ctx.config.adminPassword)
        res.json((await handler(req)) ?? { success: true })
      } catch (err) {
        const xrpcErr = toXrpcError(err)
        if (xrpcErr.status === 500) ctx.logLine(`relay: admin route failed: ${String(err)}`)
        sendError(res, xrpcErr)
      }
    })()
  }
  router.use('/admin', express.json({ limit: RELAY_ADMIN_BODY_BYTES_MAX }))
  router.get('/admin/pds/list', route(() => {
    const now = Date.now()
    return { hosts: ctx.hosts.page(null, Number.MAX_SAFE_INTEGER).map((r) => hostDetail(r, ctx.hosts, now)) }
  }))
  router.post('/admin/pds/requestCrawl', route(async (req) => {
    const hostname = bodyOf(req)['hostname']
    if (typeof hostname !== 'string') throw new AtfedError('InvalidRequest', 'body must have a string "hostname"')
    const record = await ctx.crawler.requestCrawl(hostname, { admin: true })
    return hostDetail(record, ctx.hosts, Date.now())
  }))
  router.post('/admin/pds/block', route(async (req) => {
    const record = knownHost(ctx, bodyOf(req))
    ctx.hosts.update(record, (r) => (r.status = 'banned'))
    ctx.sequencer.poke()
    await ctx.slurper.unsubscribe(record.hostname)
  }))
  router.post('/admin/pds/unblock', route(async (req) => {
    const record = knownHost(ctx, bodyOf(req))
    if (record.status !== 'banned') return { success: true }
    ctx.hosts.update(record, (r) => (r.status = 'active'))
    ctx.sequencer.poke()
    ctx.slurper.subscribe(record)
  }))
  router.post('/admin/pds/changeLimits', route((req) => {
    const body = bodyOf(req)
    const record = knownHost(ctx, body)
    const limits = applyLimitsChange(record.limits, parseLimitsChange(body), record.trusted)
    ctx.hosts.update(record, (r) => (r.limits = limits))
    ctx.sequencer.poke()
    ctx.slurper.setLimits(record.hostname, limits)
    return hostDetail(record, ctx.hosts, Date.now())
  }))
  // express.json's own failures (bad JSON, too large) in the same {error, message} shape.
  router.use('/admin', ((err: unknown, _req, res, _next) => {
    const status = (err as { status?: unknown }).status
    const xrpcErr = typeof status === 'number' && status >= 400 && status < 500 ? new XrpcError(status, 'InvalidRequest', 'bad request body') : toXrpcError(err)
    sendError(res, xrpcErr)
  }) as express.ErrorRequestHandler)
  return router
}
