/**
 * Repo views for every account the relay tracks:
 * - `com.atproto.sync.listRepos` {limit 1–1000 (500), cursor = last DID} →
 *   accounts with a commit, in DID order: {did, head, rev, active, status?};
 * - `com.atproto.sync.getLatestCommit` {did} → {cid, rev}; unknown or no
 *   commit yet 'RepoNotFound'; taken down / suspended / deactivated accounts
 *   'RepoTakendown' / 'RepoSuspended' / 'RepoDeactivated' (lexicon errors);
 * - `com.atproto.sync.getRepoStatus` {did} → {did, active, status?, rev?};
 *   unknown 'RepoNotFound'.
 */
import { AtfedError } from '../../core/errors.ts'
import { RELAY_LIST_REPOS_LIMIT_DEFAULT, RELAY_LIST_REPOS_LIMIT_MAX } from '../../core/limits.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { accountStatusField, isAccountActive } from '../accounts.ts'
import type { AccountState } from '../accounts.ts'
import type { RelayContext } from '../context.ts'
import { didParam, limitParam, stringParam } from './params.ts'
import { repoStatus } from './views.ts'

const INACTIVE_ERRORS: { readonly [status: string]: string } = {
  takendown: 'RepoTakendown',
  suspended: 'RepoSuspended',
  deactivated: 'RepoDeactivated',
}

function json(body: unknown) {
  return { encoding: 'application/json', body } as const
}

function known(ctx: RelayContext, did: ReturnType<typeof didParam>): AccountState {
  const account = ctx.accounts.get(did)
  if (account === null) throw new AtfedError('RepoNotFound', `Could not find repo for DID: ${did}`)
  return account
}

export function registerRepoRoutes(router: XrpcRouter, ctx: RelayContext): void {
  router.query('com.atproto.sync.listRepos', async ({ params }) => {
    const limit = limitParam(params, RELAY_LIST_REPOS_LIMIT_DEFAULT, RELAY_LIST_REPOS_LIMIT_MAX)
    const page = await ctx.accounts.page(stringParam(params, 'cursor'), limit)
    const repos = page
      .filter((a) => a.commit !== null && a.rev !== null)
      .map((a) => {
        const status = accountStatusField(a)
        return { did: a.did, head: String(a.commit), rev: a.rev, active: isAccountActive(a), ...(status === null ? {} : { status }) }
      })
    const last = page[page.length - 1]
    return json({ ...(page.length === limit && last !== undefined ? { cursor: last.did } : {}), repos })
  })

  router.query('com.atproto.sync.getLatestCommit', ({ params }) => {
    const account = known(ctx, didParam(params))
    const status = accountStatusField(account)
    if (!isAccountActive(account) && status !== null && INACTIVE_ERRORS[status] !== undefined) {
      throw new AtfedError(INACTIVE_ERRORS[status] as string, `Repo is ${status}: ${account.did}`)
    }
    if (account.commit === null || account.rev === null) throw new AtfedError('RepoNotFound', `No commit seen yet for ${account.did}`)
    return json({ cid: account.commit.toString(), rev: account.rev })
  })

  router.query('com.atproto.sync.getRepoStatus', ({ params }) => json(repoStatus(known(ctx, didParam(params)))))
}
