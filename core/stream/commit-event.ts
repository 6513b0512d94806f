/**
 * The `#commit` event for a commit built by core/repo/writes.ts: every
 * sync-1.1 field comes straight from the `CommitResult` (CAR with proofs,
 * ops with prev, since, prevData); the seq is the event log's to stamp.
 */
import type { CommitResult } from '../repo/writes.ts'
import type { Datetime } from '../syntax/datetime.ts'
import type { Did } from '../syntax/did.ts'
import type { CommitEvent } from './events.ts'

export type UnsequencedCommitEvent = Omit<CommitEvent, 'seq'>

export function commitEventFor(did: Did, result: CommitResult, time: Datetime): UnsequencedCommitEvent {
  return {
    t: '#commit',
    repo: did,
    commit: result.commitCid,
    rev: result.rev,
    since: result.since,
    blocks: result.eventCarBytes,
    ops: result.ops,
    prevData: result.prevData,
    time,
  }
}
