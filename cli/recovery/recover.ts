/**
 * `atfed account recover --backup DIR --recovery-key FILE --to NEW_PDS_URL
 *  [--handle H] --password P [--email E] [--invite-code C] [--plc URL]`:
 * bring an account up on a new PDS from a backup, WITHOUT the old PDS
 * (dead, hostile, or having banned the user). Steps, numbered on stderr:
 *
 *  1 before any call to the new PDS: read the key file; verify the whole
 *    backup locally (CAR, MST, records, blobs: backup-verify.ts) before any
 *    network call; then read and replay the DID's PLC audit log, check the
 *    commit is signed by a signing key the DID has had, and that the
 *    recovery key can sign the PLC update (a dry run of the directory's
 *    rules, recover-plc.ts). A tampered backup or a useless key stops here
 *    with NOTHING created anywhere
 *  2 the account on the new PDS, deactivated, proved by a rotation-key
 *    service JWT — or a login if it exists already (recover-remote.ts)
 *  3 importRepo of the backup CAR (before the PLC update: the new PDS checks
 *    the commit against the DID's current key, still the old one)
 *  4 the blobs the new PDS is missing, from the backup
 *  5 the new PDS's recommended credentials (its new signing key and
 *    rotation key) → ONE PLC operation signed by the user's key: new
 *    `#atproto` key, new endpoint, the handle, rotationKeys [user key, new
 *    PDS key] — submitted to the PLC directory directly (no PDS signs it)
 *  6 activateAccount: the new PDS re-signs the repo with its key and emits
 *    `#account`, `#identity` and `#sync`; relays follow from there
 *  7 read back: the DID document points at the new PDS, the account is live.
 *
 * Resumable: recover-state.ts records finished steps, and every step also
 * checks the servers (an existing account is logged into, an active one
 * skips to the end, a PLC already pointing here is not updated). Nothing
 * is ever deleted on the new PDS. The key file's content is never logged,
 * never sent: only signatures and its did:key leave this process.
 */
import { AtfedError } from '../../core/errors.ts'
import type { Did } from '../../core/syntax/did.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { cidForOp } from '../../did-resolver/plc/operation.ts'
import { backupSigner, verifyBackup, type VerifiedBackup } from './backup-verify.ts'
import { readRecoveryKeyFile, type LoadedKey } from './key-file.ts'
import type { ProgressSink } from './progress.ts'
import { activeChain, buildRecoveryOp, currentState, pointsAt, signingKeysOf, type RecoveryTarget } from './recover-plc.ts'
import { importRepo, openAccount, uploadMissingBlobs, type BlobUpload } from './recover-remote.ts'
import { RecoverState } from './recover-state.ts'
import { StepLog } from './step-log.ts'

export type RecoverOptions = {
  backup: string
  recoveryKey: string
  to: string
  handle?: string
  password: string
  email?: string
  inviteCode?: string
  plc: string
  log: (line: string) => void
  progress?: ProgressSink
}

export type RecoverReport = {
  did: string
  to: string
  handle: string
  signingKey: string
  rotationKeys: readonly string[]
  plcOperation: string | null
  nullified: string[]
  droppedRotationKeys: string[]
  records: number
  blobs: BlobUpload
  resumedSteps: string[]
}

type Prepared = { did: Did; key: LoadedKey; backup: VerifiedBackup; handle: string }

