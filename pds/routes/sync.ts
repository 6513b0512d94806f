/**
 * com.atproto.sync.* queries relays and migrating clients use: getRepo
 * (the whole repo as a streamed CAR, core/repo/export.ts), getLatestCommit,
 * getRepoStatus, listRepos. subscribeRepos is the WebSocket in
 * pds/server.ts; getRecord (proof CAR), getBlocks, getBlob and listBlobs
 * are other modules.
 *
 * Availability (reference `assertRepoAvailability`): an unknown or deleted
 * account is 400 `RepoNotFound`; taken down → `RepoTakendown`; deactivated
 * → `RepoDeactivated`, except for the owner or the admin on getRepo (so a
 * user can export before migrating). getRepoStatus answers for every
 * account with its `active`/`status` and, when active, `rev`.
 *
 * getRepo `since`: only the blocks written after that rev, from the commit
 * index (repo/commit-index.ts, filled by routes/sync-extras.ts's write
 * hook; repo/sync-reads.ts); the full repo when the index cannot tell.
 */
import { AtfedError } from '../../core/errors.ts'
import { PDS_LIST_REPOS_LIMIT_MAX } from '../../core/limits.ts'
import type { RepoHead } from '../../core/repo/block-store.ts'
import { exportRepoCar } from '../../core/repo/export.ts'
import { parseDid, type Did } from '../../core/syntax/did.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { accountStatusView, type Account } from '../accounts/account.ts'
import type { AccessCredentials, AdminCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { perIp } from '../rate-limits.ts'
import { exportRepoSince } from '../repo/sync-reads.ts'

type Body = { [key: string]: unknown }
type OptionalAuth = AccessCredentials | AdminCredentials | null

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

/** The account and head of `did` if its repo may be served to this caller. */
export async function availableRepo(
  ctx: PdsContext,
  didParam: unknown,
  auth: OptionalAuth = null,
): Promise<{ account: Account; head: RepoHead }> {
  const did: Did = parseDid(String(didParam))
  const account = await ctx.accounts.get(did)
  const head = account === null ? null : ctx.repos.getHead(did)
  if (account === null || head === null || account.status === 'deleted') {
    throw new AtfedError('RepoNotFound', `Could not find repo for DID: ${did}`)
  }
  if (account.status === 'takendown') throw new AtfedError('RepoTakendown', `Repo has been takendown: ${did}`)
  if (account.status === 'deactivated') {
    const privileged = auth !== null && (auth.type === 'admin' || auth.did === did)
    if (!privileged) throw new AtfedError('RepoDeactivated', `Repo has been deactivated: ${did}`)
  }
  return { account, head }
}

export function registerSyncRoutes(router: XrpcRouter, ctx: PdsContext): void {
  router.query<OptionalAuth>(
    'com.atproto.sync.getRepo',
    async ({ params, auth }) => {
      const p = params as { did: string; since?: Tid }
      const { account } = await availableRepo(ctx, p.did, auth)
      const body =
        p.since === undefined
          ? exportRepoCar(ctx.repos, account.did)
          : await exportRepoSince(ctx.repos, ctx.commitIndex, { did: account.did, since: p.since })
      return { encoding: 'application/vnd.ipld.car', body }
    },
    { auth: ctx.auth.optionalAccessOrAdmin(), rateLimits: [perIp('getRepo')] },
  )

  router.query('com.atproto.sync.getLatestCommit', async ({ params }) => {
    const { head } = await availableRepo(ctx, (params as { did: string }).did)
    return json({ cid: head.commitCid.toString(), rev: head.rev })
  })

  router.query('com.atproto.sync.getRepoStatus', async ({ params }) => {
    const did = parseDid(String((params as { did: string }).did))
    const account = await ctx.accounts.get(did)
    if (account === null) throw new AtfedError('RepoNotFound', `Could not find repo for DID: ${did}`)
    const view = accountStatusView(account)
    const out: Body = { did, active: view.active }
    if (view.status !== null) out['status'] = view.status
    const head = view.active ? ctx.repos.getHead(did) : null
    if (head !== null) out['rev'] = head.rev
    return json(out)
  })

  router.query('com.atproto.sync.listRepos', async ({ params }) => {
    const p = params as { limit?: number; cursor?: string }
    const limit = Math.min(p.limit ?? 500, PDS_LIST_REPOS_LIMIT_MAX)
    const accounts = await ctx.accounts.list({ limit, ...(p.cursor === undefined ? {} : { after: p.cursor }) })
    const repos: Body[] = []
    for (const account of accounts) {
      const head = ctx.repos.getHead(account.did)
      if (head === null) continue
      const view = accountStatusView(account)
      const repo: Body = { did: account.did, head: head.commitCid.toString(), rev: head.rev, active: view.active }
      if (view.status !== null) repo['status'] = view.status
      repos.push(repo)
    }
    const last = accounts.at(-1)
    return json(accounts.length === limit && last !== undefined ? { cursor: last.did, repos } : { repos })
  })
}
