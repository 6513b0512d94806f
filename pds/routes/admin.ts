/**
 * com.atproto.admin.* for accounts, behind admin Basic auth
 * (`admin:<admin password>`; auth/verifier.ts `admin()`), the minimal set
 * self-host tooling uses (pdsadmin, goat, `atfed admin`):
 * - getAccountInfo {did} / getAccountInfos {dids} / searchAccounts
 *   {email?, cursor?, limit} → `admin.defs#accountView`s, with the
 *   account's invite codes and the code it signed up with; searchAccounts
 *   without `email` pages every account in DID order (the CLI's listing);
 * - updateSubjectStatus / getSubjectStatus for `#repoRef` subjects:
 *   takedown and deactivation (accounts/admin-status.ts). Record and blob
 *   subjects (the reference's per-record/per-blob takedowns) are refused
 *   with 400 `InvalidRequest`;
 * - deleteAccount {did} (accounts/account-deletion.ts), updateAccountHandle
 *   {did, handle} (the same path as identity.updateHandle, PLC included),
 *   updateAccountPassword {did, password} (also revokes every session).
 * Unknown accounts are 400 `NotFound`. The invite methods are
 * admin-invites.ts.
 */
import { AtfedError } from '../../core/errors.ts'
import { PDS_ACCOUNT_INFOS_DIDS_MAX, PDS_SEARCH_ACCOUNTS_LIMIT_MAX } from '../../core/limits.ts'
import { parseDid, type Did } from '../../core/syntax/did.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import type { Account } from '../accounts/account.ts'
import { deleteAccountData } from '../accounts/account-deletion.ts'
import { getAccountAdminStatus, updateAccountStatus, type StatusAttr } from '../accounts/admin-status.ts'
import { accountExtras } from '../accounts/extras.ts'
import { codesForAccount, invitedBy } from '../accounts/invite-views.ts'
import { checkNewPassword, hashPassword } from '../accounts/password.ts'
import type { PdsContext } from '../context.ts'
import { updateHandle } from './identity.ts'

type Body = { [key: string]: unknown }

const REPO_REF = 'com.atproto.admin.defs#repoRef'

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

function notFound(did: string): AtfedError {
  return new AtfedError('NotFound', `Account not found: ${did}`)
}

async function liveAccount(ctx: PdsContext, did: unknown): Promise<Account> {
  const account = await ctx.accounts.get(parseDid(String(did)))
  if (account === null || account.status === 'deleted') throw notFound(String(did))
  return account
}

/** `admin.defs#accountView` of an account. */
export async function accountView(ctx: PdsContext, account: Account): Promise<Body> {
  const { invites } = await accountExtras(ctx)
  const view: Body = { did: account.did, handle: account.handle, indexedAt: account.createdAt }
  if (account.email !== null) view['email'] = account.email
  if (account.emailConfirmedAt !== null) view['emailConfirmedAt'] = account.emailConfirmedAt
  if (account.deactivatedAt !== null) view['deactivatedAt'] = account.deactivatedAt
  const by = await invitedBy(invites, account.did)
  if (by !== null) view['invitedBy'] = by
  view['invites'] = await codesForAccount(invites, account.did)
  view['invitesDisabled'] = false
  return view
}

/** The DID of a `#repoRef` subject; other subjects are not supported here. */
function repoRefDid(subject: unknown): Did {
  const s = subject as { $type?: unknown; did?: unknown; uri?: unknown; cid?: unknown } | null
  const isRepoRef = s !== null && typeof s === 'object' && (s.$type === REPO_REF || (s.$type === undefined && s.uri === undefined && s.cid === undefined))
  if (!isRepoRef) throw new AtfedError('InvalidRequest', 'only account (#repoRef) subjects are supported')
  return parseDid(String(s.did))
}

