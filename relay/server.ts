/**
 * The relay HTTP server: `startRelay(config)` → `{ url, ctx, close() }`.
 *
 * Start-up: build the context (context.ts), mount the app and both stream
 * servers, and only then bind the port (a consumer that reconnects while a
 * relay restarts is refused until it can be served, never left hanging),
 * then start ingest (configured hosts, then every stored host that is active
 * or offline, each from its persisted cursor). The app, top to bottom:
 * `Server: atfed-relay (atproto-relay)` on every answer (so other relays
 * refuse to crawl us: no loops); `/xrpc/_health` (routes/home.ts); the
 * dashboard: `/`, its files and `/api/stats` (dashboard/routes.ts, rates from
 * dashboard/stats.ts, whose sampling timer stops at shutdown);
 * `/admin/*` (routes/admin.ts); the subscribeRepos WebSocket (core/stream
 * SubscriptionServer over the relay's own log: cursor replay then live,
 * OutdatedCursor, FutureCursor, ConsumerTooSlow, RELAY_SUBSCRIBERS_MAX, a
 * RELAY_SEND_BUFFER_BYTES_MAX / _QUEUE_FRAMES_MAX window per socket; a
 * plain GET there is 405/426); the XRPC router (routes/sync-*.ts); a JSON
 * 404 for the rest.
 *
 * Jetstream: if relay/jetstream/attach.ts exists (written separately), its
 * `attachJetstream(httpServer, { log, path: '/subscribe' })` is called with
 * the same log; its result's `close()` (if any) runs at shutdown.
 *
 * Shutdown: stop accepting, close subscribers, stop ingest (each host's
 * in-flight events are applied), write the last batch, close the db.
 */
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import express from 'express'
import { AtfedError } from '../core/errors.ts'
import { RELAY_SEND_BUFFER_BYTES_MAX, RELAY_SEND_QUEUE_FRAMES_MAX, RELAY_SUBSCRIBERS_MAX } from '../core/limits.ts'
import type { EventLog } from '../core/stream/event-log.ts'
import { respondWithoutUpgrade, SubscriptionServer } from '../core/stream/subscription-server.ts'
import { XrpcError, toXrpcError } from '../core/xrpc/errors.ts'
import { sendError } from '../core/xrpc/respond.ts'
import { createXrpcRouter } from '../core/xrpc/server.ts'
import type { RelayConfig } from './config.ts'
import { closeRelayContext, createRelayContext, startIngest } from './context.ts'
import type { RelayContext, RelayContextOptions } from './context.ts'
import { dashboardRoutes } from './dashboard/routes.ts'
import { RelayStatsSampler } from './dashboard/stats.ts'
import { RELAY_SERVER_MARKER } from './hosts/probe.ts'
import { adminRoutes } from './routes/admin.ts'
import { homeRoutes, RELAY_VERSION } from './routes/home.ts'
import { registerHostRoutes } from './routes/sync-hosts.ts'
import { registerRepoRoutes } from './routes/sync-repos.ts'

export const SUBSCRIBE_REPOS_PATH = '/xrpc/com.atproto.sync.subscribeRepos'
export const JETSTREAM_PATH = '/subscribe'
const SERVER_HEADER = `${RELAY_VERSION} (${RELAY_SERVER_MARKER})`

export type RelayServer = { url: string; ctx: RelayContext; close(): Promise<void> }

type JetstreamAttach = (server: http.Server, options: { log: EventLog; path: string }) => unknown

function buildApp(ctx: RelayContext, options: { jetstream: boolean; stats: RelayStatsSampler }): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.use((_req, res, next) => {
    res.setHeader('Server', SERVER_HEADER)
    next()
  })
  app.use(homeRoutes(ctx))
  app.use(dashboardRoutes(ctx, options.stats))
  app.use(adminRoutes(ctx))
  app.get(SUBSCRIBE_REPOS_PATH, respondWithoutUpgrade)
  if (options.jetstream) app.get(JETSTREAM_PATH, respondWithoutUpgrade)
  const router = createXrpcRouter({ onInternalError: (err, r) => ctx.logLine(`relay: internal error in ${r.nsid}: ${String(err)}`) })
  registerRepoRoutes(router, ctx)
  registerHostRoutes(router, ctx)
  app.use(router.middleware)
  app.use((_req, res) => sendError(res, new XrpcError(404, 'NotFound', 'Not Found')))
  app.use(((err, _req, res, _next) => {
    const xrpcErr = toXrpcError(err)
    if (xrpcErr.status === 500) ctx.logLine(`relay: internal error: ${String(err)}`)
    sendError(res, xrpcErr)
  }) as express.ErrorRequestHandler)
  return app
}