/** Step 1: everything that can be checked without the new PDS. */
async function prepare(opts: RecoverOptions, plc: PlcClient, steps: StepLog): Promise<Prepared> {
  const key = readRecoveryKeyFile(opts.recoveryKey)
  if (key.looseMode) steps.note(`warning: ${opts.recoveryKey} is readable by other users (chmod 600 it)`)
  const backup = verifyBackup(opts.backup)
  const did = backup.manifest.did
  const audit = await plc.getAuditLog(did)
  const chain = activeChain(did, audit)
  backupSigner(opts.backup, backup, signingKeysOf(chain))
  steps.note(`backup of ${did} at rev ${backup.manifest.rev}: ${backup.repo.records} records, ${backup.manifest.blobs.length} blobs, all verified`)
  const state = currentState(chain)
  const handle = opts.handle ?? state.alsoKnownAs.find((aka) => aka.startsWith('at://'))?.slice('at://'.length)
  if (handle === undefined) throw new AtfedError('InvalidArgument', `${did} has no handle to reuse; pass --handle`)
  // A dry run of the PLC rules: would the directory take an op signed by this key?
  const dryTarget: RecoveryTarget = { pds: new URL(opts.to).origin, signingKey: key.keypair.publicKey.didKey, pdsRotationKeys: [], handle }
  buildRecoveryOp(did, audit, { userKey: key.keypair, target: dryTarget, nowMs: Date.now() })
  return { did, key, backup, handle }
}

type Credentials = {
  rotationKeys?: string[]
  verificationMethods?: { atproto?: string }
  services?: { atproto_pds?: { endpoint?: string } }
}
type MovedIdentity = { cid: string; nullified: string[]; dropped: string[] } | null
type Remote = { pds: XrpcClient; plc: PlcClient; token: string; handle: string; to: string }
type Moved = { blobs: BlobUpload; identity: MovedIdentity }
type AccountStatus = { activated: boolean; validDid: boolean; indexedRecords: number }

async function accountStatus(ctx: Pick<Remote, 'pds' | 'token'>): Promise<AccountStatus> {
  return (await ctx.pds.query<AccountStatus>('com.atproto.server.checkAccountStatus', {}, { token: ctx.token })).body
}

/**
 * Where the identity must point, as the new PDS recommends: its public URL
 * (which may differ from the URL we reached it by), the account's new
 * signing key there, its rotation key.
 */
async function targetOf(ctx: Remote): Promise<RecoveryTarget> {
  const rec = (await ctx.pds.query<Credentials>('com.atproto.identity.getRecommendedDidCredentials', {}, { token: ctx.token })).body
  const signingKey = rec.verificationMethods?.atproto
  if (signingKey === undefined) throw new AtfedError('InvalidResponse', 'the new PDS recommended no #atproto key')
  const pds = rec.services?.atproto_pds?.endpoint ?? ctx.to
  return { pds, signingKey, pdsRotationKeys: rec.rotationKeys ?? [], handle: ctx.handle }
}

/** Step 5: the identity moves (see the module header); null when it already had. */
async function moveIdentity(prepared: Prepared, ctx: Remote, target: RecoveryTarget): Promise<MovedIdentity> {
  const { did, key } = prepared
  const userKey = key.keypair.publicKey.didKey
  const audit = await ctx.plc.getAuditLog(did)
  if (pointsAt(currentState(activeChain(did, audit)), target, userKey)) return null
  const built = buildRecoveryOp(did, audit, { userKey: key.keypair, target, nowMs: Date.now() })
  await ctx.plc.submitOp(did, built.op)
  if (!pointsAt(await ctx.plc.getDocumentData(did), target, userKey)) {
    throw new AtfedError('PlcUpdateNotApplied', 'the PLC directory does not show the update')
  }
  return { cid: cidForOp(built.op).toString(), nullified: built.nullified, dropped: built.droppedKeys }
}

/**
 * Steps 3–6 on a deactivated account (see the module header). The import is
 * skipped once the identity has moved (the new PDS would now check the CAR
 * against its own key, and the import necessarily came first) or when the
 * state file says it is done and the record count agrees.
 */
