/**
 * The directory's rules for appending an op to a DID's log, as pure
 * functions over the log (the store and the clock are the caller's).
 *
 * `validateNextOp(did, log, proposed, {nowMs})`, with `log` the DID's full
 * audit log (nullified entries included) in acceptance order:
 * - an op whose CID is already in the log is a replay: DuplicateOperation;
 * - empty log → genesis: not a tombstone (MisorderedOperation), signed by one
 *   of its own rotation keys (InvalidSignature), hashing to `did`
 *   (GenesisHashMismatch), with `prev: null` (ImproperOperation);
 * - otherwise `prev` must name an op of the active (non-nullified) chain
 *   that is not a tombstone (MisorderedOperation), and the op must be signed
 *   by a rotation key of that op (InvalidSignature);
 * - when `prev` is not the head, the ops after it are nullified. Then the
 *   signer must sit strictly before (higher priority than) the key that
 *   signed the first disputed op in `prev`'s rotationKeys
 *   (InvalidSignature), and no more than PLC_RECOVERY_WINDOW_MS may have
 *   passed since that op was accepted (LateRecovery; exactly 72 h is still
 *   in time);
 * - rate limits (directory only): a non-recovery op is refused when the
 *   DID's active ops already number PLC_OPS_PER_{HOUR,DAY,WEEK}_MAX within
 *   the window (RateLimitExceeded). Recovery ops are never rate limited, so
 *   an attacker cannot use up the budget a recovery needs.
 *
 * `validateAuditLog` replays a whole `/log/audit` (clock = each entry's
 * createdAt, no rate limits) and checks the CIDs and `nullified` flags the
 * directory reported: how a client audits a directory it does not trust.
 */
import { AtfedError } from '../../core/errors.ts'
import {
  PLC_OPS_PER_DAY_MAX,
  PLC_OPS_PER_HOUR_MAX,
  PLC_OPS_PER_WEEK_MAX,
  PLC_RECOVERY_WINDOW_MS,
} from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { verifyOpSignature } from './op-builder.ts'
import { cidForOp, didForGenesis, plcStateOf, type PlcOp } from './operation.ts'

export type LogEntry = {
  readonly did: Did
  readonly operation: PlcOp
  readonly cid: string
  readonly nullified: boolean
  /** Milliseconds since the epoch at which the directory accepted the op. */
  readonly createdAt: number
}

export type NextOpOptions = {
  /** The acceptance time of the proposed op (ms). */
  nowMs: number
  enforceRateLimit?: boolean
}

export type NextOpResult = {
  cid: string
  prev: string | null
  /** CIDs of the active ops this op nullifies (empty unless it forks). */
  nullified: string[]
  /** The rotation key (did:key) that signed it. */
  signer: string
}

export type PlcRuleError =
  | 'DuplicateOperation'
  | 'MisorderedOperation'
  | 'InvalidSignature'
  | 'GenesisHashMismatch'
  | 'ImproperOperation'
  | 'LateRecovery'
  | 'RateLimitExceeded'
  | 'InvalidAuditLog'

function fail(name: PlcRuleError, message: string): AtfedError<PlcRuleError> {
  return new AtfedError(name, message)
}

const HOUR_MS = 60 * 60 * 1000
const RATE_WINDOWS = [
  { label: 'hour', ms: HOUR_MS, max: PLC_OPS_PER_HOUR_MAX },
  { label: 'day', ms: 24 * HOUR_MS, max: PLC_OPS_PER_DAY_MAX },
  { label: 'week', ms: 7 * 24 * HOUR_MS, max: PLC_OPS_PER_WEEK_MAX },
] as const

function checkRateLimit(active: readonly LogEntry[], nowMs: number): void {
  for (const window of RATE_WINDOWS) {
    const since = nowMs - window.ms
    const recent = active.filter((e) => e.createdAt > since).length
    if (recent >= window.max) {
      throw fail('RateLimitExceeded', `too many operations for this DID within the last ${window.label} (max ${window.max})`)
    }
  }
}

