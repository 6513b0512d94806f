/**
 * The durable, sequenced log behind a firehose: what the PDS writes its
 * events into and what the relay re-sequences into, and what every
 * subscriber reads at its own position. `LevelEventLog`
 * (event-log-level.ts) implements it on `level`; the compliance suite in
 * test/stream/event-log-compliance.ts states the contract for any backend.
 *
 * Contract:
 * - Each stored entry is the complete frame (header + payload with its seq),
 *   sent verbatim to every subscriber, plus the time it was appended.
 * - `seq` is strictly increasing and never reused, also across restarts and
 *   crashes. Gaps are allowed (an aborted append burns its seqs).
 * - An event is *published* (visible to `read`, counted by `lastSeq`,
 *   announced by `onAppend`) only once it is durable AND every lower seq is
 *   settled (committed or aborted). Two writers whose batches land out of
 *   order therefore can never make a reader skip the slower one's event.
 * - `appendOps` lets the caller put the event into the SAME atomic batch as
 *   its repo write; it must then call exactly one of `commit()` (after the
 *   batch is durable) or `abort()` (if it failed) — until then, later
 *   appends stay unpublished.
 * - `floorSeq()`: every seq <= floor may be gone (trimmed, or below the
 *   initial seq of a reset log). A cursor below it has missed events.
 */
import type { AbstractBatchOperation } from 'abstract-level'
import type { Level } from 'level'
import type { UnsequencedEvent } from './events.ts'

// Any `level` database; encodings are set per sublevel (same convention as core/repo/block-store.ts).
export type EventLogDb = Level<any, any>
export type EventLogBatchOp = AbstractBatchOperation<EventLogDb, unknown, unknown>

export type LoggedFrame = { seq: number; frameBytes: Uint8Array }

export type AppendOptions = {
  /** Events' storage time (for retention); defaults to the log's clock. Never goes backwards. */
  timeMs?: number
}

export type PendingAppend = {
  /** The seqs given to the events, in order. */
  readonly seqs: readonly number[]
  /** The frames as stored (and as they will be sent), in order. */
  readonly frames: readonly Uint8Array[]
  /** Put these in the caller's batch (together with its own ops). */
  readonly ops: readonly EventLogBatchOp[]
  /** The batch is durable: publish the events. */
  commit(): void
  /** The batch failed: the seqs are burned, never reused. */
  abort(): void
}

export type AppendListener = (lastSeq: number) => void

export interface EventLog {
  /**
   * Sequence `events` and write them in one durable batch; resolves with
   * their seqs once durable (they are published as soon as every lower seq
   * is settled).
   */
  append(events: readonly UnsequencedEvent[], options?: AppendOptions): Promise<number[]>
  /** Sequence `events` and return the batch ops instead of writing them (see the module comment). */
  appendOps(events: readonly UnsequencedEvent[], options?: AppendOptions): PendingAppend
  /** Published frames with seq > `afterSeq`, in seq order, at most `limit`. */
  read(afterSeq: number, limit?: number): AsyncGenerator<LoggedFrame, void, undefined>
  /** The highest published seq, or the floor when nothing was published since it. */
  lastSeq(): number
  /** The lowest stored seq, or null when the log is empty. */
  oldestSeq(): Promise<number | null>
  /** Every seq <= this may be gone; a subscriber whose cursor is below it has missed events. */
  floorSeq(): number
  /** Delete events appended more than `olderThanMs` ago; resolves with how many were deleted. */
  trim(olderThanMs: number): Promise<number>
  /** Called (synchronously) each time `lastSeq` advances; returns the unsubscribe function. */
  onAppend(listener: AppendListener): () => void
  /** Stop appending and notifying. Does not close the database (the caller owns it). */
  close(): Promise<void>
}
