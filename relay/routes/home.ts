/**
 * The plain routes: `GET /` (a text placeholder until the dashboard lands;
 * JSON with `Accept: application/json`) and `GET /xrpc/_health`
 * ({version, ok, seq}; 503 once the event log failed).
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
  router.get('/', (req, res) => {
    const summary = { service: RELAY_VERSION, hosts: ctx.hosts.size, seq: ctx.log.lastSeq(), firehose: '/xrpc/com.atproto.sync.subscribeRepos' }
    if (req.accepts(['text/plain', 'application/json']) === 'application/json') return void res.json(summary)
    res.type('text/plain').send(
      `This is an atproto relay (${RELAY_VERSION}).\n\n` +
        `Firehose: ${summary.firehose}\nHosts followed: ${summary.hosts}\nLatest seq: ${summary.seq}\n\n` +
        'Most API routes are under /xrpc/ (com.atproto.sync.*).\n',
    )
  })
  return router
}
