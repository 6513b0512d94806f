/**
 * Service proxying: an XRPC call this PDS does not implement, carrying
 * `atproto-proxy: <did>#<serviceId>` (e.g. `did:web:api.bsky.app#bsky_appview`),
 * is forwarded to that service on the caller's behalf — the way clients
 * reach AppViews, chat and moderation services through their PDS.
 *
 * Mounted after the XRPC router (which hands unknown methods on with
 * `unknownMethods: 'next'`). For `/xrpc/<nsid>`, in order:
 *  1. not an NSID → 400 `InvalidRequest`; no `atproto-proxy` header → 501
 *     `MethodNotImplemented` (atfed has no default AppView);
 *  2. verb other than GET/HEAD/POST → 400 `InvalidRequest`;
 *  3. PROTECTED_METHODS (account management: never proxied) → 400
 *     `InvalidToken` "Bad token method", as the reference;
 *  4. the global per-IP rate limit, then an access token is required
 *     (auth/verifier.ts errors); PRIVILEGED_METHODS need a main-password or
 *     privileged app-password session → else 400 `InvalidToken`;
 *  5. the header: `did#id`, one '#', no spaces, ≤ PDS_PROXY_HEADER_LENGTH_MAX
 *     → else 400 `InvalidRequest` (the reference's messages); the DID
 *     document is resolved (ctx.idResolver) → 400 "could not resolve proxy
 *     did"; the service `#id` with an http(s) endpoint → 400 "could not
 *     resolve proxy did service url";
 *  6. forwarded (proxy-forward.ts: SSRF rule, size and time caps, status
 *     mapping) with the reference's request headers and a fresh service JWT:
 *     iss = caller's DID, aud = `did#serviceId` (as the reference), lxm = the
 *     NSID, signed with the caller's repo signing key.
 * Methods this PDS implements are always served locally, as the reference.
 */
import express from 'express'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { createServiceJwt } from '../core/crypto/jwt.ts'
import { PDS_PROXY_HEADER_LENGTH_MAX } from '../core/limits.ts'
import { isDid, type Did } from '../core/syntax/did.ts'
import { isNsid, type Nsid } from '../core/syntax/nsid.ts'
import { XrpcError, invalidRequest, toXrpcError } from '../core/xrpc/errors.ts'
import { enforceRateLimits } from '../core/xrpc/rate-limit.ts'
import { sendError } from '../core/xrpc/respond.ts'
import { clientIp } from '../core/xrpc/server.ts'
import { parseServiceEndpoint } from '../did-resolver/did-document.ts'
import type { PdsContext } from './context.ts'
import { UpstreamClient } from './proxy-forward.ts'
import { PROTECTED_METHODS } from './protected-methods.ts'


/** Need more than a plain app password (reference PRIVILEGED_METHODS: chat, account creation). */
export const PRIVILEGED_METHODS: ReadonlySet<string> = new Set([
  'chat.bsky.actor.deleteAccount',
  'chat.bsky.actor.exportAccountData',
  'chat.bsky.convo.deleteMessageForSelf',
  'chat.bsky.convo.getConvo',
  'chat.bsky.convo.getConvoForMembers',
  'chat.bsky.convo.getLog',
  'chat.bsky.convo.getMessages',
  'chat.bsky.convo.leaveConvo',
  'chat.bsky.convo.listConvos',
  'chat.bsky.convo.muteConvo',
  'chat.bsky.convo.sendMessage',
  'chat.bsky.convo.sendMessageBatch',
  'chat.bsky.convo.unmuteConvo',
  'chat.bsky.convo.updateRead',
  'com.atproto.server.createAccount',
])

/** Request headers passed on (reference), besides the body headers of a POST. */
const FORWARDED_REQUEST_HEADERS = ['accept-language', 'atproto-accept-labelers', 'x-bsky-topics'] as const
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-length'] as const

export type ProxyTarget = { did: Did; serviceId: string; origin: string }