/**
 * Each stream server ignores upgrades for paths it does not serve once
 * another `upgrade` listener exists; this one answers those with a 404.
 */
function rejectUnknownUpgrade(paths: readonly string[]): (req: http.IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    if (paths.includes(new URL(req.url ?? '/', 'http://localhost').pathname)) return
    const body = JSON.stringify({ error: 'NotFound', message: 'no stream at this path' })
    socket.on('error', () => {})
    socket.end(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  }
}

/** Mount the Jetstream endpoint if its module is present (see the module header). */
async function attachJetstream(server: http.Server, ctx: RelayContext): Promise<(() => Promise<void>) | null> {
  const url = new URL('./jetstream/attach.ts', import.meta.url)
  if (!existsSync(url)) return null
  const specifier = url.href // a computed specifier: the module is optional at type-check time
  const mod = (await import(specifier)) as { attachJetstream?: JetstreamAttach }
  if (typeof mod.attachJetstream !== 'function') return null
  const attached = (await mod.attachJetstream(server, { log: ctx.log, path: JETSTREAM_PATH })) as { close?: () => unknown } | undefined
  return async () => {
    await attached?.close?.()
  }
}

type Mounted = { close(): Promise<void> }

/** Everything that answers requests: the stream servers, the stats sampler, the app. */
async function mount(server: http.Server, ctx: RelayContext): Promise<Mounted> {
  const subscriptions = new SubscriptionServer(server, {
    log: ctx.log,
    path: SUBSCRIBE_REPOS_PATH,
    subscribersMax: ctx.tuning.subscribersMax ?? RELAY_SUBSCRIBERS_MAX,
    sendBufferBytesMax: RELAY_SEND_BUFFER_BYTES_MAX,
    sendQueueFramesMax: RELAY_SEND_QUEUE_FRAMES_MAX,
  })
  let closeJetstream: (() => Promise<void>) | null
  try {
    closeJetstream = await attachJetstream(server, ctx)
  } catch (err) {
    await subscriptions.close()
    throw err
  }
  const stats = new RelayStatsSampler({ hosts: ctx.hosts, log: ctx.log, subscribers: () => subscriptions.stats().subscribers })
  server.on('upgrade', rejectUnknownUpgrade(closeJetstream === null ? [SUBSCRIBE_REPOS_PATH] : [SUBSCRIBE_REPOS_PATH, JETSTREAM_PATH]))
  server.on('request', buildApp(ctx, { jetstream: closeJetstream !== null, stats }))
  return {
    async close() {
      stats.close()
      await closeJetstream?.()
      await subscriptions.close()
    },
  }
}

async function listen(server: http.Server, config: RelayConfig): Promise<void> {
  server.listen(config.port, config.bind)
  try {
    await once(server, 'listening')
  } catch (err) {
    throw new AtfedError('ListenFailed', `cannot listen on ${config.bind}:${config.port}`, { cause: err })
  }
}

export async function startRelay(config: RelayConfig, options: RelayContextOptions = {}): Promise<RelayServer> {
  const server = http.createServer()
  const ctx = await createRelayContext(config, options)
  let mounted: Mounted | null = null
  try {
    mounted = await mount(server, ctx)
    // Listen only now: a connection accepted before the handlers were
    // mounted would wait, unanswered, until its client's handshake timeout.
    await listen(server, config)
  } catch (err) {
    await mounted?.close()
    await closeRelayContext(ctx)
    throw err
  }
  startIngest(ctx)
  const { port } = server.address() as AddressInfo
  const host = config.bind.includes(':') ? `[${config.bind}]` : config.bind
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      await mounted.close()
      server.closeAllConnections()
      await closed
      await closeRelayContext(ctx)
    })()
    return closing
  }
  return { url: `http://${host}:${port}`, ctx, close }
}
