/**
 * A direct route for registered XRPC methods, in front of the express app.
 *
 * Every request used to walk the whole express stack (CORS, the basic
 * routes, the admin page, the subscribeRepos GET, then the XRPC router's
 * `/xrpc/:nsid` layer): path matching and parameter processing per layer,
 * several per cent of a createRecord's main-thread CPU. None of those layers
 * answers `/xrpc/<a registered NSID>`, so for exactly those paths this
 * listener does what the app would have done before reaching the XRPC
 * router — express's request set-up (lib/application.js `app.handle`:
 * `req.res`/`res.req`, the request/response prototypes, `res.locals`), the
 * router's `req.originalUrl`/`req.baseUrl`/`req.params`, and cors.ts's
 * `Access-Control-Allow-Origin` — and calls the router's dispatch directly.
 *
 * Everything else goes to the app unchanged: OPTIONS (CORS preflight), other
 * verbs, unknown methods (the atproto-proxy forwarder), paths with `%`
 * escapes, a trailing slash or other case (express matches those loosely;
 * the app still does). The XRPC dispatch handles its own errors; the
 * fallback below only renders what the app's last two handlers would.
 */
import type http from 'node:http'
import type express from 'express'
import { XrpcError, toXrpcError } from '../core/xrpc/errors.ts'
import { sendError } from '../core/xrpc/respond.ts'
import type { XrpcRouter } from '../core/xrpc/server.ts'

const PREFIX = '/xrpc/'

/** The NSID of a GET/HEAD/POST to `/xrpc/<nsid>[?query]` when it is registered, else null. */
export function fastPathNsid(req: http.IncomingMessage, methods: ReadonlySet<string>): string | null {
  const { method, url } = req
  if (method !== 'POST' && method !== 'GET' && method !== 'HEAD') return null
  if (url === undefined || !url.startsWith(PREFIX)) return null
  const query = url.indexOf('?', PREFIX.length)
  const nsid = url.slice(PREFIX.length, query === -1 ? url.length : query)
  return methods.has(nsid) ? nsid : null
}

/** The server's request listener: registered XRPC methods directly, everything else through `app`. */
export function xrpcFastPath(app: express.Express, router: XrpcRouter): http.RequestListener {
  const methods: ReadonlySet<string> = new Set(router.methods())
  return (req, res) => {
    const nsid = fastPathNsid(req, methods)
    if (nsid === null) {
      app(req, res)
      return
    }
    const request = req as express.Request
    const response = res as express.Response
    request.res = response
    response.req = request
    Object.setPrototypeOf(req, app.request)
    Object.setPrototypeOf(res, app.response)
    response.locals ??= Object.create(null) as Record<string, unknown>
    request.originalUrl = req.url!
    request.baseUrl = ''
    request.params = { nsid }
    res.setHeader('Access-Control-Allow-Origin', '*')
    router.dispatch(request, response, (err?: unknown) => {
      if (err === undefined || err === null || err === 'route' || err === 'router') sendError(response, new XrpcError(404, 'NotFound', 'Not Found'))
      else {
        const xrpcErr = toXrpcError(err)
        if (xrpcErr.status === 500) console.error('pds: internal error:', err)
        sendError(response, xrpcErr)
      }
    })
  }
}
