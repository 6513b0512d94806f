/**
 * What crosses the thread boundary between the relay and its verification
 * workers (verify-pool.ts ↔ verify-worker-main.ts). Structured clone keeps
 * bytes and plain objects but not CID class instances, so CIDs travel as
 * their binary form and are rebuilt (decodeCidBytes) on the other side.
 * Errors travel as `{name, message}` and are rebuilt as AtfedErrors, so the
 * drop reason is the same as with inline verification.
 */
import { AtfedError } from '../core/errors.ts'
import { decodeCidBytes } from '../core/data/cid.ts'
import type { CID } from '../core/data/cid.ts'
import type { CommitEvent, RepoOp, SyncEvent } from '../core/stream/events.ts'
import type { Datetime } from '../core/syntax/datetime.ts'
import type { Did } from '../core/syntax/did.ts'
import type { Tid } from '../core/syntax/tid.ts'
import type { VerifiedSummary } from './verifier.ts'

type WireOp = { action: RepoOp['action']; path: string; cid: Uint8Array | null; prev: Uint8Array | null }

export type WireCommit = {
  repo: string
  commit: Uint8Array
  rev: string
  since: string | null
  blocks: Uint8Array
  ops: WireOp[]
  prevData: Uint8Array | null
  time: string
}

export type WireSync = { did: string; rev: string; blocks: Uint8Array; time: string }

export type VerifyRequestBody = { key: string; nowMs: number } & (
  | { kind: 'commit'; event: WireCommit }
  | { kind: 'sync'; event: WireSync }
)
export type VerifyRequest = { id: number } & VerifyRequestBody

export type VerifyResponse =
  | { id: number; ok: true; commit: Uint8Array; data: Uint8Array }
  | { id: number; ok: false; name: string; message: string }

const bytesOf = (cid: CID | null): Uint8Array | null => (cid === null ? null : cid.bytes)
const cidOf = (bytes: Uint8Array | null): CID | null => (bytes === null ? null : decodeCidBytes(bytes))

export function commitToWire(event: CommitEvent): WireCommit {
  return {
    repo: event.repo,
    commit: event.commit.bytes,
    rev: event.rev,
    since: event.since,
    blocks: event.blocks,
    ops: event.ops.map((op) => ({ action: op.action, path: op.path, cid: bytesOf(op.cid), prev: bytesOf(op.prev) })),
    prevData: bytesOf(event.prevData),
    time: event.time,
  }
}

/** Back to a CommitEvent (fields were validated by the sender's parser; the verifier re-checks what matters). */
export function commitFromWire(wire: WireCommit): CommitEvent {
  return {
    t: '#commit',
    seq: 1,
    repo: wire.repo as Did,
    commit: decodeCidBytes(wire.commit),
    rev: wire.rev as Tid,
    since: wire.since as Tid | null,
    blocks: wire.blocks,
    ops: wire.ops.map((op) => ({ action: op.action, path: op.path, cid: cidOf(op.cid), prev: cidOf(op.prev) })),
    prevData: cidOf(wire.prevData),
    time: wire.time as Datetime,
  }
}

export function syncToWire(event: SyncEvent): WireSync {
  return { did: event.did, rev: event.rev, blocks: event.blocks, time: event.time }
}

export function syncFromWire(wire: WireSync): SyncEvent {
  return { t: '#sync', seq: 1, did: wire.did as Did, rev: wire.rev as Tid, blocks: wire.blocks, time: wire.time as Datetime }
}

export function summaryFromResponse(response: VerifyResponse): VerifiedSummary {
  if (!response.ok) throw new AtfedError(response.name, response.message)
  return { commit: decodeCidBytes(response.commit), data: decodeCidBytes(response.data) }
}
