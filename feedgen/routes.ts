/**
 * The feed generator's HTTP surface:
 *
 * - `GET /.well-known/did.json`: the `did:web` document, with only the
 *   `#bsky_fg` service (type BskyFeedGenerator, endpoint = public URL) — the
 *   AppView checks both the id and the type.
 * - `app.bsky.feed.describeFeedGenerator`: our DID and the feed uris.
 * - `app.bsky.feed.getFeedSkeleton`: `feed` (required at-uri; one of
 *   ours, else 400 `UnknownFeed`), `limit` (1..FEEDGEN_SKELETON_LIMIT_MAX,
 *   default FEEDGEN_SKELETON_LIMIT_DEFAULT; else 400 `InvalidRequest`),
 *   `cursor` (the feed's own, ≤ FEEDGEN_CURSOR_LENGTH_MAX). Service-JWT auth
 *   (auth.ts) runs first; a personalised feed without a viewer is 401
 *   `AuthRequired`.
 * - `GET /xrpc/_health`: `{ version }`.
 */
import express from 'express'
import { FEEDGEN_SKELETON_LIMIT_DEFAULT, FEEDGEN_SKELETON_LIMIT_MAX } from '../core/limits.ts'
import type { Did } from '../core/syntax/did.ts'
import { XrpcError, invalidRequest } from '../core/xrpc/errors.ts'
import { createXrpcRouter } from '../core/xrpc/server.ts'
import type { XrpcParams } from '../core/xrpc/server.ts'
import type { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { FEEDGEN_SERVICE_ID, viewerAuth } from './auth.ts'
import type { FeedMemo, FeedModule, FeedParams } from './feeds/feed.ts'
import type { FeedStore } from './indexer/store.ts'

export const FEEDGEN_VERSION = 'atfed-feedgen/0.1.0'

export type FeedgenAppContext = {
  serviceDid: Did
  publicUrl: string
  publisherDid: Did
  feeds: readonly FeedModule[]
  store: FeedStore
  resolver: IdentityResolver
  params: FeedParams
  memo: FeedMemo
  /** Least time between two forced key refetches for one JWT issuer (auth.ts). */
  jwtRefetchMinMs?: number
  onInternalError?: (err: unknown) => void
}

export function feedUri(publisherDid: Did, name: string): string {
  return `at://${publisherDid}/app.bsky.feed.generator/${name}`
}

export function didDocument(ctx: Pick<FeedgenAppContext, 'serviceDid' | 'publicUrl'>): object {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: ctx.serviceDid,
    service: [{ id: `#${FEEDGEN_SERVICE_ID}`, type: 'BskyFeedGenerator', serviceEndpoint: ctx.publicUrl }],
  }
}

function single(params: XrpcParams, name: string): string | null {
  const value = params[name]
  if (value === undefined) return null
  if (typeof value !== 'string') throw invalidRequest(`${name} must be given once`)
  return value
}

function parseLimit(text: string | null): number {
  if (text === null) return FEEDGEN_SKELETON_LIMIT_DEFAULT
  const n = Number(text)
  if (!/^\d{1,3}$/.test(text) || n < 1 || n > FEEDGEN_SKELETON_LIMIT_MAX) {
    throw invalidRequest(`limit must be an integer from 1 to ${FEEDGEN_SKELETON_LIMIT_MAX}`)
  }
  return n
}

export function createFeedgenApp(ctx: FeedgenAppContext): express.Express {
  const byUri = new Map(ctx.feeds.map((feed) => [feedUri(ctx.publisherDid, feed.name), feed]))
  const router = createXrpcRouter(ctx.onInternalError === undefined ? {} : { onInternalError: ctx.onInternalError })
  router.query('app.bsky.feed.describeFeedGenerator', () => ({
    encoding: 'application/json',
    body: { did: ctx.serviceDid, feeds: [...byUri.keys()].map((uri) => ({ uri })) },
  }))
  router.query<Did | null>(
    'app.bsky.feed.getFeedSkeleton',
    async ({ params, auth }) => {
      const feedParam = single(params, 'feed')
      if (feedParam === null) throw invalidRequest('feed is required')
      const feed = byUri.get(feedParam)
      if (feed === undefined) throw new XrpcError(400, 'UnknownFeed', `unknown feed: ${feedParam.slice(0, 300)}`)
      const limit = parseLimit(single(params, 'limit'))
      if (feed.requiresAuth && auth === null) throw new XrpcError(401, 'AuthRequired', 'this feed is personalised: sign in')
      const page = await feed.handler({ db: ctx.store, viewer: auth, limit, cursor: single(params, 'cursor'), params: ctx.params, memo: ctx.memo })
      return { encoding: 'application/json', body: page }
    },
    { auth: viewerAuth(ctx.serviceDid, ctx.resolver, ctx.jwtRefetchMinMs === undefined ? {} : { refetchMinMs: ctx.jwtRefetchMinMs }) },
  )
  const app = express()
  app.disable('x-powered-by')
  app.get('/.well-known/did.json', (_req, res) => {
    res.json(didDocument(ctx))
  })
  app.get('/xrpc/_health', (_req, res) => {
    res.json({ version: FEEDGEN_VERSION })
  })
  app.use(router.middleware)
  return app
}
