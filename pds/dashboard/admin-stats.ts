/**
 * Two admin-only XRPC queries for the admin page (and any script), both
 * behind admin Basic auth like every `com.atproto.admin.*` method:
 *
 * - `dev.atfed.admin.getServerStats` → `{version, publicUrl, serviceDid,
 *   firehose: {seq, subscribers}, crawlers: [{crawler, lastResult,
 *   lastResultAt, lastOkAt}], storage: {repoBlocks, blobs, disk}}`:
 *   `subscribers` counts the subscribeRepos sockets open now (relays
 *   following us; null when the server did not register its stream);
 *   crawlers are the configured `--crawl` relays and their last
 *   requestCrawl result (crawlers.ts); storage sums are storage.ts's
 *   (bounded, cached).
 * - `dev.atfed.admin.listAccounts {limit?, cursor?}` → `{accounts: [{did,
 *   handle, status, createdAt, email?}], cursor?}` in DID order, every
 *   hosting status included (`deleted` rows until purged): the reference's
 *   `admin.defs#accountView` has no status field, and a takedown is what an
 *   admin most needs to see. `limit` 1…PDS_SEARCH_ACCOUNTS_LIMIT_MAX.
 */
import { AtfedError } from '../../core/errors.ts'
import { PDS_SEARCH_ACCOUNTS_LIMIT_MAX } from '../../core/limits.ts'
import type { SubscriptionStats } from '../../core/stream/subscription-server.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { PDS_VERSION } from '../basic-routes.ts'
import type { PdsContext } from '../context.ts'
import { crawlerStatus } from '../crawlers.ts'
import { storageStats } from './storage.ts'

const LIST_ACCOUNTS_LIMIT_DEFAULT = 50

const firehoses = new WeakMap<PdsContext, () => SubscriptionStats>()

/** Called by the server once its subscribeRepos stream exists. */
export function watchFirehose(ctx: PdsContext, stats: () => SubscriptionStats): void {
  firehoses.set(ctx, stats)
}

function json(body: { [key: string]: unknown }) {
  return { encoding: 'application/json', body } as const
}

function limitParam(value: unknown): number {
  if (value === undefined) return LIST_ACCOUNTS_LIMIT_DEFAULT
  const limit = Number(value)
  if (!Number.isInteger(limit) || limit < 1 || limit > PDS_SEARCH_ACCOUNTS_LIMIT_MAX) {
    throw new AtfedError('InvalidRequest', `limit must be an integer from 1 to ${PDS_SEARCH_ACCOUNTS_LIMIT_MAX}`)
  }
  return limit
}

export function registerAdminStatsRoutes(router: XrpcRouter, ctx: PdsContext): void {
  const admin = { auth: ctx.auth.admin() }

  router.query(
    'dev.atfed.admin.getServerStats',
    async () => {
      const firehose = firehoses.get(ctx)
      return json({
        version: PDS_VERSION,
        publicUrl: ctx.publicUrl,
        serviceDid: ctx.serviceDid,
        firehose: { seq: ctx.events.lastSeq(), subscribers: firehose === undefined ? null : firehose().subscribers },
        crawlers: crawlerStatus(ctx),
        storage: await storageStats(ctx),
      })
    },
    admin,
  )

  router.query(
    'dev.atfed.admin.listAccounts',
    async ({ params }) => {
      const p = params as { limit?: unknown; cursor?: unknown }
      const limit = limitParam(p.limit)
      const after = typeof p.cursor === 'string' && p.cursor !== '' ? p.cursor : undefined
      const page = await ctx.accounts.list({ limit, ...(after === undefined ? {} : { after }) })
      const accounts = page.map((a) => ({ did: a.did, handle: a.handle, status: a.status, createdAt: a.createdAt, ...(a.email === null ? {} : { email: a.email }) }))
      const last = page.at(-1)
      return json(page.length === limit && last !== undefined ? { cursor: last.did, accounts } : { accounts })
    },
    admin,
  )
}
