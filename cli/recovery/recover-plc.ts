/**
 * The PLC side of a recovery: what the DID's history says, and the ONE
 * operation, signed by the user's rotation key, that moves the identity to
 * the new PDS.
 *
 * The audit log is read from the directory and REPLAYED locally
 * (validate.ts `validateAuditLog`: signatures, prev links, nullification),
 * so a lying directory cannot hand us a forged history.
 *
 * `signingKeysOf`: the `#atproto` keys of the active chain, newest first —
 * the keys a backup's commit may be signed by (the one current when it was
 * taken; after a resumed recovery the current key is already the new PDS's).
 *
 * `buildRecoveryOp`: `rotationKeys` = [user key, ...the new PDS's recommended
 * keys]; every other rotation key is DROPPED (the old PDS's, which may be
 * hostile; they are reported), the `#atproto` key = the new PDS's, the
 * `atproto_pds` endpoint = the new PDS, the handle replaced; other services
 * and verification methods (a labeler's) are kept. `prev` is the newest
 * active op whose rotation keys include the user key and for which the
 * directory's own rules (`validateNextOp`, at now) accept the op: normally
 * the last op; if the old PDS has since removed the user key, an earlier op
 * — a fork that nullifies the later ones, allowed within 72 h because the
 * user key has higher priority (spec digest §4.2). None → `RecoveryKeyNotAuthorized`.
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import { plcStateOf, type PlcOperation, type PlcState } from '../../did-resolver/plc/operation.ts'
import { validateAuditLog, validateNextOp, type LogEntry } from '../../did-resolver/plc/validate.ts'

/** The active chain of a replayed audit log, newest last. */
export function activeChain(did: Did, audit: readonly LogEntry[]): LogEntry[] {
  return validateAuditLog(did, audit).filter((entry) => !entry.nullified)
}

/** The DID's current state; `DidTombstoned` when it has none. */
export function currentState(chain: readonly LogEntry[]): PlcState {
  const last = chain[chain.length - 1]?.operation
  if (last === undefined) throw new AtfedError('DidNotFound', 'the DID has no operations')
  if (last.type === 'plc_tombstone') throw new AtfedError('DidTombstoned', 'the DID is tombstoned')
  return plcStateOf(last)
}

export function signingKeysOf(chain: readonly LogEntry[]): string[] {
  const keys: string[] = []
  for (let i = chain.length - 1; i >= 0; i--) {
    const op = chain[i]!.operation
    if (op.type === 'plc_tombstone') continue
    const key = plcStateOf(op).verificationMethods['atproto']
    if (key !== undefined && !keys.includes(key)) keys.push(key)
  }
  return keys
}

export type RecoveryTarget = {
  /** The new PDS's public URL. */
  pds: string
  /** The account's new signing key (did:key) on the new PDS. */
  signingKey: string
  /** The new PDS's PLC rotation key(s), from getRecommendedDidCredentials. */
  pdsRotationKeys: readonly string[]
  handle: string
}

/** True when the DID already points at `target` with the user key first (the op went through before). */
export function pointsAt(state: PlcState, target: RecoveryTarget, userKey: string): boolean {
  return (
    state.services['atproto_pds']?.endpoint === target.pds &&
    state.verificationMethods['atproto'] === target.signingKey &&
    state.rotationKeys[0] === userKey
  )
}

export type RecoveryOp = { op: PlcOperation; prev: string; nullified: string[]; droppedKeys: string[] }

export function buildRecoveryOp(
  did: Did,
  audit: readonly LogEntry[],
  options: { userKey: Keypair; target: RecoveryTarget; nowMs: number },
): RecoveryOp {
  const { userKey, target, nowMs } = options
  const user = userKey.publicKey.didKey
  const rotationKeys = [user, ...target.pdsRotationKeys.filter((key) => key !== user)]
  const replayed = validateAuditLog(did, audit)
  const chain = replayed.filter((entry) => !entry.nullified)
  const current = currentState(chain)
  let refusal: unknown = null
  for (let at = chain.length - 1; at >= 0; at--) {
    const base = chain[at]!.operation
    if (base.type === 'plc_tombstone' || !plcStateOf(base).rotationKeys.includes(user)) continue
    const built = createUpdateOp(base, { signer: userKey, signingKey: target.signingKey, pds: target.pds, handle: target.handle, rotationKeys })
    try {
      const checked = validateNextOp(did, replayed, built.op, { nowMs })
      const droppedKeys = current.rotationKeys.filter((key) => !rotationKeys.includes(key))
      return { op: built.op, prev: chain[at]!.cid, nullified: checked.nullified, droppedKeys }
    } catch (err) {
      if (!isAtfedError(err)) throw err
      refusal = err
    }
  }
  const why = refusal === null ? 'it is in none of the rotation-key lists of the active history' : `${(refusal as Error).name}: ${(refusal as Error).message}`
  throw new AtfedError('RecoveryKeyNotAuthorized', `the recovery key ${user} cannot sign for ${did}: ${why}`)
}
