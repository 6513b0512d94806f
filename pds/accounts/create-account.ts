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
 * An existing `did` (migration in) is another flow: `createAccountForExistingDid`
 * is its placeholder.
 */
import { AtfedError } from '../../core/errors.ts'
import { parseDidKey } from '../../core/crypto/did-key.ts'
import { formatPrivateKeyHex, generateKeypair } from '../../core/crypto/keypair.ts'
import { PDS_EMAIL_LENGTH_MAX } from '../../core/limits.ts'
import { createInitialCommit } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import { opsToDidDocument } from '../../did-resolver/plc/document.ts'
import { createGenesisOp, createTombstone } from '../../did-resolver/plc/op-builder.ts'
import type { PlcOperation } from '../../did-resolver/plc/operation.ts'
import type { PdsContext } from '../context.ts'
import { accountEvent, commitEvent, identityEvent, sequenceWith, syncEvent } from '../sequencer.ts'
import type { Account } from './account.ts'
import { checkNewAccountHandle } from './handle-rules.ts'
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

export async function createAccount(ctx: PdsContext, input: CreateAccountInput): Promise<CreatedAccount> {
  if (input.plcOp !== undefined) throw new AtfedError('InvalidRequest', 'Unsupported input: "plcOp"')
  if (input.did !== undefined) return createAccountForExistingDid(ctx, input)
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
    await sequenceWith(ctx.events, events, (eventOps) =>
      ctx.repos.applyCommit(did, {
        newBlocks: commit.newBlocks,
        removedCids: [],
        head: commit.head,
        extra: [...ctx.accounts.createOps(account), ...useInviteCodeOps(ctx, input.inviteCode, did), ...session.ops, ...eventOps],
      }),
    )
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

/**
 * Migration in: createAccount with an existing DID and a service-auth token
 * from it. NOT IMPLEMENTED YET (the migration module fills this in: verify
 * the token's iss/aud/lxm against the DID's current key, create the account
 * deactivated with a fresh signing key and an empty repo, emit nothing).
 */
export async function createAccountForExistingDid(_ctx: PdsContext, _input: CreateAccountInput): Promise<CreatedAccount> {
  throw new XrpcError(501, 'MethodNotImplemented', 'creating an account for an existing DID (migration) is not supported yet')
}
