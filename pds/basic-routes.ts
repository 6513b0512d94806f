/**
 * The PDS's non-XRPC HTTP routes:
 * - `GET /xrpc/_health` → `{version}`, 503 when the database is not open;
 * - `GET /.well-known/did.json` → the service's `did:web` document, with
 *   its `#atproto_pds` endpoint (the reference does not serve one; we do, so
 *   the service DID resolves);
 * - `GET /.well-known/atproto-did` → handle resolution for hosted handles:
 *   the handle is the request's Host (`alice.pds.example`), answered with
 *   the DID as text/plain, or 404 "User not found";
 * - `GET /` banner and `GET /robots.txt`.
 * These are mounted before the XRPC router (`_health` is not an NSID).
 */
import express from 'express'
import { isHandle, type Handle } from '../core/syntax/handle.ts'
import { sendJson } from '../core/xrpc/respond.ts'
import type { PdsContext } from './context.ts'

export const PDS_VERSION = 'atfed-pds/0.1.0'

export function serviceDidDocument(ctx: Pick<PdsContext, 'serviceDid' | 'publicUrl'>): object {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: ctx.serviceDid,
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: ctx.publicUrl }],
  }
}

export function basicRoutes(ctx: PdsContext): express.Router {
  const router = express.Router()
  router.get('/', (_req, res) => {
    res.type('text/plain').send(`This is an AT Protocol Personal Data Server (${PDS_VERSION}).\nMost API routes are under /xrpc/\n`)
  })
  router.get('/robots.txt', (_req, res) => {
    res.type('text/plain').send('# Hello!\n\n# Crawling the public API is allowed\nUser-agent: *\nAllow: /\n')
  })
  router.get('/xrpc/_health', (_req, res) => {
    if (ctx.db.status !== 'open') return sendJson(res, 503, { version: PDS_VERSION, error: 'Service Unavailable' })
    sendJson(res, 200, { version: PDS_VERSION })
  })
  router.get('/.well-known/did.json', (_req, res) => {
    if (!ctx.serviceDid.startsWith('did:web:')) return sendJson(res, 404, { error: 'NotFound', message: 'Not Found' })
    sendJson(res, 200, serviceDidDocument(ctx))
  })
  router.get('/.well-known/atproto-did', (req, res, next) => {
    const host = req.hostname.toLowerCase()
    if (!isHandle(host)) {
      res.status(404).type('text/plain').send('User not found')
      return
    }
    ctx.accounts.didForHandle(host as Handle).then((did) => {
      if (did === null) res.status(404).type('text/plain').send('User not found')
      else res.type('text/plain').send(did)
    }, next)
  })
  return router
}
