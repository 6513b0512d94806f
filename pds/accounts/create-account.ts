/**
 * createAccount for a new did:plc (reference `api/server/createAccount.ts`):
 *
 *  1. input checks: no `plcOp` (not an entryway); a password (400
 *     `InvalidRequest` when missing, `InvalidPassword` when too long); an
 *     optional, well-formed, unused email; the invite gate
 *     (invite-check.ts); a handle under one of our domains (handle-rules.ts);
 *     an optional `recoveryKey` did:key;
 *  2. the handle and email are reserved in memory (store.ts) until step 5;
 *  3. a fresh k256 repo signing key, and a PLC genesis op: rotationKeys
 *     [recoveryKey?, our rotation key], `#atproto` = the signing key, the
 *     handle, `atproto_pds` = our public URL; signed by our rotation key
 *     and submitted (a PLC failure is 502 `UpstreamFailure`);
 *  4. the repo's first commit (empty tree) and a session;
 *  5. ONE batch: account row + handle/email indexes, repo blocks and head,
 *     the refresh-token row, and `#identity`, `#account{active}`, `#commit`,
 *     `#sync` (sequencer.ts).
 * If anything fails after step 3 the new DID is tombstoned (best effort),
 * as the reference does, so no orphan identity points at us.
 *
 * An existing `did` (migration in) is another flow, `createAccountForExistingDid`
 * (reference: the same method with an inter-service token):
 *  1. the request's `Authorization` must be a service JWT from that DID for
 *     us and this method (migration/service-auth.ts `verifyMigrationToken`;
 *     401 otherwise) — checked before anything else, as the reference's auth hook;
 *  2. the same password, email and invite checks; the handle is one of ours
 *     (service-handle rules) or must already resolve to the DID
 *     (`InvalidRequest` "External handle did not resolve to DID");
 *  3. the DID must resolve now (`UnresolvableDid`) and have no account here;
 *  4. ONE batch: the account row, DEACTIVATED, with a fresh k256 signing key
 *     (the DID document does not name it yet: getRecommendedDidCredentials
 *     does), an empty repo signed with that key, the invite use and a
 *     session. No firehose event: the account is not live until
 *     activateAccount, after importRepo and the PLC update. The resolved
 *     DID document is returned, as the reference does.
 */
