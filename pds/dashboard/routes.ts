/**
 * The PDS admin page: `GET /admin` and its script and style
 * (`/admin/app.js`, `/admin/style.css`), static files read once at start.
 *
 * The page is the same for everyone and holds no data: it asks for the
 * admin password in the browser and fetches everything through admin
 * Basic-auth XRPC calls (admin-stats.ts and the com.atproto.admin methods),
 * so serving it needs no auth and leaks nothing. Every answer carries a
 * Content-Security-Policy allowing only our own script and style and
 * fetches back to this origin, and `form-action 'none'`, so the password
 * form can never be submitted anywhere.
 */
import { readFileSync } from 'node:fs'
import express from 'express'
import { PDS_ADMIN_PAGE_ROWS_MAX } from '../../core/limits.ts'
import { PDS_VERSION } from '../basic-routes.ts'

export const ADMIN_PAGE_PATH = '/admin'

export const ADMIN_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

function staticText(name: string): string {
  return readFileSync(new URL(`./static/${name}`, import.meta.url), 'utf8')
}

const PAGE_HTML = staticText('admin.html').replaceAll('%ROWS_MAX%', String(PDS_ADMIN_PAGE_ROWS_MAX)).replaceAll('%VERSION%', PDS_VERSION)
const APP_JS = staticText('app.js')
const STYLE_CSS = staticText('style.css')

function send(res: express.Response, type: string, body: string): void {
  res.setHeader('Content-Security-Policy', ADMIN_PAGE_CSP)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('Cache-Control', 'no-cache')
  res.type(type).send(body)
}

export function adminPageRoutes(): express.Router {
  const router = express.Router()
  router.get(ADMIN_PAGE_PATH, (_req, res) => send(res, 'html', PAGE_HTML))
  router.get(`${ADMIN_PAGE_PATH}/app.js`, (_req, res) => send(res, 'text/javascript', APP_JS))
  router.get(`${ADMIN_PAGE_PATH}/style.css`, (_req, res) => send(res, 'text/css', STYLE_CSS))
  return router
}
