/**
 * The CPU-heavy, state-free part of checking an upstream `#commit` / `#sync`:
 * the spec §7.9 pipeline in core/repo/verify-commit-event.ts (CAR parse and
 * re-hash, commit decode, DID/rev match, signature, future rev, op shapes,
 * proofs, MST inversion to prevData). Nothing here reads or writes account
 * state, so events of different DIDs may be verified in any order or in
 * parallel; the ingest applies the outcomes in upstream order.
 *
 * `inlineVerifier` runs on the calling thread; verify-pool.ts runs the same
 * function in worker threads behind the same interface. Both reject with the
 * verification error (its name says which check failed).
 */
import type { CID } from '../core/data/cid.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import { verifyCommitEvent, verifySyncEvent } from '../core/repo/verify-commit-event.ts'
import type { CommitEvent, SyncEvent } from '../core/stream/events.ts'

export type VerifiedSummary = { readonly commit: CID; readonly data: CID }

export interface EventVerifier {
  commit(event: CommitEvent, key: PublicKey): Promise<VerifiedSummary>
  sync(event: SyncEvent, key: PublicKey): Promise<VerifiedSummary>
  close(): Promise<void>
}

export function verifyCommitSummary(event: CommitEvent, key: PublicKey | string, nowMs: number): VerifiedSummary {
  const verified = verifyCommitEvent(event, { key, now: nowMs })
  return { commit: verified.commitCid, data: verified.commit.data }
}

export function verifySyncSummary(event: SyncEvent, key: PublicKey | string, nowMs: number): VerifiedSummary {
  const verified = verifySyncEvent(event, { key, now: nowMs })
  return { commit: verified.commitCid, data: verified.commit.data }
}

export function inlineVerifier(options: { now?: () => number } = {}): EventVerifier {
  const now = options.now ?? Date.now
  return {
    commit: async (event, key) => verifyCommitSummary(event, key, now()),
    sync: async (event, key) => verifySyncSummary(event, key, now()),
    close: async () => {},
  }
}
