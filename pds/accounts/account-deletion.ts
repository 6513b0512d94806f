/**
 * Deleting an account (reference `server/deleteAccount.ts`,
 * `server/requestAccountDelete.ts`, `admin/deleteAccount.ts`).
 *
 * Self-service, two steps:
 * 1. requestAccountDelete (full-access session): a token `XXXXX-XXXXX`
 *    valid PDS_DELETE_TOKEN_TTL_MS. The reference emails it; this PDS has
 *    no mailer, so it is LOGGED: with `--dev` the log line carries the token
 *    (local setups and tests: the operator reads it there); without, the
 *    line only says a token was issued, and an operator deletes accounts
 *    with admin.deleteAccount instead.
 * 2. deleteAccount {did, password, token} (no session): unknown account →
 *    400 `InvalidRequest`; wrong password → 401 `AuthenticationRequired`
 *    "Invalid did or password"; wrong token → 400 `InvalidToken`; expired
 *    → 400 `ExpiredToken`. Then the deletion below.
 *
 * The deletion (`deleteAccountData`, also admin.deleteAccount), under the
 * repo's write lock (which first waits for the account's in-flight writes):
 * ONE batch removes the account row with its handle and email index entries
 * (the handle is free at once), every session, app password, preference,
 * deletion token and takedown ref, marks the account pending purge, and
 * sequences `#account {active: false, status: "deleted"}`. Then the purge:
 * repo head and blocks (one range delete), record counts, commit index,
 * blobs (rows and files); then the mark goes. A crash in between leaves the
 * mark, and `finishPendingDeletions` (run at start-up) completes it.
 *
 * NOT removed: the DID's earlier events in the firehose log. They age out
 * with the backfill window (the reference purges them at once; a consumer
 * replaying a cursor from before the deletion still sees the `#account`
 * deleted event after them). Invite codes and their use records stay too.
 */
import { AtfedError } from '../../core/errors.ts'
import { PDS_DELETE_TOKEN_TTL_MS, PDS_LOGIN_PASSWORD_LENGTH_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { blobStoreFor } from '../blobs/registry.ts'
import type { PdsContext } from '../context.ts'
import { accountEvent } from '../sequencer.ts'
import type { Account } from './account.ts'
import { accountExtras } from './extras.ts'
import { randomToken } from './invite-views.ts'
import { verifyPassword } from './password.ts'

/** Issues (and "sends": logs) a deletion token for `account`; returns it. */
export async function requestAccountDelete(ctx: PdsContext, account: Account, nowMs: number = Date.now()): Promise<string> {
  const token = randomToken().toUpperCase()
  await (await accountExtras(ctx)).deletion.putToken(account.did, { token, requestedAtMs: nowMs })
  if (ctx.config.dev) console.log(`pds: account deletion token for ${account.did} (${account.handle}): ${token}`)
  else console.log(`pds: account deletion requested for ${account.did}; no mailer: token not shown (use admin.deleteAccount)`)
  return token
}

export type DeleteAccountInput = { did: Did; password: string; token: string }

export async function deleteAccountWithToken(ctx: PdsContext, input: DeleteAccountInput, nowMs: number = Date.now()): Promise<void> {
  const account = await ctx.accounts.get(input.did)
  if (account === null || account.status === 'deleted') throw new AtfedError('InvalidRequest', 'account not found')
  if (input.password.length > PDS_LOGIN_PASSWORD_LENGTH_MAX) throw new AtfedError('InvalidRequest', 'Invalid password length.')
  if (!(await verifyPassword(input.password, account.passwordHash))) {
    throw new AtfedError('AuthenticationRequired', 'Invalid did or password')
  }
  const stored = await (await accountExtras(ctx)).deletion.getToken(input.did)
  if (stored === null || stored.token !== input.token.toUpperCase()) throw new AtfedError('InvalidToken', 'Token is invalid')
  if (nowMs - stored.requestedAtMs > PDS_DELETE_TOKEN_TTL_MS) throw new AtfedError('ExpiredToken', 'Token is expired')
  await deleteAccountData(ctx, input.did)
}

/** Deletes `did` and everything it has here (see the module header). `NotFound` when there is no such account. */
export async function deleteAccountData(ctx: PdsContext, did: Did): Promise<void> {
  const extras = await accountExtras(ctx)
  await ctx.writer.withRepoLock(did, async () => {
    const account = await ctx.accounts.get(did)
    if (account === null) throw new AtfedError('NotFound', `Account not found: ${did}`)
    const ops = [
      ...ctx.accounts.deleteOps(account),
      ...(await ctx.sessions.revokeAllOps(did)),
      ...(await extras.appPasswords.deleteAllOps(did)),
      ...extras.preferences.deleteOps(did),
      ...extras.deletion.tokenDelOps(did),
      ...extras.takedowns.delOps(did),
      ...extras.deletion.pendingPutOps(did),
    ]
    const event = accountEvent({ did, status: 'deleted' })
    await ctx.writer.storeWithEvents(ops, [event])
    await purgeLocked(ctx, did)
  })
}

/** Removes what a deleted account left; the caller holds the repo lock. Idempotent. */
async function purgeLocked(ctx: PdsContext, did: Did): Promise<void> {
  const { deletion } = await accountExtras(ctx)
  if ((await ctx.accounts.get(did)) === null) {
    await ctx.repos.deleteRepo(did)
    await ctx.refs.clear(did)
    await ctx.commitIndex.clear(did)
    await blobStoreFor(ctx).deleteAccountLocked(did)
  } // else the DID has an account again (migrated back in): its data is not ours to purge
  await deletion.pendingDone(did)
}

/** Finishes purges a crash interrupted (start-up). Returns how many it finished. */
export async function finishPendingDeletions(ctx: PdsContext): Promise<number> {
  const { deletion } = await accountExtras(ctx)
  let done = 0
  for await (const did of deletion.pendingDids()) {
    await ctx.writer.withRepoLock(did as Did, () => purgeLocked(ctx, did as Did))
    done++
  }
  return done
}
