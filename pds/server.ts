/**
 * The PDS HTTP server: `startPds(config)` → `{ url, ctx, close() }`.
 *
 * Start-up order: bind the port first (port 0 picks one), because the public
 * URL and service DID of a `localhost` PDS contain the port; then build the
 * context (context.ts), then the express app, then attach it to the socket.
 * Registered XRPC methods skip the express stack (xrpc-fast-path.ts: same
 * result, less work per request); the app serves everything else.
 * The app, top to bottom: CORS (every origin, as the reference), the basic
 * routes (basic-routes.ts: `_health`, `/.well-known/*`), the admin page
 * (`/admin`, dashboard/routes.ts: static, its data only via admin XRPC), the
 * `subscribeRepos` WebSocket (core/stream subscription-server on the same
 * http.Server; a plain GET there is 405/426), the XRPC router, then a JSON
 * 404 for everything else.
 *
 * HOW TO ADD A ROUTE MODULE: write `pds/routes/<area>.ts` exporting
 * `register<Area>Routes(router: XrpcRouter, ctx: PdsContext): void`, which
 * calls `router.query(nsid, handler, opts)` / `router.procedure(...)` per
 * method (core/xrpc/server.ts). Then add it to `ROUTE_MODULES` below (one
 * import, one entry). Inside a module:
 * - auth: `auth: ctx.auth.access({ checkTakedown: true })`, `.access({scopes:
 *   'full'})`, `.refresh()`, `.admin()`, `.optionalAccessOrAdmin()`
 *   (auth/verifier.ts); the handler gets the credentials as `auth`;
 * - params arrive coerced by the method's lexicon; JSON inputs arrive as
 *   data-model values (CIDs, bytes), already lexicon-checked
 *   (lexicon-hooks.ts; `validateInput: rawJsonInput(...)` keeps records as
 *   JSON, see routes/repo.ts); return `{ encoding: 'application/json', body }`
 *   with `lexToJson` for data-model values;
 * - throw `AtfedError(name, message)` for bad input (400 unless the name is
 *   in core/xrpc/errors.ts STATUS_BY_NAME) or `XrpcError(status, name, msg)`;
 * - rate limits: `rateLimits: [perIp('bucket'), perDid('bucket')]` (rate-limits.ts);
 * - repo changes go through `ctx.writer` (writes.ts) only; other state
 *   changes that need a firehose event use `ctx.writer.storeWithEvents`
 *   (the event and the change are durable together); a module that must see every repo
 *   write pushes a `WriteHook` onto `ctx.writeHooks` when it registers;
 * - module state that needs shutting down (timers, sockets) pushes a
 *   function onto `ctx.cleanups`;
 * - login extensions (app passwords) set `ctx.loginHooks.checkAppPassword`;
 *   the invite gate is accounts/invite-check.ts; migration-in signups are
 *   accounts/create-account.ts `createAccountForExistingDid`.
 *
 * WHAT THE CONTEXT HOLDS (context.ts `PdsContext`): config, publicUrl,
 * serviceDid, the level `db` and its stores (accounts, sessions, repos,
 * refs, events), the write path (`writer`, `writeHooks`), signing keys,
 * the server's PLC `rotationKey`, `sessionSecret`, `auth`, `lexicons`,
 * `idResolver`, `plc` client, `rateLimiter`, `loginHooks`, `cleanups`.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { AtfedError } from '../core/errors.ts'
import { XRPC_BINARY_BODY_TIMEOUT_MS, XRPC_BODY_IDLE_TIMEOUT_MS } from '../core/limits.ts'
import { respondWithoutUpgrade, SubscriptionServer } from '../core/stream/subscription-server.ts'
import { XrpcError, toXrpcError } from '../core/xrpc/errors.ts'
import { sendError } from '../core/xrpc/respond.ts'
import { createXrpcRouter, type XrpcRouter } from '../core/xrpc/server.ts'
import { basicRoutes } from './basic-routes.ts'
import { startCrawlers } from './crawlers.ts'
import { publicUrlFor, serviceDidFor, type PdsConfig } from './config.ts'
import { closePdsContext, createPdsContext, type PdsContext } from './context.ts'
import { registerAdminStatsRoutes, watchFirehose } from './dashboard/admin-stats.ts'
import { adminPageRoutes } from './dashboard/routes.ts'
import { lexiconHooks } from './lexicon-hooks.ts'
import { proxyRoutes } from './proxy.ts'
import { GLOBAL_RATE_LIMITS } from './rate-limits.ts'
import { registerBlobRoutes } from './routes/blobs.ts'
import { registerExtrasRoutes } from './routes/extras.ts'
import { registerIdentityRoutes } from './routes/identity.ts'
import { registerMigrationRoutes } from './routes/migration.ts'
import { registerRepoRoutes } from './routes/repo.ts'
import { registerServerRoutes } from './routes/server.ts'
import { registerSyncRoutes } from './routes/sync.ts'
import { xrpcFastPath } from './xrpc-fast-path.ts'

export type RouteModule = (router: XrpcRouter, ctx: PdsContext) => void

export const ROUTE_MODULES: readonly RouteModule[] = [
  registerServerRoutes,
  registerRepoRoutes,
  registerSyncRoutes,
  registerIdentityRoutes,
  registerMigrationRoutes,
  registerBlobRoutes,
  registerExtrasRoutes,
  registerAdminStatsRoutes,
]

export const SUBSCRIBE_REPOS_PATH = '/xrpc/com.atproto.sync.subscribeRepos'

export type PdsServer = { url: string; ctx: PdsContext; close(): Promise<void> }

export type StartPdsOptions = { now?: () => number }

function cors(req: express.Request, res: express.Response, next: express.NextFunction): void {
  res.setHeader('Access-Control-Allow-Origin', '*')
  if (req.method !== 'OPTIONS') return next()
  res.setHeader('Access-Control-Allow-Methods', 'GET,HEAD,PUT,PATCH,POST,DELETE')
  const requested = req.headers['access-control-request-headers']
  if (requested !== undefined) res.setHeader('Access-Control-Allow-Headers', requested)
  res.setHeader('Access-Control-Max-Age', '86400')
  res.statusCode = 204
  res.setHeader('Content-Length', '0')
  res.end()
}

function buildApp(ctx: PdsContext): { app: express.Express; router: XrpcRouter } {
  const app = express()
  app.disable('x-powered-by')
  app.use(cors)
  app.use(basicRoutes(ctx))
  app.use(adminPageRoutes())
  app.get(SUBSCRIBE_REPOS_PATH, respondWithoutUpgrade)
  const router = createXrpcRouter({
    unknownMethods: 'next', // to the atproto-proxy forwarder (proxy.ts), which answers 501 without the header
    defaults: lexiconHooks(ctx.lexicons, { validateOutput: ctx.config.dev }),
    ...(ctx.rateLimiter === null ? {} : { rateLimiter: ctx.rateLimiter, globalRateLimits: GLOBAL_RATE_LIMITS }),
  })
  for (const register of ROUTE_MODULES) register(router, ctx)
  app.use(router.middleware)
  app.use(proxyRoutes(ctx))
  app.use((_req, res) => sendError(res, new XrpcError(404, 'NotFound', 'Not Found')))
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const xrpcErr = toXrpcError(err)
    if (xrpcErr.status === 500) console.error('pds: internal error:', err)
    sendError(res, xrpcErr)
  })
  return { app, router }
}

export async function startPds(config: PdsConfig, options: StartPdsOptions = {}): Promise<PdsServer> {
  const server = http.createServer()
  // Node cuts any request still receiving its body after requestTimeout (default 300 s) with a bare 408:
  // uploads and importRepo bodies are bounded by the XRPC body timers instead (whole body and idle).
  server.requestTimeout = XRPC_BINARY_BODY_TIMEOUT_MS + XRPC_BODY_IDLE_TIMEOUT_MS
  server.listen(config.port, config.host)
  try {
    await once(server, 'listening')
  } catch (err) {
    throw new AtfedError('ListenFailed', `cannot listen on ${config.host}:${config.port}`, { cause: err })
  }
  const { port } = server.address() as AddressInfo
  let ctx: PdsContext
  try {
    ctx = await createPdsContext(config, {
      publicUrl: publicUrlFor(config, port),
      serviceDid: serviceDidFor(config, port),
      ...(options.now === undefined ? {} : { now: options.now }),
    })
  } catch (err) {
    server.close()
    throw err
  }
  const subscriptions = new SubscriptionServer(server, { log: ctx.events, path: SUBSCRIBE_REPOS_PATH })
  watchFirehose(ctx, () => subscriptions.stats())
  const { app, router } = buildApp(ctx)
  server.on('request', xrpcFastPath(app, router))
  startCrawlers(ctx, { subscribers: () => subscriptions.stats().subscribers })
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      await subscriptions.close()
      server.closeAllConnections()
      await closed
      await closePdsContext(ctx)
    })()
    return closing
  }
  return { url: `http://${host}:${port}`, ctx, close }
}
