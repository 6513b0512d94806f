/**
 * Gives accepted events the relay's own seq and makes them durable, in
 * batches: one level batch holds the events (LevelEventLog.appendOps: each
 * event encoded once, with its new seq; that frame is what every consumer
 * receives), every host record and account state changed since the last
 * batch (host cursors included), nothing else. So a host's persisted cursor
 * is never ahead of the events it produced, and an account's stored rev never
 * ahead of its last event: after a crash (kill -9 included) each host resumes
 * from its cursor and nothing is lost or sent twice.
 *
 * Why that holds: ingest applies an outcome and submits its event in one
 * synchronous step, so at the moment a batch is taken the in-memory state
 * equals "everything queued so far", and a batch always takes the WHOLE
 * queue (split into appendOps calls of at most EVENT_LOG_APPEND_EVENTS_MAX).
 *
 * Batching: a batch is written RELAY_SEQUENCER_FLUSH_MS after the first
 * queued change, or at once at RELAY_SEQUENCER_BATCH_EVENTS events; one batch
 * is written at a time (the next one gathers meanwhile: group commit).
 * `submit` never refuses: past RELAY_SEQUENCER_QUEUE_EVENTS_MAX queued events
 * or RELAY_SEQUENCER_QUEUE_BYTES_MAX queued bytes it returns a promise that
 * resolves once the queue has drained, and the host readers wait on it
 * (backpressure to every upstream socket). The bytes bound is what keeps a
 * batch small when a write stalls (fsync behind a busy disk): the batch
 * takes the whole queue.
 *
 * On a JetStream log (`logJoinsBatch: false`, relay cluster) the events
 * cannot join the level batch: the stores are staged first (same instant as
 * the queue is taken), the events are published and acknowledged
 * (`log.append`), and only then is the staged batch written. A crash in
 * between leaves the cursor behind events already published; they are
 * received again, re-verified and published again with the same
 * de-duplication id, which the stream drops.
 *
 * A failed batch write is fatal: the in-memory state is ahead of the disk,
 * so the sequencer stops (`onFatal`), every later submit throws, and a
 * restart reloads the last durable state.
 */
import { AtfedError } from '../core/errors.ts'
import {
  EVENT_LOG_APPEND_EVENTS_MAX,
  RELAY_SEQUENCER_BATCH_EVENTS,
  RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES,
  RELAY_SEQUENCER_FLUSH_MS,
  RELAY_SEQUENCER_QUEUE_BYTES_MAX,
  RELAY_SEQUENCER_QUEUE_EVENTS_MAX,
} from '../core/limits.ts'
import type { EventLog, PendingAppend } from '../core/stream/event-log.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import type { RelayBatchOp, RelayDb, StagedWrites } from './relay-db.ts'

export type SequencerOptions = {
  db: RelayDb
  log: EventLog
  /** The log's appends go into the level batch (LevelEventLog on the same db); false: publish first (JetStream). */
  logJoinsBatch?: boolean
  /** Stores whose changes ride along in every batch. */
  stores: readonly { readonly hasDirty: boolean; stage(): StagedWrites }[]
  flushMs?: number
  batchEvents?: number
  queueEventsMax?: number
  queueBytesMax?: number
  /** fsync each batch (default true). */
  sync?: boolean
  onFatal?: (err: unknown) => void
  /** After a publish-first batch is durable: its state ops, for the relay cluster's shared state (relay/cluster/). */
  afterWrite?: (ops: readonly RelayBatchOp[]) => Promise<void>
}

export type SequencerStats = { batches: number; events: number; largestBatch: number }

/** What an event counts against RELAY_SEQUENCER_QUEUE_BYTES_MAX. */
export function queuedBytes(event: UnsequencedEvent): number {
  return RELAY_SEQUENCER_EVENT_OVERHEAD_BYTES + ('blocks' in event ? event.blocks.length : 0)
}

export class Sequencer {
  readonly #options: SequencerOptions
  #queue: UnsequencedEvent[] = []
  #queuedBytes = 0
  #timer: NodeJS.Timeout | null = null
  #writing: Promise<void> | null = null
  #failed: unknown = null
  #waiters: (() => void)[] = []
  readonly stats: SequencerStats = { batches: 0, events: 0, largestBatch: 0 }

  constructor(options: SequencerOptions) {
    this.#options = options
  }

