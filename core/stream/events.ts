/**
 * The typed events of `com.atproto.sync.subscribeRepos` (sync 1.1) and their
 * wire encoding. Types are closed unions discriminated by `t` (the frame
 * header's type), which is never written into the payload.
 *
 * Absent optional values are `null` in the typed form (one op shape end to
 * end, see core/repo/operation.ts) and the encoder decides what the wire
 * shows, exactly as the spec requires:
 * - `#commit`: `since` always present (null for a first commit); `prevData`
 *   OMITTED when null; `rebase: false`, `tooBig: false`, `blobs: []` always
 *   written (deprecated, fixed values); each op has `cid` always (null for
 *   delete) and `prev` OMITTED on create.
 * - `#identity.handle`, `#account.status`, `#info.message`: omitted when null.
 * Payloads never carry `$type`. Canonical key order comes from the encoder.
 *
 * Validation of incoming payloads lives in event-parse.ts; `seq` stamping in
 * the event log (it encodes each event once, with the seq it allocated).
 */
import type { CID } from '../data/cid.ts'
import type { Datetime } from '../syntax/datetime.ts'
import type { Did } from '../syntax/did.ts'
import type { Handle } from '../syntax/handle.ts'
import type { Tid } from '../syntax/tid.ts'
import type { RepoOp } from '../repo/operation.ts'
import { encodeCbor } from '../data/cbor.ts'
import { encodeMessageFrameFromPayload } from './frames.ts'

export type { RepoOp }

/** `#account.status` values we know; `desynchronized` and `throttled` may come with `active: true`. */
export const ACCOUNT_STATUSES = ['takendown', 'suspended', 'deleted', 'deactivated', 'desynchronized', 'throttled'] as const
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number]

export type CommitEvent = {
  t: '#commit'
  seq: number
  repo: Did
  /** The commit CID; equals the CAR root in `blocks`. */
  commit: CID
  rev: Tid
  /** Rev of the previous commit; null for an account's first commit. */
  since: Tid | null
  /** A CAR: the commit, new MST nodes, new records, covering proofs. */
  blocks: Uint8Array
  ops: RepoOp[]
  /** `data` of the previous commit; null (omitted on the wire) for a first commit. */
  prevData: CID | null
  time: Datetime
}

export type SyncEvent = {
  t: '#sync'
  seq: number
  did: Did
  rev: Tid
  /** A CAR holding only the commit block (root = commit). */
  blocks: Uint8Array
  time: Datetime
}

export type IdentityEvent = {
  t: '#identity'
  seq: number
  did: Did
  time: Datetime
  handle: Handle | null
}

export type AccountEvent = {
  t: '#account'
  seq: number
  did: Did
  time: Datetime
  active: boolean
  status: AccountStatus | null
}

/** `#info` has no seq and is never stored: it is said to one subscriber. */
export type InfoMessage = { t: '#info'; name: string; message: string | null }

/** The events a stream sequences and stores. */
export type StreamEvent = CommitEvent | SyncEvent | IdentityEvent | AccountEvent
export type StreamMessage = StreamEvent | InfoMessage
export type StreamEventType = StreamEvent['t']

/** An event before the log gives it a seq (the relay passes parsed upstream events; their seq is replaced). */
type Unsequenced<E> = E extends StreamEvent ? Omit<E, 'seq'> & { seq?: number } : never
export type UnsequencedEvent = Unsequenced<StreamEvent>

function wireOp(op: RepoOp): Record<string, unknown> {
  // `prev` is omitted (not null) when there is none: create ops.
  return op.prev === null
    ? { action: op.action, path: op.path, cid: op.cid }
    : { action: op.action, path: op.path, cid: op.cid, prev: op.prev }
}

/** The payload map exactly as it goes on the wire (no `t`, no `$type`). */
export function eventPayload(event: StreamMessage): Record<string, unknown> {
  switch (event.t) {
    case '#commit': {
      const out: Record<string, unknown> = {
        seq: event.seq,
        rebase: false,
        tooBig: false,
        repo: event.repo,
        commit: event.commit,
        rev: event.rev,
        since: event.since,
        blocks: event.blocks,
        ops: event.ops.map(wireOp),
        blobs: [],
        time: event.time,
      }
      if (event.prevData !== null) out.prevData = event.prevData
      return out
    }
    case '#sync':
      return { seq: event.seq, did: event.did, rev: event.rev, blocks: event.blocks, time: event.time }
    case '#identity':
      return event.handle === null
        ? { seq: event.seq, did: event.did, time: event.time }
        : { seq: event.seq, did: event.did, time: event.time, handle: event.handle }
    case '#account':
      return event.status === null
        ? { seq: event.seq, did: event.did, time: event.time, active: event.active }
        : { seq: event.seq, did: event.did, time: event.time, active: event.active, status: event.status }
    case '#info':
      return event.message === null ? { name: event.name } : { name: event.name, message: event.message }
  }
}

/** The complete frame (header + payload) for an event. Throws `FrameTooLarge`. */
export function encodeEventFrame(event: StreamMessage): Uint8Array {
  return encodeMessageFrameFromPayload(event.t, encodeCbor(eventPayload(event)))
}

/** The same event with `seq` set (the log's and the relay's one re-encode). */
export function withSeq(event: UnsequencedEvent, seq: number): StreamEvent {
  return { ...event, seq } as StreamEvent
}