import { AtfedError } from '../../core/errors.ts'
import { parseDidKey } from '../../core/crypto/did-key.ts'
import { formatPrivateKeyHex, generateKeypair } from '../../core/crypto/keypair.ts'
import { PDS_EMAIL_LENGTH_MAX } from '../../core/limits.ts'
import { createInitialCommit } from '../../core/repo/writes.ts'
import { isDid, type Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import { opsToDidDocument } from '../../did-resolver/plc/document.ts'
import { createGenesisOp, createTombstone } from '../../did-resolver/plc/op-builder.ts'
import type { PlcOperation } from '../../did-resolver/plc/operation.ts'
import type { PdsContext } from '../context.ts'
import { accountEvent, commitEvent, identityEvent, syncEvent } from '../sequencer.ts'
import type { Account } from './account.ts'
import { verifyMigrationToken } from '../migration/service-auth.ts'
import { freshIdentity } from '../migration/did-check.ts'
import { checkNewAccountHandle, checkServiceHandle, normalizeHandle, serviceDomainOf } from './handle-rules.ts'
import { checkInviteCode, useInviteCodeOps } from './invite-check.ts'
import { checkNewPassword, hashPassword } from './password.ts'

export type CreateAccountInput = {
  handle?: unknown
  email?: unknown
  password?: unknown
  inviteCode?: unknown
  did?: unknown
  recoveryKey?: unknown
  plcOp?: unknown
}

export type CreatedAccount = { account: Account; accessJwt: string; refreshJwt: string; didDoc: object | null }

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function normalizeEmail(input: unknown): string | null {
  if (input === undefined || input === null || input === '') return null
  if (typeof input !== 'string' || input.length > PDS_EMAIL_LENGTH_MAX || !EMAIL_SHAPE.test(input)) {
    throw new AtfedError('InvalidRequest', 'This email address is not supported, please use a different email.')
  }
  return input.toLowerCase()
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** `authorization`: the request's Authorization header (the service token of a migration). */
export async function createAccount(
  ctx: PdsContext,
  input: CreateAccountInput,
  options: { authorization?: string | undefined } = {},
): Promise<CreatedAccount> {
  if (input.plcOp !== undefined) throw new AtfedError('InvalidRequest', 'Unsupported input: "plcOp"')
  if (input.did !== undefined) return createAccountForExistingDid(ctx, input, options.authorization)
  if (input.password === undefined || input.password === '') throw new AtfedError('InvalidRequest', 'Password is required')
  const password = checkNewPassword(input.password)
  const email = normalizeEmail(input.email)
  await checkInviteCode(ctx, optionalString(input.inviteCode))
  const handle = checkNewAccountHandle(input.handle, ctx.config.handleDomains)
  const recoveryKey = input.recoveryKey === undefined ? null : parseRecoveryKey(input.recoveryKey)
  const reservation = await ctx.accounts.reserve(handle, email)
  try {
    return await createPlcAccount(ctx, { handle, email, password, recoveryKey, inviteCode: optionalString(input.inviteCode) })
  } finally {
    reservation.release()
  }
}

function parseRecoveryKey(value: unknown): string {
  try {
    if (typeof value !== 'string') throw new Error('not a string')
    return parseDidKey(value).didKey
  } catch {
    throw new AtfedError('InvalidRequest', 'recoveryKey must be a did:key')
  }
}

type NewAccount = { handle: Handle; email: string | null; password: string; recoveryKey: string | null; inviteCode: string | undefined }

async function createPlcAccount(ctx: PdsContext, input: NewAccount): Promise<CreatedAccount> {
  const signingKey = generateKeypair('k256')
  const genesis = createGenesisOp({
    signingKey: signingKey.publicKey.didKey,
    rotationKeys: [...(input.recoveryKey === null ? [] : [input.recoveryKey]), ctx.rotationKey.publicKey.didKey],
    handle: input.handle,
    pds: ctx.publicUrl,
    signer: ctx.rotationKey,
  })
  const did = genesis.did
  const passwordHash = await hashPassword(input.password)
  try {
    await ctx.plc.submitOp(did, genesis.op)
  } catch (err) {
    throw new XrpcError(502, 'UpstreamFailure', `the PLC directory did not accept the new DID: ${(err as Error).message}`, { cause: err })
  }
  try {
    const account: Account = {
      did,
      handle: input.handle,
      email: input.email,
      passwordHash,
      signingKey: { type: 'k256', privateKeyHex: formatPrivateKeyHex(signingKey.exportPrivateKey()) },
      status: 'active',
      createdAt: new Date().toISOString(),
      emailConfirmedAt: null,
      deactivatedAt: null,
    }
    const commit = createInitialCommit(did, signingKey)
    const session = ctx.sessions.openOps(did)
    const events = [identityEvent(did, input.handle), accountEvent(account), commitEvent(did, commit), syncEvent(did, commit)]
    const ops = ctx.repos.commitOps(did, {
      newBlocks: commit.newBlocks,
      removedCids: [],
      head: commit.head,
      extra: [...ctx.accounts.createOps(account), ...useInviteCodeOps(ctx, input.inviteCode, did), ...session.ops],
    })
    await ctx.writer.storeWithEvents(ops, events)
    return { account, accessJwt: session.accessJwt, refreshJwt: session.refreshJwt, didDoc: opsToDidDocument(did, genesis.op) }
  } catch (err) {
    await tombstone(ctx, did, genesis.op)
    throw err
  }
}

async function tombstone(ctx: PdsContext, did: Did, genesis: PlcOperation): Promise<void> {
  try {
    await ctx.plc.submitOp(did, createTombstone(genesis, { signer: ctx.rotationKey }).op)
  } catch (err) {
    console.error(`pds: could not tombstone ${did} after a failed signup:`, err)
  }
}

/** Migration in (see the module header). */
export async function createAccountForExistingDid(
  ctx: PdsContext,
  input: CreateAccountInput,
  authorization: string | undefined,
): Promise<CreatedAccount> {
  if (!isDid(input.did)) throw new AtfedError('InvalidRequest', 'did must be a DID')
  const did = input.did
  await verifyMigrationToken(ctx, authorization, did)
  if (input.password === undefined || input.password === '') throw new AtfedError('InvalidRequest', 'Password is required')
  const password = checkNewPassword(input.password)
  const email = normalizeEmail(input.email)
  const inviteCode = optionalString(input.inviteCode)
  await checkInviteCode(ctx, inviteCode)
  const handle = await checkMigratingHandle(ctx, input.handle, did)
  const identity = await freshIdentity(ctx, did)
  const passwordHash = await hashPassword(password)
  const reservation = await ctx.accounts.reserve(handle, email)
  try {
    return await ctx.writer.withRepoLock(did, async () => {
      if ((await ctx.accounts.get(did)) !== null) throw new AtfedError('InvalidRequest', `Account already exists: ${did}`)
      const signingKey = generateKeypair('k256')
      const now = new Date().toISOString()
      const account: Account = {
        did,
        handle,
        email,
        passwordHash,
        signingKey: { type: 'k256', privateKeyHex: formatPrivateKeyHex(signingKey.exportPrivateKey()) },
        status: 'deactivated',
        createdAt: now,
        emailConfirmedAt: null,
        deactivatedAt: now,
      }
      const commit = createInitialCommit(did, signingKey)
      const session = ctx.sessions.openOps(did)
      await ctx.repos.applyCommit(did, {
        newBlocks: commit.newBlocks,
        removedCids: [],
        head: commit.head,
        extra: [...ctx.accounts.createOps(account), ...useInviteCodeOps(ctx, inviteCode, did), ...session.ops],
      })
      return { account, accessJwt: session.accessJwt, refreshJwt: session.refreshJwt, didDoc: identity.doc }
    })
  } finally {
    reservation.release()
  }
}

/** One of our handles, or one that already resolves to `did`. */
async function checkMigratingHandle(ctx: PdsContext, input: unknown, did: Did): Promise<Handle> {
  const handle = normalizeHandle(input)
  const domain = serviceDomainOf(handle, ctx.config.handleDomains)
  if (domain !== null) {
    checkServiceHandle(handle, domain)
    return handle
  }
  const resolved = await ctx.idResolver.resolveHandle(handle).catch(() => null)
  if (resolved !== did) throw new AtfedError('InvalidRequest', 'External handle did not resolve to DID')
  return handle
}
