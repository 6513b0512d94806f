/**
 * The invite-code gate of createAccount.
 *
 * PLACEHOLDER until invite codes exist (the invites module replaces the
 * body of `checkInviteCode` and adds `useInviteCodeOps` to the signup
 * batch): when the server does not require invites every signup passes;
 * when it does, there is no code store yet, so every signup is refused with
 * 400 `InvalidInviteCode`, as the reference answers for an unknown code.
 */
import { AtfedError } from '../../core/errors.ts'
import type { StoreBatchOp } from '../../core/repo/block-store.ts'
import type { PdsContext } from '../context.ts'

export async function checkInviteCode(ctx: Pick<PdsContext, 'config'>, code: string | undefined): Promise<void> {
  if (!ctx.config.inviteRequired) return
  if (code === undefined || code === '') throw new AtfedError('InvalidInviteCode', 'No invite code provided')
  throw new AtfedError('InvalidInviteCode', 'Provided invite code not available')
}

/** Ops recording that `code` was used by `did`, for the signup batch (none until invites exist). */
export function useInviteCodeOps(_ctx: Pick<PdsContext, 'config'>, _code: string | undefined, _did: string): StoreBatchOp[] {
  return []
}
