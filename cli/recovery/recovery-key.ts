/**
 * `atfed account recovery-key add`: put a key the USER holds first in the
 * DID's PLC `rotationKeys`, through the PDS's own PLC-operation flow.
 *
 *  1 log in (createSession; a main password: signPlcOperation refuses app passwords)
 *  2 read the DID's current PLC state from the directory
 *  3 the key: --import-key, else the one already in --key-file (re-run after
 *    a failure: the file is reused, never overwritten), else a new k256 key,
 *    written to the key file (0600, exclusive, fsynced) BEFORE any PLC change
 *  4 requestPlcOperationSignature → the token (--plc-token, the PDS's --dev
 *    admin route, or stdin; account-migrate.ts `plcToken`)
 *  5 signPlcOperation({token, rotationKeys: [userKey, ...the others]}): the
 *    PDS copies every other field from the current op and signs with its
 *    rotation key (still in the list, so the PDS keeps working as before)
 *    submitPlcOperation through the same PDS, then read PLC back to check.
 * Already first → steps 4–5 are skipped. The private key never leaves this
 * process: only its did:key is sent.
 *
 * Why first: PLC's 72 h recovery rule lets a higher-priority rotation key
 * override ops signed by a lower one, so a PDS that turns hostile cannot
 * lock the user out (spec digest §4.2).
 */
import { existsSync } from 'node:fs'
import { AtfedError } from '../../core/errors.ts'
import { generateKeypair, importPrivateMultikey, type Keypair } from '../../core/crypto/keypair.ts'
import { PLC_ROTATION_KEYS_BUILD_MAX } from '../../core/limits.ts'
import { isPlcDid, type Did } from '../../core/syntax/did.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { plcToken } from '../account-migrate.ts'
import { defaultKeyFilePath, readRecoveryKeyFile, RECOVERY_KEY_WARNING, writeRecoveryKeyFile } from './key-file.ts'
import { StepLog } from './step-log.ts'

export type AddRecoveryKeyOptions = {
  pds: string
  handle: string
  password: string
  plc: string
  keyFile?: string
  importKey?: string
  plcToken?: string
  adminPassword?: string
  readToken: () => Promise<string>
  log: (line: string) => void
}

export type AddRecoveryKeyReport = {
  did: string
  recoveryKey: string
  keyFile: string
  keyFileCreated: boolean
  alreadyFirst: boolean
  rotationKeys: readonly string[]
}

type Session = { did: Did; handle: string; accessJwt: string }

/** Step 3: the key and where it lives (see the module header). */
function obtainKey(opts: AddRecoveryKeyOptions, did: Did, log: (line: string) => void): { keypair: Keypair; path: string; created: boolean } {
  const path = opts.keyFile ?? defaultKeyFilePath(did)
  const imported = opts.importKey === undefined ? null : importPrivateMultikey(opts.importKey.trim())
  if (existsSync(path)) {
    const existing = readRecoveryKeyFile(path).keypair
    if (imported !== null && imported.publicKey.didKey !== existing.publicKey.didKey) {
      throw new AtfedError('KeyFileExists', `${path} already holds another key; refusing to overwrite it`)
    }
    log(`using the key already in ${path} (not overwritten)`)
    return { keypair: existing, path, created: false }
  }
  const keypair = imported ?? generateKeypair('k256')
  writeRecoveryKeyFile(path, keypair, { did })
  log(`wrote the private key to ${path} (mode 0600)`)
  return { keypair, path, created: true }
}

export function withUserKeyFirst(userKey: string, current: readonly string[]): string[] {
  const keys = [userKey, ...current.filter((key) => key !== userKey)]
  if (keys.length > PLC_ROTATION_KEYS_BUILD_MAX) {
    throw new AtfedError('TooManyRotationKeys', `the DID would have ${keys.length} rotation keys (at most ${PLC_ROTATION_KEYS_BUILD_MAX}); remove one first`)
  }
  return keys
}

export async function addRecoveryKey(opts: AddRecoveryKeyOptions): Promise<AddRecoveryKeyReport> {
  const steps = new StepLog({ command: 'recovery-key', total: 5, log: opts.log, errorName: 'RecoveryKeyFailed' })
  const pds = new XrpcClient({ service: opts.pds })
  const plc = new PlcClient(opts.plc)
  const session = await steps.run(`log in to ${opts.pds} as ${opts.handle}`, async () => {
    return (await pds.procedure<Session>('com.atproto.server.createSession', { identifier: opts.handle, password: opts.password })).body
  })
  const did = session.did
  if (!isPlcDid(did)) throw new AtfedError('NotPlcDid', `${did} is not a did:plc: only did:plc has rotation keys`)
  const current = await steps.run(`read the PLC state of ${did}`, () => plc.getDocumentData(did))
  const key = await steps.run('the recovery key', async () => obtainKey(opts, did, (line) => steps.note(line)))
  opts.log(RECOVERY_KEY_WARNING)
  const userKey = key.keypair.publicKey.didKey
  const report = { did, recoveryKey: userKey, keyFile: key.path, keyFileCreated: key.created }
  if (current.rotationKeys[0] === userKey) {
    steps.note('the key is already first in rotationKeys: nothing to change')
    return { ...report, alreadyFirst: true, rotationKeys: current.rotationKeys }
  }
  const rotationKeys = withUserKeyFirst(userKey, current.rotationKeys)
  const auth = { token: session.accessJwt }
  const token = await steps.run('get a PLC operation token', async () => {
    await pds.procedure('com.atproto.identity.requestPlcOperationSignature', undefined, auth)
    return plcToken({ plcToken: opts.plcToken, fromAdminPassword: opts.adminPassword, readToken: opts.readToken }, pds, did)
  })
  const after = await steps.run('have the PDS sign and submit the update, then check it', async () => {
    const signed = await pds.procedure<{ operation: unknown }>('com.atproto.identity.signPlcOperation', { token, rotationKeys }, auth)
    await pds.procedure('com.atproto.identity.submitPlcOperation', { operation: signed.body.operation }, auth)
    return plc.getDocumentData(did)
  })
  if (after.rotationKeys[0] !== userKey) {
    throw new AtfedError('PlcUpdateNotApplied', `the PLC directory still lists ${after.rotationKeys[0] ?? 'nothing'} first`)
  }
  return { ...report, alreadyFirst: false, rotationKeys: after.rotationKeys }
}