function validateGenesis(did: Did, proposed: PlcOp, cid: string): NextOpResult {
  if (proposed.type === 'plc_tombstone') throw fail('MisorderedOperation', 'a DID cannot start with a tombstone')
  const signer = verifyOpSignature(proposed, plcStateOf(proposed).rotationKeys)
  if (signer === null) throw fail('InvalidSignature', 'a genesis op must be signed by one of its own rotation keys')
  const expected = didForGenesis(proposed)
  if (expected !== did) throw fail('GenesisHashMismatch', `the genesis op hashes to ${expected}, not ${did}`)
  if (proposed.prev !== null) throw fail('ImproperOperation', 'a genesis op must have prev: null')
  return { cid, prev: null, nullified: [], signer }
}

/** Check that `proposed` may follow `log`; see the module header for the rules. */
export function validateNextOp(did: Did, log: readonly LogEntry[], proposed: PlcOp, options: NextOpOptions): NextOpResult {
  const cid = cidForOp(proposed).toString()
  if (log.some((e) => e.cid === cid)) throw fail('DuplicateOperation', `operation ${cid} is already in the log`)
  const active = log.filter((e) => !e.nullified)
  if (active.length === 0) return validateGenesis(did, proposed, cid)
  const prev = proposed.prev
  if (prev === null) throw fail('MisorderedOperation', 'the DID exists: prev must name one of its operations')
  const at = active.findIndex((e) => e.cid === prev)
  if (at < 0) {
    const why = log.some((e) => e.cid === prev) ? 'names a nullified operation' : 'is not an operation of this DID'
    throw fail('MisorderedOperation', `prev ${why}`)
  }
  const base = active[at]!.operation
  if (base.type === 'plc_tombstone') throw fail('MisorderedOperation', 'the DID is tombstoned')
  const keys = plcStateOf(base).rotationKeys
  const disputed = active.slice(at + 1)
  const first = disputed[0]
  if (first === undefined) {
    const signer = verifyOpSignature(proposed, keys)
    if (signer === null) throw fail('InvalidSignature', 'not signed by a rotation key of the previous operation')
    if (options.enforceRateLimit === true) checkRateLimit(active, options.nowMs)
    return { cid, prev, nullified: [], signer }
  }
  const disputedSigner = verifyOpSignature(first.operation, keys)
  if (disputedSigner === null) throw fail('InvalidSignature', `the operation being nullified (${first.cid}) does not verify`)
  const stronger = keys.slice(0, keys.indexOf(disputedSigner))
  const signer = verifyOpSignature(proposed, stronger)
  if (signer === null) {
    throw fail('InvalidSignature', 'a fork must be signed by a rotation key of higher priority than the one it overrides')
  }
  const lapsedMs = options.nowMs - first.createdAt
  if (lapsedMs > PLC_RECOVERY_WINDOW_MS) {
    throw fail('LateRecovery', `the recovery window (72 h) closed ${lapsedMs - PLC_RECOVERY_WINDOW_MS} ms ago`)
  }
  return { cid, prev, nullified: disputed.map((e) => e.cid), signer }
}

/**
 * Replay an audit log and check it is exactly what the rules produce.
 * Returns the log as recomputed. Throws the rule's error name for a bad op,
 * or InvalidAuditLog when CIDs, order or `nullified` flags disagree.
 */
export function validateAuditLog(did: Did, entries: readonly LogEntry[]): LogEntry[] {
  let replay: LogEntry[] = []
  let lastAt = -Infinity
  for (const entry of entries) {
    if (entry.did !== did) throw fail('InvalidAuditLog', `entry for ${entry.did} in the log of ${did}`)
    if (entry.createdAt < lastAt) throw fail('InvalidAuditLog', 'entries are not in createdAt order')
    lastAt = entry.createdAt
    const result = validateNextOp(did, replay, entry.operation, { nowMs: entry.createdAt })
    if (result.cid !== entry.cid) throw fail('InvalidAuditLog', `entry cid ${entry.cid} is not the op's CID ${result.cid}`)
    const nullified = new Set(result.nullified)
    replay = replay.map((e) => (nullified.has(e.cid) ? { ...e, nullified: true } : e))
    replay.push({ ...entry, nullified: false })
  }
  replay.forEach((e, i) => {
    if (e.nullified !== entries[i]!.nullified) {
      throw fail('InvalidAuditLog', `entry ${i} (${e.cid}) should have nullified: ${e.nullified}`)
    }
  })
  return replay
}
