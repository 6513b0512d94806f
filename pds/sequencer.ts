/**
 * The PDS's firehose events: how each is built from what the PDS stores.
 * They are written with the state change they announce by the write path
 * (writes.ts: `storeCommit`, `storeWithEvents`, the group commit), so
 * subscribers never see an event whose change is not durable and a crash
 * never leaves a change without its event (event-journal.ts).
 *
 * What is emitted when (spec digest repo-sync-firehose §7.6):
 * - new account: `#identity`, `#account{active}`, `#commit` (first commit),
 *   `#sync` — one batch with the account rows and the repo;
 * - each repo write: one `#commit` (writes.ts);
 * - handle change: `#identity{handle}`;
 * - status change: `#account` (activation also `#identity` and `#sync`).
 */
import type { CID } from '../core/data/cid.ts'
import { MemoryBlockMap } from '../core/repo/block-reader.ts'
import { encodeCarBytes } from '../core/repo/car/writer.ts'
import type { CommitResult } from '../core/repo/writes.ts'
import { commitEventFor } from '../core/stream/commit-event.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import { datetimeFromDate, type Datetime } from '../core/syntax/datetime.ts'
import type { Did } from '../core/syntax/did.ts'
import type { Handle } from '../core/syntax/handle.ts'
import type { Tid } from '../core/syntax/tid.ts'
import { accountStatusView, type Account } from './accounts/account.ts'

export function nowDatetime(): Datetime {
  return datetimeFromDate(new Date())
}

export function identityEvent(did: Did, handle: Handle | null): UnsequencedEvent {
  return { t: '#identity', did, handle, time: nowDatetime() }
}

export function accountEvent(account: Pick<Account, 'did' | 'status'>): UnsequencedEvent {
  const view = accountStatusView(account)
  return { t: '#account', did: account.did, active: view.active, status: view.status, time: nowDatetime() }
}

/** The `#commit` for a commit built by core/repo/writes.ts (every sync-1.1 field). */
export function commitEvent(did: Did, result: CommitResult): UnsequencedEvent {
  return commitEventFor(did, result, nowDatetime())
}

/** `#sync`: a CAR holding only the signed commit block. */
export function syncEvent(did: Did, commit: { commitCid: CID; commitBytes: Uint8Array; rev: Tid }): UnsequencedEvent {
  const blocks = encodeCarBytes(commit.commitCid, new MemoryBlockMap().set(commit.commitCid, commit.commitBytes))
  return { t: '#sync', did, rev: commit.rev, blocks, time: nowDatetime() }
}
