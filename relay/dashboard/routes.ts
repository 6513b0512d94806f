/**
 * The relay's web dashboard:
 * - `GET /` the page (static/index.html; JSON `{service, hosts, seq,
 *   firehose}` instead when the client asks for `application/json`);
 * - `GET /dashboard/app.js`, `/dashboard/style.css` its script and style;
 * - `GET /api/stats` rates and host rows as JSON (stats.ts).
 *
 * The page shows only what the public XRPC views already show (hosts, their
 * cursors and counters, the Jetstream stream), so it needs no auth. The
 * static files are read once at start; the page's limits come from
 * core/limits.ts, written into data attributes of <body>. Every answer
 * carries a Content-Security-Policy that allows only our own script and
 * style files and connections back to this origin (the Jetstream socket).
 */
import { readFileSync } from 'node:fs'
import express from 'express'
import { RELAY_DASHBOARD_COMMITS_MAX, RELAY_DASHBOARD_RECONNECT_MS_MAX } from '../../core/limits.ts'
import type { RelayContext } from '../context.ts'
import { RELAY_VERSION } from '../routes/home.ts'
import type { RelayStatsSampler } from './stats.ts'

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

function staticText(name: string): string {
  return readFileSync(new URL(`./static/${name}`, import.meta.url), 'utf8')
}

const PAGE_HTML = staticText('index.html')
  .replaceAll('%COMMITS_MAX%', String(RELAY_DASHBOARD_COMMITS_MAX))
  .replaceAll('%RECONNECT_MS_MAX%', String(RELAY_DASHBOARD_RECONNECT_MS_MAX))
  .replaceAll('%VERSION%', RELAY_VERSION)
const APP_JS = staticText('app.js')
const STYLE_CSS = staticText('style.css')

function send(res: express.Response, type: string, body: string): void {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('Cache-Control', 'no-cache')
  res.type(type).send(body)
}

export function dashboardRoutes(ctx: RelayContext, stats: RelayStatsSampler): express.Router {
  const router = express.Router()
  router.get('/', (req, res) => {
    if (req.accepts(['text/html', 'application/json']) === 'application/json') {
      return void res.json({ service: RELAY_VERSION, hosts: ctx.hosts.size, seq: ctx.log.lastSeq(), firehose: '/xrpc/com.atproto.sync.subscribeRepos' })
    }
    send(res, 'html', PAGE_HTML)
  })
  router.get('/dashboard/app.js', (_req, res) => send(res, 'text/javascript', APP_JS))
  router.get('/dashboard/style.css', (_req, res) => send(res, 'text/css', STYLE_CSS))
  router.get('/api/stats', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store')
    res.json(stats.stats())
  })
  return router
}