/** `did#serviceId` → the service's origin, or 400 InvalidRequest (reference messages). */
export async function resolveProxyTarget(ctx: PdsContext, header: string): Promise<ProxyTarget> {
  if (header.length > PDS_PROXY_HEADER_LENGTH_MAX) throw invalidRequest('proxy header too long')
  const hash = header.indexOf('#')
  if (hash === 0) throw invalidRequest('no did specified in proxy header')
  if (hash === -1 || hash === header.length - 1) throw invalidRequest('no service id specified in proxy header')
  if (header.indexOf('#', hash + 1) !== -1) throw invalidRequest('invalid proxy header format')
  if (header.includes(' ')) throw invalidRequest('proxy header cannot contain spaces')
  const did = header.slice(0, hash)
  const serviceId = header.slice(hash + 1)
  if (!isDid(did)) throw invalidRequest('could not resolve proxy did')
  let identity
  try {
    identity = await ctx.idResolver.resolveDid(did)
  } catch (err) {
    throw new XrpcError(400, 'InvalidRequest', 'could not resolve proxy did', { cause: err })
  }
  const service = identity.doc.service?.find((s) => s.id === `#${serviceId}` || s.id === `${did}#${serviceId}`)
  const origin = parseServiceEndpoint(service?.serviceEndpoint)
  if (origin === null) throw invalidRequest('could not resolve proxy did service url')
  return { did, serviceId, origin }
}

function pick(headers: IncomingHttpHeaders, names: readonly string[], into: OutgoingHttpHeaders): void {
  for (const name of names) {
    const value = headers[name]
    if (value !== undefined) into[name] = value
  }
}

async function proxy(ctx: PdsContext, upstream: UpstreamClient, req: express.Request, res: express.Response): Promise<void> {
  const nsidParam = req.params['nsid']
  if (typeof nsidParam !== 'string' || !isNsid(nsidParam)) throw invalidRequest('invalid xrpc path')
  const nsid: Nsid = nsidParam
  const header = req.headers['atproto-proxy']
  if (typeof header !== 'string' || header === '') throw new XrpcError(501, 'MethodNotImplemented', 'Method Not Implemented')
  const method = req.method
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') throw invalidRequest('XRPC requests only supports GET and POST')
  if (PROTECTED_METHODS.has(nsid)) throw invalidRequest('Bad token method', 'InvalidToken')
  const request = { req, res, nsid }
  if (ctx.rateLimiter !== null) {
    enforceRateLimits(ctx.rateLimiter, res, [{ bucket: 'global', key: clientIp(request), points: 1 }])
  }
  const auth = await ctx.auth.access({ checkTakedown: true })(request)
  if (PRIVILEGED_METHODS.has(nsid) && auth.scope === 'com.atproto.appPass') throw invalidRequest('Bad token method', 'InvalidToken')
  const target = await resolveProxyTarget(ctx, header)
  const jwt = createServiceJwt({ iss: auth.did, aud: `${target.did}#${target.serviceId}`, lxm: nsid, keypair: ctx.signingKeys.get(auth.account) })
  const headers: OutgoingHttpHeaders = { 'accept-encoding': req.headers['accept-encoding'] ?? 'identity', authorization: `Bearer ${jwt}` }
  pick(req.headers, FORWARDED_REQUEST_HEADERS, headers)
  if (method === 'POST') pick(req.headers, BODY_HEADERS, headers)
  res.setHeader('Cache-Control', 'private')
  await upstream.forward({ origin: target.origin, path: req.originalUrl, method, headers, body: method === 'POST' ? req : null }, res)
}

/** The express router for `/xrpc/<nsid>` calls the XRPC router left unanswered. */
export function proxyRoutes(ctx: PdsContext): express.Router {
  const upstream = new UpstreamClient({ allowPrivate: ctx.config.dev })
  ctx.cleanups.push(() => upstream.close())
  const router = express.Router()
  router.all('/xrpc/:nsid', (req, res) => {
    proxy(ctx, upstream, req, res).catch((err: unknown) => {
      const xrpcErr = toXrpcError(err)
      if (xrpcErr.status === 500) console.error('pds: proxy internal error:', err)
      if (!res.headersSent) req.resume() // drop an unread request body
      sendError(res, xrpcErr)
    })
  })
  return router
}
