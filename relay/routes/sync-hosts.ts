/**
 * Host views and crawl requests:
 * - `com.atproto.sync.listHosts` {limit 1–1000 (200), cursor = last hostname}
 *   → {cursor?, hosts: [{hostname, seq?, accountCount, status}]};
 * - `com.atproto.sync.getHostStatus` {hostname} → the same fields plus
 *   `trusted`, `limits`, `accepted`, `drops` (per reason) and `lastError`;
 *   'HostNotFound' when unknown;
 * - `com.atproto.sync.requestCrawl` (POST {hostname}) → hosts/crawl.ts
 *   ('HostBanned', 'HostNotFound', 'HostIsRelay', 'InvalidHostname', ...).
 */
import { AtfedError } from '../../core/errors.ts'
import { RELAY_ADMIN_BODY_BYTES_MAX, RELAY_LIST_HOSTS_LIMIT_DEFAULT, RELAY_LIST_HOSTS_LIMIT_MAX } from '../../core/limits.ts'
import { invalidRequest } from '../../core/xrpc/errors.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import type { RelayContext } from '../context.ts'
import { parseHostInput } from '../hosts/host-name.ts'
import { limitParam, requiredParam, stringParam } from './params.ts'
import { hostDetail, hostSummary } from './views.ts'

function json(body: unknown) {
  return { encoding: 'application/json', body } as const
}

export function registerHostRoutes(router: XrpcRouter, ctx: RelayContext): void {
  router.query('com.atproto.sync.listHosts', ({ params }) => {
    const limit = limitParam(params, RELAY_LIST_HOSTS_LIMIT_DEFAULT, RELAY_LIST_HOSTS_LIMIT_MAX)
    const page = ctx.hosts.page(stringParam(params, 'cursor'), limit)
    const now = Date.now()
    const last = page[page.length - 1]
    return json({
      ...(page.length === limit && last !== undefined ? { cursor: last.hostname } : {}),
      hosts: page.map((record) => hostSummary(record, ctx.hosts, now)),
    })
  })

  router.query('com.atproto.sync.getHostStatus', ({ params }) => {
    // Normalise only (any form names the same host); no policy checks for a lookup.
    const { hostname } = parseHostInput(requiredParam(params, 'hostname'), { dev: true })
    const record = ctx.hosts.get(hostname)
    if (record === undefined) throw new AtfedError('HostNotFound', `unknown host: ${hostname}`)
    return json(hostDetail(record, ctx.hosts, Date.now()))
  })

  router.procedure(
    'com.atproto.sync.requestCrawl',
    async ({ input }) => {
      const body = input?.body as { hostname?: unknown } | undefined
      if (typeof body?.hostname !== 'string') throw invalidRequest('Input must have the property "hostname"')
      await ctx.crawler.requestCrawl(body.hostname, { admin: false })
    },
    { input: { kind: 'json', bytesMax: RELAY_ADMIN_BODY_BYTES_MAX } },
  )
}
