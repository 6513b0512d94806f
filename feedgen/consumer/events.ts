/**
 * What a FirehoseConsumer hands its handler: one event per upstream
 * `subscribeRepos` event, already checked (and, with `verify`, verified), in
 * the shape a downstream service wants — a commit's ops carry their at-uri
 * and the decoded record instead of CAR bytes.
 *
 * A `ConsumerOp` is `{ action, uri, cid, record }`: create/update carry the
 * record as a lex value (core/data/lex-value.ts: links are CIDs, bytes are
 * Uint8Array), delete carries `cid: null, record: null`. The record is NOT
 * validated against its lexicon here; that is the handler's job (the
 * indexer parses the fields it uses and skips malformed records).
 *
 * The handler contract (see consumer.ts): events of one repo arrive strictly
 * in order, one at a time; events of different repos may overlap. Delivery
 * is at least once: after a crash, events since the last persisted cursor
 * come again, so handlers must be idempotent.
 */
import type { CID } from '../../core/data/cid.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import type { AccountStatus } from '../../core/stream/events.ts'
import type { AtUriString } from '../../core/syntax/at-uri.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import type { Nsid } from '../../core/syntax/nsid.ts'
import type { RecordKey } from '../../core/syntax/record-key.ts'
import type { Tid } from '../../core/syntax/tid.ts'

export type ConsumerOp =
  | {
      readonly action: 'create' | 'update'
      readonly uri: AtUriString
      readonly collection: Nsid
      readonly rkey: RecordKey
      readonly cid: CID
      readonly record: LexMap
    }
  | {
      readonly action: 'delete'
      readonly uri: AtUriString
      readonly collection: Nsid
      readonly rkey: RecordKey
      readonly cid: null
      readonly record: null
    }

export type ConsumerCommit = {
  readonly type: 'commit'
  readonly seq: number
  readonly did: Did
  readonly rev: Tid
  readonly time: Datetime
  /** The ops of the wanted collections whose record could be read, in firehose order. */
  readonly ops: readonly ConsumerOp[]
  /** True when the commit's signature and ops were verified (the consumer's `verify` option). */
  readonly verified: boolean
}

export type ConsumerIdentity = {
  readonly type: 'identity'
  readonly seq: number
  readonly did: Did
  readonly time: Datetime
  readonly handle: Handle | null
}

export type ConsumerAccount = {
  readonly type: 'account'
  readonly seq: number
  readonly did: Did
  readonly time: Datetime
  readonly active: boolean
  readonly status: AccountStatus | null
}

/** `#sync`: the repo's current commit (verified when `verify` is on); a consumer that keeps repo state would resync. */
export type ConsumerSync = {
  readonly type: 'sync'
  readonly seq: number
  readonly did: Did
  readonly rev: Tid
  readonly time: Datetime
}

export type ConsumerEvent = ConsumerCommit | ConsumerIdentity | ConsumerAccount | ConsumerSync

export type HandlerContext = {
  /**
   * The cursor that is safe to store in the SAME atomic write as this event's
   * effects: the highest seq such that every event up to it is handled once
   * this one is. Call it right before writing (it changes as other repos'
   * events finish). Null when nothing is safe yet (the stream started live
   * and an earlier event is still being handled): then store no cursor.
   */
  cursorIfDone(): number | null
}

/**
 * Handle one event. Resolve when its effects are durable; return
 * `{ cursorPersisted }` when the write also stored `ctx.cursorIfDone()`
 * (then the consumer does not write that cursor again). Throwing means
 * "not handled": the event is retried, never skipped (see consumer.ts).
 */
export type ConsumerHandler = (
  event: ConsumerEvent,
  ctx: HandlerContext,
) => Promise<void | { cursorPersisted: number }> | void | { cursorPersisted: number }

/** Where a consumer keeps its cursor (the seq of the last event it handled, with all before it). */
export interface CursorStore {
  get(): Promise<number | null>
  set(seq: number): Promise<void>
}
