/**
 * The labeler's HTTP surface (the WebSocket half, subscribeLabels, is
 * attached to the same http.Server in server.ts):
 *
 * - `GET /.well-known/did.json`: the did:web document (identity.ts) when the
 *   labeler is did:web; 404 when it is did:plc (the directory serves it).
 * - `com.atproto.label.queryLabels` (query.ts): public, no auth.
 * - `GET /xrpc/com.atproto.label.subscribeLabels` without an Upgrade header:
 *   426 (405 for other verbs), so a proxy that strips Upgrade shows up as a
 *   clear error instead of a 404 — a common "labels never appear" cause.
 * - admin methods (admin.ts), `GET /xrpc/_health` `{version, did}`.
 */
import express from 'express'
import { lexToJson } from '../../core/data/json.ts'
import type { Did } from '../../core/syntax/did.ts'
import { respondWithoutUpgrade } from '../../core/stream/subscription-server.ts'
import { createXrpcRouter } from '../../core/xrpc/server.ts'
import { registerAdminMethods } from './admin.ts'
import type { LabelEmitter } from './emitter.ts'
import { labelToLex } from './label.ts'
import { parseLabelQuery, queryLabels } from './query.ts'
import type { LabelStore } from './store.ts'

export const LABELER_VERSION = 'atfed-labeler/0.1.0'
export const SUBSCRIBE_LABELS_PATH = '/xrpc/com.atproto.label.subscribeLabels'

export type LabelerAppContext = {
  did: Did
  /** The did:web document, or null for a did:plc labeler. */
  didDocument: object | null
  store: LabelStore
  emitter: LabelEmitter
  adminPassword: string | null
  now: () => number
  onInternalError?: (err: unknown) => void
}

export function createLabelerApp(ctx: LabelerAppContext): express.Express {
  const router = createXrpcRouter(ctx.onInternalError === undefined ? {} : { onInternalError: ctx.onInternalError })
  router.query('com.atproto.label.queryLabels', async ({ params }) => {
    const page = await queryLabels(ctx.store, parseLabelQuery(params), { nowMs: ctx.now() })
    const labels = page.labels.map((label) => lexToJson(labelToLex(label)))
    return { encoding: 'application/json', body: page.cursor === null ? { labels } : { cursor: page.cursor, labels } }
  })
  registerAdminMethods(router, { emitter: ctx.emitter, adminPassword: ctx.adminPassword, now: ctx.now })
  const app = express()
  app.disable('x-powered-by')
  app.get('/.well-known/did.json', (_req, res) => {
    if (ctx.didDocument === null) {
      res.status(404).json({ error: 'NotFound', message: `this labeler is ${ctx.did}; its document is at the PLC directory` })
      return
    }
    res.json(ctx.didDocument)
  })
  app.get('/xrpc/_health', (_req, res) => {
    res.json({ version: LABELER_VERSION, did: ctx.did })
  })
  app.all(SUBSCRIBE_LABELS_PATH, (req, res) => respondWithoutUpgrade(req, res))
  app.use(router.middleware)
  return app
}
