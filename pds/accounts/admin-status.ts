/**
 * The admin's status changes to an account (admin.updateSubjectStatus with
 * a `#repoRef` subject; reference `takedownAccount`, `deactivateAccount`):
 *
 * - `takedown {applied, ref?}`: the account row's status becomes
 *   `takendown` (applied) or goes back to what it was (`deactivated` when
 *   it has a `deactivatedAt`, else `active`); the ref is kept (takedown-store.ts).
 *   Applying a takedown also revokes every refresh token, so no session can
 *   be renewed; access tokens still out (≤ 2 h) are refused by every route
 *   that checks takedowns, by the write path and by login.
 * - `deactivated {applied}`: sets or clears `deactivatedAt` (a takedown
 *   still wins while it lasts).
 * All of it, and the `#account` event carrying the resulting status, go in
 * ONE batch (`ctx.writer.storeWithEvents`), under the repo's write lock so
 * no write of the account interleaves. The event is sequenced on every
 * call, as the reference does, even when nothing changed.
 */
import { AtfedError } from '../../core/errors.ts'
import type { StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PdsContext } from '../context.ts'
import { accountEvent } from '../sequencer.ts'
import type { Account, HostingStatus } from './account.ts'
import { accountExtras } from './extras.ts'

export type StatusAttr = { applied: boolean; ref?: string }
export type StatusChange = { takedown?: StatusAttr; deactivated?: StatusAttr }
export type AccountAdminStatus = { takedown: StatusAttr; deactivated: StatusAttr }

function notFound(did: Did): AtfedError {
  return new AtfedError('NotFound', `Account not found: ${did}`)
}

function statusOf(takendown: boolean, deactivated: boolean): HostingStatus {
  if (takendown) return 'takendown'
  return deactivated ? 'deactivated' : 'active'
}

/** Deactivated by its status, or (under a takedown) by the date it keeps for afterwards. */
function isDeactivated(account: Account): boolean {
  return account.status === 'deactivated' || (account.status === 'takendown' && account.deactivatedAt !== null)
}

/** Applies `change` to `did`; returns the account as stored afterwards. */
export async function updateAccountStatus(ctx: PdsContext, did: Did, change: StatusChange): Promise<Account> {
  const { takedowns } = await accountExtras(ctx)
  return ctx.writer.withRepoLock(did, async () => {
    const account = await ctx.accounts.get(did)
    if (account === null || account.status === 'deleted') throw notFound(did)
    const wasTakendown = account.status === 'takendown'
    const takendown = change.takedown?.applied ?? wasTakendown
    const deactivated = change.deactivated?.applied ?? isDeactivated(account)
    // A deactivated account without a date (migrated in) gets one, so it stays deactivated through a takedown.
    const deactivatedAt = deactivated ? (account.deactivatedAt ?? new Date().toISOString()) : null
    const updated: Account = { ...account, status: statusOf(takendown, deactivated), deactivatedAt }
    const ops: StoreBatchOp[] = [...ctx.accounts.putOps(updated)]
    if (change.takedown !== undefined) {
      ops.push(...(takendown ? takedowns.putOps(did, change.takedown.ref ?? null) : takedowns.delOps(did)))
      if (takendown) ops.push(...(await ctx.sessions.revokeAllOps(did)))
    }
    await ctx.writer.storeWithEvents(ops, [accountEvent(updated)])
    return updated
  })
}

/** getSubjectStatus for an account, or null when there is none. */
export async function getAccountAdminStatus(ctx: PdsContext, did: Did): Promise<AccountAdminStatus | null> {
  const account = await ctx.accounts.get(did)
  if (account === null || account.status === 'deleted') return null
  const takedown: StatusAttr = { applied: account.status === 'takendown' }
  if (takedown.applied) {
    const row = await (await accountExtras(ctx)).takedowns.get(did)
    if (row?.ref !== null && row?.ref !== undefined) takedown.ref = row.ref
  }
  return { takedown, deactivated: { applied: isDeactivated(account) } }
}
