/**
 * com.atproto.server.* account extras: app passwords (create, list,
 * revoke), the account's own invite codes, and self-service account
 * deletion (requestAccountDelete, deleteAccount).
 *
 * Credentials, as the reference:
 * - createAppPassword, getAccountInviteCodes, requestAccountDelete: a
 *   full-access (main password) session, not taken down; an app-password
 *   session gets 400 `InvalidToken` "Bad token scope";
 * - listAppPasswords, revokeAppPassword: any session, app passwords too;
 * - deleteAccount: no session at all (password + emailed token).
 * Registering this module also installs the app-password login hook
 * (`ctx.loginHooks.checkAppPassword`) and, in the background, finishes any
 * account purge a crash interrupted (accounts/account-deletion.ts).
 *
 * getAccountInviteCodes lists the codes made for the account (by the
 * admin: `forAccounts`); this PDS has no earned codes (the reference's
 * PDS_INVITE_INTERVAL), so `createAvailable` creates nothing.
 */
import type { Did } from '../../core/syntax/did.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { deleteAccountWithToken, finishPendingDeletions, requestAccountDelete } from '../accounts/account-deletion.ts'
import { accountExtras } from '../accounts/extras.ts'
import { codesForAccount } from '../accounts/invite-views.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { perDid, perIp } from '../rate-limits.ts'

type Body = { [key: string]: unknown }

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

export function registerAccountExtrasRoutes(router: XrpcRouter, ctx: PdsContext): void {
  ctx.loginHooks.checkAppPassword = async (account, password) => (await accountExtras(ctx)).appPasswords.check(account, password)
  const sweep = finishPendingDeletions(ctx).catch((err: unknown) => {
    console.error('pds: finishing interrupted account deletions failed:', err)
    return 0
  })
  ctx.cleanups.push(async () => void (await sweep))

  router.procedure<AccessCredentials>(
    'com.atproto.server.createAppPassword',
    async ({ auth, input }) => {
      const body = input?.body as { name: unknown; privileged?: unknown }
      return json(await (await accountExtras(ctx)).appPasswords.create(auth.did, body))
    },
    { auth: ctx.auth.access({ scopes: 'full', checkTakedown: true }), input: { kind: 'json' } },
  )

  router.query<AccessCredentials>(
    'com.atproto.server.listAppPasswords',
    async ({ auth }) => json({ passwords: await (await accountExtras(ctx)).appPasswords.list(auth.did) }),
    { auth: ctx.auth.access() },
  )

  router.procedure<AccessCredentials>(
    'com.atproto.server.revokeAppPassword',
    async ({ auth, input }) => {
      const name = String((input?.body as { name?: unknown }).name)
      const ops = [
        ...(await (await accountExtras(ctx)).appPasswords.revokeOps(auth.did, name)),
        ...(await ctx.sessions.revokeAllOps(auth.did, { appPassword: name })),
      ]
      if (ops.length > 0) await ctx.db.batch(ops, { sync: true })
    },
    { auth: ctx.auth.access(), input: { kind: 'json' } },
  )

  router.query<AccessCredentials>(
    'com.atproto.server.getAccountInviteCodes',
    async ({ auth, params }) => {
      const includeUsed = (params as { includeUsed?: boolean }).includeUsed !== false
      const codes = await codesForAccount((await accountExtras(ctx)).invites, auth.did)
      return json({ codes: codes.filter((code) => !code.disabled && (includeUsed || code.uses.length < code.available)) })
    },
    { auth: ctx.auth.access({ scopes: 'full', checkTakedown: true }) },
  )

  router.procedure<AccessCredentials>(
    'com.atproto.server.requestAccountDelete',
    async ({ auth }) => {
      await requestAccountDelete(ctx, auth.account)
    },
    {
      auth: ctx.auth.access({ scopes: 'full', checkTakedown: true }),
      rateLimits: [perDid('emailRequestHour'), perDid('emailRequestDay')],
    },
  )

  router.procedure(
    'com.atproto.server.deleteAccount',
    async ({ input }) => {
      const body = input?.body as { did: Did; password: string; token: string }
      await deleteAccountWithToken(ctx, body)
    },
    { input: { kind: 'json' }, rateLimits: [perIp('deleteAccount')] },
  )
}
