/**
 * Stream events for tests: valid events of every type, built from a seed so
 * each one differs, plus helpers to make a frame's payload by hand.
 */
import { cidForCbor } from '../../core/data/cid.ts'
import type { CID } from '../../core/data/cid.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import { tidFromTimestampUs } from '../../core/syntax/tid.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import type { AccountEvent, CommitEvent, IdentityEvent, SyncEvent, UnsequencedEvent } from '../../core/stream/events.ts'

export const DID = 'did:plc:abcdefghijklmnopqrstuvwx' as Did
export const TIME = '2024-11-20T10:00:00.000Z' as Datetime

export function cidOf(n: number): CID {
  return cidForCbor(encodeCbor({ n }))
}

export function revOf(n: number): Tid {
  return tidFromTimestampUs(1_700_000_000_000_000 + n, 7)
}

/** A #commit with `payloadBytes` of blocks (default 100) and one create op. */
export function commitEvent(n: number, options: { blocksBytes?: number; seq?: number } = {}): CommitEvent {
  return {
    t: '#commit',
    seq: options.seq ?? n,
    repo: DID,
    commit: cidOf(n),
    rev: revOf(n),
    since: n > 1 ? revOf(n - 1) : null,
    blocks: new Uint8Array(options.blocksBytes ?? 100).fill(n & 0xff),
    ops: [{ action: 'create', path: `app.bsky.feed.post/${revOf(n)}`, cid: cidOf(n + 1_000_000), prev: null }],
    prevData: n > 1 ? cidOf(-n) : null,
    time: TIME,
  }
}

export function syncEvent(n: number): SyncEvent {
  return { t: '#sync', seq: n, did: DID, rev: revOf(n), blocks: new Uint8Array(64).fill(1), time: TIME }
}

export function identityEvent(n: number, handle: string | null = 'alice.test'): IdentityEvent {
  return { t: '#identity', seq: n, did: DID, time: TIME, handle: handle as Handle | null }
}

export function accountEvent(n: number, active = false): AccountEvent {
  return { t: '#account', seq: n, did: DID, time: TIME, active, status: active ? null : 'deactivated' }
}

/** An event for the log (seq is replaced when sequenced). */
export function unsequenced(n: number, blocksBytes = 100): UnsequencedEvent {
  const { seq: _seq, ...rest } = commitEvent(n, { blocksBytes })
  return rest
}
