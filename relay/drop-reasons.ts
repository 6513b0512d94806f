/**
 * Why the relay dropped an upstream frame or event. Counted per host (and
 * shown by getHostStatus / the admin host list); the names are API.
 *
 * Frame level (the connection is dropped and re-dialled from the cursor):
 *   InvalidFrame      bad framing or CBOR, or a text frame
 *   FrameTooLarge     over FRAME_BYTES_MAX
 * Event level (the event is skipped, the host cursor moves past it):
 *   DuplicateSeq      seq not after the last one on the stream (dropped by the stream client)
 *   InvalidEvent      a field fails the event schema (core/stream/event-parse.ts)
 *   IdentityUnresolved  the DID does not resolve (we never skip the signature check)
 *   WrongHost         the DID document's #atproto_pds is another host (after one forced re-resolve)
 *   HostAccountLimit  a new account on a host already at its accountsMax
 *   AccountInactive   #commit/#sync for a deactivated/taken-down/... account
 *   AccountDesynchronized  the account awaits a resync and its buffer is full (or the resync failed)
 *   RevReplay         rev not after the stored rev (replays, rollbacks)
 *   FutureRev         rev more than FUTURE_REV_TOLERANCE_MS ahead of our clock
 *   BadCommitSignature  not signed by the DID's current key (after one refresh)
 *   MissingPrevData   a later commit without prevData
 *   InversionMismatch undoing the ops does not give prevData
 *   InvalidCommit     any other structural failure (CAR, commit block, op shapes, did/rev mismatch)
 *   ChainBroken       valid alone, but since/prevData do not chain to our stored state → resync
 */
import { isAtfedError } from '../core/errors.ts'

export const DROP_REASONS = [
  'InvalidFrame',
  'FrameTooLarge',
  'DuplicateSeq',
  'InvalidEvent',
  'IdentityUnresolved',
  'WrongHost',
  'HostAccountLimit',
  'AccountInactive',
  'AccountDesynchronized',
  'RevReplay',
  'FutureRev',
  'BadCommitSignature',
  'MissingPrevData',
  'InversionMismatch',
  'InvalidCommit',
  'ChainBroken',
] as const

export type DropReason = (typeof DROP_REASONS)[number]

export type DropCounts = { [R in DropReason]?: number }

/** The drop reason for an error thrown by commit/sync verification. */
export function dropReasonForVerifyError(err: unknown): DropReason {
  if (isAtfedError(err, 'BadCommitSignature')) return 'BadCommitSignature'
  if (isAtfedError(err, 'FutureRev')) return 'FutureRev'
  if (isAtfedError(err, 'MissingPrevData')) return 'MissingPrevData'
  if (isAtfedError(err, 'InversionMismatch')) return 'InversionMismatch'
  // Everything else, typed or not: a hostile host must not be able to stop
  // the pipeline by finding an input a library throws a plain Error on.
  return 'InvalidCommit'
}

/** The drop reason for an error that ended an upstream connection, or null when it is not about a frame. */
export function dropReasonForConnectionError(err: unknown): DropReason | null {
  if (isAtfedError(err, 'InvalidFrame')) return 'InvalidFrame'
  if (isAtfedError(err, 'FrameTooLarge')) return 'FrameTooLarge'
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 'FrameTooLarge'
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) return 'InvalidFrame'
  return null
}
