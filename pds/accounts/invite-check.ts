/**
 * The invite-code gate of createAccount (new DIDs and migrations in), when
 * the server requires invites (reference `ensureInviteIsAvailable`,
 * `recordInviteUse`). Without `--invite-required` codes are ignored.
 *
 * Two steps, because a signup does slow work (PLC) between them:
 * - `checkInviteCode` (early, async): 400 `InvalidInviteCode` "No invite
 *   code provided" without one; "Provided invite code not available" when
 *   it is unknown, disabled, made for an account that is taken down, or
 *   its uses (stored, plus claims of signups in flight) are all taken;
 * - `useInviteCodeOps` (inside the signup's batch builder, synchronous):
 *   claims one use for the new DID (invites.ts `claimUseOps`: the same
 *   checks again, race-free) and returns the ops recording it, so the use
 *   lands in the SAME batch as the account rows. A signup that loses the
 *   race for the last use fails there, before anything is written.
 */
import { AtfedError } from '../../core/errors.ts'
import type { StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PdsContext } from '../context.ts'
import { accountExtras, accountExtrasSync } from './extras.ts'

function unavailable(): AtfedError {
  return new AtfedError('InvalidInviteCode', 'Provided invite code not available')
}

export async function checkInviteCode(ctx: PdsContext, code: string | undefined): Promise<void> {
  if (!ctx.config.inviteRequired) return
  if (code === undefined || code === '') throw new AtfedError('InvalidInviteCode', 'No invite code provided')
  const { invites } = await accountExtras(ctx)
  const row = await invites.get(code)
  if (row === null || row.disabled) throw unavailable()
  if (row.forAccount.startsWith('did:')) {
    const owner = await ctx.accounts.get(row.forAccount as Did)
    if (owner?.status === 'takendown') throw unavailable()
  }
  if ((await invites.usedCount(row)) >= row.available) throw unavailable()
}

/** Ops recording that `did` used `code`, for the signup batch (none when invites are not required). */
export function useInviteCodeOps(ctx: PdsContext, code: string | undefined, did: Did): StoreBatchOp[] {
  if (!ctx.config.inviteRequired) return []
  if (code === undefined || code === '') throw new AtfedError('InvalidInviteCode', 'No invite code provided')
  return accountExtrasSync(ctx).invites.claimUseOps(code, did)
}