export function registerAdminRoutes(router: XrpcRouter, ctx: PdsContext): void {
  const admin = { auth: ctx.auth.admin() }
  const adminJson = { ...admin, input: { kind: 'json' } as const }

  router.query('com.atproto.admin.getAccountInfo', async ({ params }) => {
    return json(await accountView(ctx, await liveAccount(ctx, (params as { did: string }).did)))
  }, admin)

  router.query('com.atproto.admin.getAccountInfos', async ({ params }) => {
    const dids = (params as { dids?: string[] }).dids ?? []
    if (dids.length > PDS_ACCOUNT_INFOS_DIDS_MAX) throw new AtfedError('InvalidRequest', `at most ${PDS_ACCOUNT_INFOS_DIDS_MAX} dids per call`)
    const accounts = await Promise.all(dids.map((did) => ctx.accounts.get(parseDid(did))))
    const live = accounts.filter((a): a is Account => a !== null && a.status !== 'deleted')
    return json({ infos: await Promise.all(live.map((account) => accountView(ctx, account))) })
  }, admin)

  router.query('com.atproto.admin.searchAccounts', async ({ params }) => {
    const p = params as { email?: string; cursor?: string; limit?: number }
    const limit = Math.min(p.limit ?? 50, PDS_SEARCH_ACCOUNTS_LIMIT_MAX)
    if (p.email !== undefined) {
      const account = await ctx.accounts.getByEmail(p.email)
      return json({ accounts: account === null ? [] : [await accountView(ctx, account)] })
    }
    const page = await ctx.accounts.list({ limit, ...(p.cursor === undefined ? {} : { after: p.cursor }) })
    const accounts = await Promise.all(page.filter((a) => a.status !== 'deleted').map((a) => accountView(ctx, a)))
    const last = page.at(-1)
    return json(page.length === limit && last !== undefined ? { cursor: last.did, accounts } : { accounts })
  }, admin)

  router.procedure('com.atproto.admin.updateSubjectStatus', async ({ input }) => {
    const body = input?.body as { subject: unknown; takedown?: StatusAttr; deactivated?: StatusAttr }
    const did = repoRefDid(body.subject)
    await updateAccountStatus(ctx, did, {
      ...(body.takedown === undefined ? {} : { takedown: body.takedown }),
      ...(body.deactivated === undefined ? {} : { deactivated: body.deactivated }),
    })
    return json({ subject: body.subject, ...(body.takedown === undefined ? {} : { takedown: body.takedown }) })
  }, adminJson)

  router.query('com.atproto.admin.getSubjectStatus', async ({ params }) => {
    const p = params as { did?: string; uri?: string; blob?: string }
    if (p.uri !== undefined || p.blob !== undefined) throw new AtfedError('InvalidRequest', 'only account subjects (did) are supported')
    if (p.did === undefined) throw new AtfedError('InvalidRequest', 'No provided subject')
    const status = await getAccountAdminStatus(ctx, parseDid(p.did))
    if (status === null) throw new AtfedError('NotFound', 'Subject not found')
    return json({ subject: { $type: REPO_REF, did: p.did }, takedown: status.takedown, deactivated: status.deactivated })
  }, admin)

  router.procedure('com.atproto.admin.deleteAccount', async ({ input }) => {
    await deleteAccountData(ctx, parseDid(String((input?.body as { did?: unknown }).did)))
  }, adminJson)

  router.procedure('com.atproto.admin.updateAccountHandle', async ({ input }) => {
    const body = input?.body as { did?: unknown; handle?: unknown }
    const account = await liveAccount(ctx, body.did)
    await updateHandle(ctx, account.did, body.handle)
  }, adminJson)

  router.procedure('com.atproto.admin.updateAccountPassword', async ({ input }) => {
    const body = input?.body as { did?: unknown; password?: unknown }
    const password = checkNewPassword(body.password)
    const passwordHash = await hashPassword(password)
    await ctx.writer.withRepoLock(parseDid(String(body.did)), async () => {
      const account = await liveAccount(ctx, body.did)
      const ops = [...ctx.accounts.putOps({ ...account, passwordHash }), ...(await ctx.sessions.revokeAllOps(account.did))]
      await ctx.db.batch(ops, { sync: true })
    })
  }, adminJson)
}
