/**
 * Invite-code administration, all behind admin Basic auth (reference
 * `server/createInviteCode(s).ts`, `admin/getInviteCodes.ts`,
 * `admin/disableInviteCodes.ts`):
 * - server.createInviteCode {useCount, forAccount?} → {code}
 * - server.createInviteCodes {codeCount, useCount, forAccounts?} →
 *   {codes: [{account, codes}]} (`forAccount` defaults to `admin`);
 * - admin.getInviteCodes {sort: recent|usage, limit, cursor} → {codes, cursor?};
 * - admin.disableInviteCodes {codes?, accounts?}.
 * `useCount` is 1…PDS_INVITE_CODE_USES_MAX; one call creates at most
 * PDS_INVITE_CODES_PER_CALL_MAX codes (400 `InvalidRequest` beyond).
 */
import { AtfedError } from '../../core/errors.ts'
import {
  PDS_DISABLE_INVITE_CODES_MAX,
  PDS_INVITE_CODE_USES_MAX,
  PDS_INVITE_CODES_PAGE_MAX,
  PDS_INVITE_CODES_PER_CALL_MAX,
} from '../../core/limits.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { accountExtras } from '../accounts/extras.ts'
import { generateInviteCode, pageInviteCodes } from '../accounts/invite-views.ts'
import type { InviteCodeRow } from '../accounts/invites.ts'
import type { PdsContext } from '../context.ts'

type Body = { [key: string]: unknown }

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

function checkCount(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new AtfedError('InvalidRequest', `${name} must be an integer from 1 to ${max}`)
  }
  return value
}

/** Creates `codeCount` codes for each account; returns them grouped by account. */
async function createCodes(
  ctx: PdsContext,
  input: { codeCount: unknown; useCount: unknown; forAccounts: readonly string[] },
): Promise<Array<{ account: string; codes: string[] }>> {
  const useCount = checkCount(input.useCount, 'useCount', PDS_INVITE_CODE_USES_MAX)
  const codeCount = checkCount(input.codeCount, 'codeCount', PDS_INVITE_CODES_PER_CALL_MAX)
  if (codeCount * input.forAccounts.length > PDS_INVITE_CODES_PER_CALL_MAX) {
    throw new AtfedError('InvalidRequest', `at most ${PDS_INVITE_CODES_PER_CALL_MAX} codes per call`)
  }
  const createdAt = new Date().toISOString()
  const rows: InviteCodeRow[] = []
  const grouped = input.forAccounts.map((account) => {
    const codes = Array.from({ length: codeCount }, () => generateInviteCode(ctx.config.hostname))
    for (const code of codes) rows.push({ code, available: useCount, disabled: false, forAccount: account, createdBy: 'admin', createdAt })
    return { account, codes }
  })
  await (await accountExtras(ctx)).invites.create(rows)
  return grouped
}

export function registerAdminInviteRoutes(router: XrpcRouter, ctx: PdsContext): void {
  const admin = { auth: ctx.auth.admin() }

  router.procedure(
    'com.atproto.server.createInviteCode',
    async ({ input }) => {
      const body = input?.body as { useCount?: unknown; forAccount?: string }
      const [group] = await createCodes(ctx, { codeCount: 1, useCount: body.useCount, forAccounts: [body.forAccount ?? 'admin'] })
      return json({ code: group?.codes[0] })
    },
    { ...admin, input: { kind: 'json' } },
  )

  router.procedure(
    'com.atproto.server.createInviteCodes',
    async ({ input }) => {
      const body = input?.body as { codeCount?: unknown; useCount?: unknown; forAccounts?: string[] }
      const forAccounts = body.forAccounts === undefined || body.forAccounts.length === 0 ? ['admin'] : body.forAccounts
      return json({ codes: await createCodes(ctx, { codeCount: body.codeCount ?? 1, useCount: body.useCount, forAccounts }) })
    },
    { ...admin, input: { kind: 'json' } },
  )

  router.query(
    'com.atproto.admin.getInviteCodes',
    async ({ params }) => {
      const p = params as { sort?: string; limit?: number; cursor?: string }
      const limit = Math.min(p.limit ?? 100, PDS_INVITE_CODES_PAGE_MAX)
      const page = await pageInviteCodes((await accountExtras(ctx)).invites, {
        sort: p.sort ?? 'recent',
        limit,
        ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
      })
      return json(page)
    },
    admin,
  )

  router.procedure(
    'com.atproto.admin.disableInviteCodes',
    async ({ input }) => {
      const body = input?.body as { codes?: string[]; accounts?: string[] }
      const codes = body.codes ?? []
      const accounts = body.accounts ?? []
      if (codes.length + accounts.length > PDS_DISABLE_INVITE_CODES_MAX) {
        throw new AtfedError('InvalidRequest', `at most ${PDS_DISABLE_INVITE_CODES_MAX} codes and accounts per call`)
      }
      if (accounts.includes('admin')) throw new AtfedError('InvalidRequest', 'cannot disable admin invite codes')
      await (await accountExtras(ctx)).invites.disable({ codes, accounts })
    },
    { ...admin, input: { kind: 'json' } },
  )
}