  /** Queue events (in order) for the next batch; a promise means "wait before submitting more". */
  submit(events: readonly UnsequencedEvent[]): Promise<void> | null {
    if (this.#failed !== null) throw new AtfedError('SequencerFailed', 'the relay event log failed; restart the relay')
    for (const event of events) {
      this.#queue.push(event)
      this.#queuedBytes += queuedBytes(event)
    }
    this.poke()
    const roomForEvents = this.#queue.length < (this.#options.queueEventsMax ?? RELAY_SEQUENCER_QUEUE_EVENTS_MAX)
    if (roomForEvents && this.#queuedBytes < (this.#options.queueBytesMax ?? RELAY_SEQUENCER_QUEUE_BYTES_MAX)) return null
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** State changed (host or account records): make sure a batch follows. */
  poke(): void {
    if (this.#writing !== null || this.#failed !== null) return
    if (this.#queue.length >= (this.#options.batchEvents ?? RELAY_SEQUENCER_BATCH_EVENTS)) return void this.#startBatch()
    this.#timer ??= setTimeout(() => this.#startBatch(), this.#options.flushMs ?? RELAY_SEQUENCER_FLUSH_MS)
  }

  /** Write everything queued so far (and wait for a batch already being written). */
  async flush(): Promise<void> {
    while (this.#writing !== null || this.#hasWork()) {
      if (this.#failed !== null) throw this.#failed
      if (this.#writing === null) this.#startBatch()
      await this.#writing
    }
    if (this.#failed !== null) throw this.#failed
  }

  #hasWork(): boolean {
    return this.#queue.length > 0 || this.#options.stores.some((store) => store.hasDirty)
  }

  #startBatch(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#writing !== null || this.#failed !== null || !this.#hasWork()) return
    const events = this.#queue
    this.#queue = []
    this.#queuedBytes = 0
    this.#writing = this.#write(events).finally(() => {
      this.#writing = null
      if (this.#hasWork()) setImmediate(() => this.poke())
    })
    this.#release()
  }

  async #write(events: UnsequencedEvent[]): Promise<void> {
    if (this.#options.logJoinsBatch === false) return this.#publishThenWrite(events)
    const pendings: PendingAppend[] = []
    const ops: RelayBatchOp[] = []
    try {
      for (let i = 0; i < events.length; i += EVENT_LOG_APPEND_EVENTS_MAX) {
        const pending = this.#options.log.appendOps(events.slice(i, i + EVENT_LOG_APPEND_EVENTS_MAX))
        pendings.push(pending)
        for (const op of pending.ops) ops.push(op as RelayBatchOp)
      }
      const staged = this.#options.stores.map((store) => store.stage())
      for (const s of staged) for (const op of s.ops) ops.push(op)
      await this.#options.db.batch(ops, { sync: this.#options.sync ?? true })
      for (const pending of pendings) pending.commit()
      for (const s of staged) s.settled()
      this.stats.batches++
      this.stats.events += events.length
      this.stats.largestBatch = Math.max(this.stats.largestBatch, events.length)
    } catch (err) {
      for (const pending of pendings) pending.abort()
      this.#failed = err
      this.#release()
      this.#options.onFatal?.(err)
    }
  }

  async #publishThenWrite(events: UnsequencedEvent[]): Promise<void> {
    try {
      const staged = this.#options.stores.map((store) => store.stage())
      for (let i = 0; i < events.length; i += EVENT_LOG_APPEND_EVENTS_MAX) {
        await this.#options.log.append(events.slice(i, i + EVENT_LOG_APPEND_EVENTS_MAX))
      }
      const ops: RelayBatchOp[] = staged.flatMap((s) => s.ops)
      if (ops.length > 0) await this.#options.db.batch(ops, { sync: this.#options.sync ?? true })
      if (ops.length > 0) await this.#options.afterWrite?.(ops)
      for (const s of staged) s.settled()
      this.stats.batches++
      this.stats.events += events.length
      this.stats.largestBatch = Math.max(this.stats.largestBatch, events.length)
    } catch (err) {
      this.#failed = err
      this.#release()
      this.#options.onFatal?.(err)
    }
  }

  /** Wake producers waiting for room. */
  #release(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }

  /** Write what is queued, then stop. */
  async close(): Promise<void> {
    await this.flush().catch(() => {})
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }
}