async function bringUp(prepared: Prepared, ctx: Remote & { opts: RecoverOptions; state: RecoverState; steps: StepLog }): Promise<Moved> {
  const { backup, did, key } = prepared
  const { pds, token, state, steps, opts } = ctx
  const target = await targetOf(ctx)
  const moved = pointsAt(await ctx.plc.getDocumentData(did), target, key.keypair.publicKey.didKey)
  const status = await accountStatus(ctx)
  if (moved) steps.skip('import the repo', 'the identity already moved here, so it was imported before')
  else if (state.has('imported') && status.indexedRecords === backup.repo.records) steps.skip('import the repo', 'done before')
  else await steps.run(`import the repo (${backup.repo.records} records)`, () => importRepo(pds, token, backup.repo.car))
  state.mark('imported')
  const progress = opts.progress === undefined ? {} : { progress: opts.progress }
  const blobs = await steps.run('upload the blobs the new PDS is missing', () =>
    uploadMissingBlobs(pds, token, { dir: opts.backup, manifest: backup.manifest, ...progress }),
  )
  if (blobs.missing.length > 0) steps.note(`${blobs.missing.length} blob(s) are in no backup: ${blobs.missing.slice(0, 5).join(', ')}`)
  state.mark('blobs')
  const identity = await steps.run('sign the PLC update with the recovery key and submit it', () => moveIdentity(prepared, ctx, target))
  if (identity === null) steps.note('the DID already pointed here')
  state.mark('plc', identity === null ? {} : { plcOp: identity.cid })
  await steps.run(`activate the account on ${ctx.to}`, () => pds.procedure('com.atproto.server.activateAccount', undefined, { token }))
  state.mark('activated')
  return { blobs, identity }
}

function openArgs(prepared: Prepared, opts: RecoverOptions) {
  return {
    did: prepared.did,
    handle: prepared.handle,
    password: opts.password,
    userKey: prepared.key.keypair,
    ...(opts.email === undefined ? {} : { email: opts.email }),
    ...(opts.inviteCode === undefined ? {} : { inviteCode: opts.inviteCode }),
  }
}

export async function recoverAccount(opts: RecoverOptions): Promise<RecoverReport> {
  const steps = new StepLog({ command: 'recover', total: 7, log: opts.log, errorName: 'RecoveryFailed' })
  const plc = new PlcClient(opts.plc)
  const to = new URL(opts.to).origin
  const prepared = await steps.run('verify the backup and the recovery key (nothing is sent yet)', () => prepare(opts, plc, steps))
  const { did, backup } = prepared
  const state = RecoverState.open(opts.backup, { did, to, backupCommit: backup.manifest.commit })
  const resumedSteps = state.doneSteps
  const pds = new XrpcClient({ service: to })
  const account = await steps.run(`create ${did} on ${to} (deactivated), or log in`, () => openAccount(pds, openArgs(prepared, opts)))
  if (!account.created) steps.note('the account was already there: logged in')
  state.mark('created')
  const remote: Remote = { pds, plc, token: account.accessJwt, handle: account.handle, to }
  let moved: Moved = { blobs: { uploaded: 0, missing: [] }, identity: null }
  if (!(await accountStatus(remote)).activated) moved = await bringUp(prepared, { ...remote, opts, state, steps })
  else for (const what of ['import the repo', 'upload the blobs', 'update the PLC identity', 'activate']) steps.skip(what, 'the account is already active there')
  const data = await steps.run('check the DID document and the account', async () => {
    const status = await accountStatus(remote)
    if (!status.activated || !status.validDid) {
      const problem = `active: ${status.activated}, DID document pointing there: ${status.validDid}`
      throw new AtfedError('RecoveryIncomplete', `the account on ${to} is not live (${problem})`)
    }
    return plc.getDocumentData(did)
  })
  return {
    did,
    to,
    handle: account.handle,
    signingKey: data.verificationMethods['atproto'] ?? '',
    rotationKeys: data.rotationKeys,
    plcOperation: moved.identity?.cid ?? state.plcOp,
    nullified: moved.identity?.nullified ?? [],
    droppedRotationKeys: moved.identity?.dropped ?? [],
    records: backup.repo.records,
    blobs: moved.blobs,
    resumedSteps,
  }
}
