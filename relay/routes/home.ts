/**
 * The plain route `GET /xrpc/_health` ({version, ok, seq}; 503 once the
 * event log failed). `GET /` is the dashboard (relay/dashboard/routes.ts).
 */
import express from 'express'
import type { RelayContext } from '../context.ts'

export const RELAY_VERSION = 'atfed-relay/0.1.0'

export function homeRoutes(ctx: RelayContext): express.Router {
  const router = express.Router()
  router.get('/xrpc/_health', (_req, res) => {
    const ok = ctx.fatal === null
    res.status(ok ? 200 : 503).json({ version: RELAY_VERSION, ok, seq: ctx.log.lastSeq() })
  })
  return router
}
