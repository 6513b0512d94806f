/**
 * An account's hosting status during a migration: activateAccount,
 * deactivateAccount, checkAccountStatus. Status changes run under the
 * repo lock, so no write interleaves with them.
 *
 * activateAccount (new PDS, last step in): nothing to do when already
 * active; refused while taken down (`AccountTakedown`) or while an import
 * is unfinished (`RepoImportIncomplete`); the DID document must point here
 * (did-check.ts; `InvalidRequest` naming the problem). Then ONE batch: the
 * row (active), the repo re-signed with the account's key at a higher rev,
 * and `#account{active}`, `#identity{handle}`, `#sync` (the new commit), in
 * that order (reference `sequenceAccountActivation`; the spec asks for a
 * commit signed by the new key whenever the key changed).
 *
 * deactivateAccount (old PDS, last step out): active → deactivated with
 * `#account{active:false, status:"deactivated"}`; already deactivated or
 * taken down → nothing. It never looks at the DID document (it must work
 * after the identity moved away). `deleteAfter` is advisory, as in the
 * reference, and not kept.
 *
 * checkAccountStatus: counts read from the stores (blocks and records are
 * walked: this is a rare call), `validDid` from did-check.ts, blob counts
 * from the blob index (pds/blobs/listing.ts).
 */
import { AtfedError } from '../../core/errors.ts'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import { resignCommit } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Account } from '../accounts/account.ts'
import { blobStoreFor } from '../blobs/registry.ts'
import { countBlobs } from '../blobs/listing.ts'
import type { PdsContext } from '../context.ts'
import { accountEvent, identityEvent, syncEvent } from '../sequencer.ts'
import { assertDidDocPointsHere, didDocProblem } from './did-check.ts'
import type { MigrationStore } from './store.ts'

async function liveAccount(ctx: PdsContext, did: Did): Promise<Account> {
  const account = await ctx.accounts.get(did)
  if (account === null || account.status === 'deleted') throw new AtfedError('AccountNotFound', 'Account not found')
  return account
}

export async function activateAccount(ctx: PdsContext, store: MigrationStore, did: Did): Promise<void> {
  await ctx.writer.withRepoLock(did, async () => {
    const account = await liveAccount(ctx, did)
    if (account.status === 'active') return
    if (account.status === 'takendown') throw new AtfedError('AccountTakedown', 'Account has been taken down')
    if (await store.isImportPending(did)) {
      throw new AtfedError('RepoImportIncomplete', 'a repo import did not finish; run importRepo again before activating')
    }
    await assertDidDocPointsHere(ctx, account)
    const head = ctx.repos.getHead(did)
    if (head === null) throw new AtfedError('RepoNotFound', `Could not find repo: ${did}`)
    const commit = resignCommit(head, { did, keypair: ctx.signingKeys.get(account), reader: ctx.repos.readerFor(did) })
    const active: Account = { ...account, status: 'active', deactivatedAt: null }
    await ctx.writer.storeCommit(did, commit, {
      events: [accountEvent(active), identityEvent(did, account.handle), syncEvent(did, commit)],
      extraOps: ctx.accounts.putOps(active),
    })
  })
}

export async function deactivateAccount(ctx: PdsContext, did: Did): Promise<void> {
  await ctx.writer.withRepoLock(did, async () => {
    const account = await liveAccount(ctx, did)
    if (account.status !== 'active') return
    const deactivated: Account = { ...account, status: 'deactivated', deactivatedAt: new Date().toISOString() }
    await ctx.writer.storeWithEvents(ctx.accounts.putOps(deactivated), [accountEvent(deactivated)])
  })
}

export type AccountStatusReport = {
  activated: boolean
  validDid: boolean
  repoCommit: string
  repoRev: string
  repoBlocks: number
  indexedRecords: number
  privateStateValues: number
  expectedBlobs: number
  importedBlobs: number
}

export async function checkAccountStatus(ctx: PdsContext, account: Account): Promise<AccountStatusReport> {
  const { did } = account
  const head = ctx.repos.getHead(did)
  if (head === null) throw new AtfedError('RepoNotFound', `Could not find repo: ${did}`)
  let repoBlocks = 0
  for await (const _block of ctx.repos.iterateBlocks(did)) repoBlocks++
  let indexedRecords = 0
  for (const _leaf of walkRepoLeaves(ctx.repos.readerFor(did), head.dataCid)) indexedRecords++
  const [blobs, problem] = await Promise.all([countBlobs(blobStoreFor(ctx), did), didDocProblem(ctx, account)])
  return {
    activated: account.status === 'active',
    validDid: problem === null,
    repoCommit: head.commitCid.toString(),
    repoRev: head.rev,
    repoBlocks,
    indexedRecords,
    privateStateValues: 0,
    expectedBlobs: blobs.expectedBlobs,
    importedBlobs: blobs.importedBlobs,
  }
}
