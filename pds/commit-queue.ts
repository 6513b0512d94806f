/**
 * Group commit: many repo writes share one durable `db.batch(…, {sync: true})`.
 *
 * A write prepares its whole change (blocks, head, counts, its sequenced
 * event's ops) and `enqueue`s it; the queue writes ONE batch at a time. While
 * a batch is being fsync'd, new commits pile up and all go into the next one
 * (up to PDS_COMMIT_BATCH_COMMITS_MAX / _BYTES_MAX), so under load the cost of
 * an fsync is shared and an idle server still writes a lone commit at once
 * (after one `setImmediate`, so the writes that became ready in the same turn
 * join it).
 *
 * Contract, per commit:
 * - its ops stay together and keep their order; commits keep queue order, so
 *   a DID's later commit always lands after (or with) its earlier one;
 * - durable ⇒ its event appends are committed (in queue order) and its
 *   promise resolves; a failed batch fails EVERY commit in it: their appends
 *   are aborted (seqs burned), their promises reject, nothing of theirs is
 *   stored (one batch is atomic);
 * - `after`: a commit that builds on another one's not-yet-durable state
 *   fails (without being written) when that one failed;
 * - the caller must call `log.appendOps` and `enqueue` in the same
 *   synchronous step, so seqs are allocated in queue (= batch) order.
 * A full queue refuses at once with 503 `ServerBusy` (memory stays bounded).
 *
 * Events go to their own database, AHEAD of the repo batch (the crash rule
 * is in event-journal.ts): per group, first one batch with every commit's
 * event ops on the journal's database, then the repo batch with the
 * commits' ops and the journal's `ackOp` for the group's highest seq. When
 * either fails, the group's events are deleted again (awaited) before their
 * seqs are settled; if even that fails, the queue refuses every later
 * commit and publishes nothing more (a restart drops the unacknowledged
 * events).
 *
 * A batch goes to LevelDB through native-batch.ts (one atomic WriteBatch, as
 * `db.batch(ops, {sync: true})`, at a third of its main-thread cost).
 */
import { assert } from '../core/errors.ts'
import {
  PDS_COMMIT_BATCH_BYTES_MAX,
  PDS_COMMIT_BATCH_COMMITS_MAX,
  PDS_COMMIT_QUEUE_BYTES_MAX,
  PDS_COMMIT_QUEUE_COMMITS_MAX,
} from '../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../core/repo/block-store.ts'
import type { PendingAppend } from '../core/stream/event-log.ts'
import { XrpcError } from '../core/xrpc/errors.ts'
import { writeNativeBatch } from './native-batch.ts'

/** A commit handed to the queue; `durable` settles once it is written or failed. */
export type CommitTicket = {
  readonly durable: Promise<void>
  readonly state: 'queued' | 'durable' | 'failed'
}

export type CommitQueueLimits = {
  batchCommitsMax: number
  batchBytesMax: number
  queueCommitsMax: number
  queueBytesMax: number
}

/** Where the queue writes events ahead of their repo batch (event-journal.ts). */
export type EventWriteAhead = {
  readonly db: RootDb
  ackOp(seq: number): StoreBatchOp
  undoOps(appends: readonly PendingAppend[]): StoreBatchOp[]
}

type Entry = {
  ops: readonly StoreBatchOp[]
  appends: readonly PendingAppend[]
  bytes: number
  after: CommitTicket | null
  ticket: { durable: Promise<void>; state: CommitTicket['state'] }
  resolve: () => void
  reject: (err: unknown) => void
}

export class CommitQueue {
  readonly #db: RootDb
  readonly #journal: EventWriteAhead
  readonly #limits: CommitQueueLimits
  readonly #queue: Entry[] = []
  #queuedBytes = 0
  #running: Promise<void> | null = null
  /** Set when a failed group's events could not be deleted: no commit is taken after it. */
  #broken: unknown = null
  /** Batches written so far (tests, stats). */
  batches = 0

  constructor(db: RootDb, journal: EventWriteAhead, limits: Partial<CommitQueueLimits> = {}) {
    this.#db = db
    this.#journal = journal
    this.#limits = {
      batchCommitsMax: limits.batchCommitsMax ?? PDS_COMMIT_BATCH_COMMITS_MAX,
      batchBytesMax: limits.batchBytesMax ?? PDS_COMMIT_BATCH_BYTES_MAX,
      queueCommitsMax: limits.queueCommitsMax ?? PDS_COMMIT_QUEUE_COMMITS_MAX,
      queueBytesMax: limits.queueBytesMax ?? PDS_COMMIT_QUEUE_BYTES_MAX,
    }
  }

  /** Throws 503 ServerBusy (before anything is allocated) when one more commit of `bytes` would not fit. */
  checkRoom(bytes: number): void {
    if (this.#broken !== null) throw new XrpcError(500, 'InternalServerError', 'the event database failed; the PDS must be restarted')
    const { queueCommitsMax, queueBytesMax } = this.#limits
    const full = this.#queue.length >= queueCommitsMax || (this.#queue.length > 0 && this.#queuedBytes + bytes > queueBytesMax)
    if (full) throw new XrpcError(503, 'ServerBusy', 'too many writes waiting to be stored; retry later')
  }

  /**
   * Queue one commit's ops and the event appends they carry. Synchronous:
   * throws ServerBusy when full (the caller then aborts its appends).
   */
  enqueue(commit: { ops: readonly StoreBatchOp[]; appends: readonly PendingAppend[]; after?: CommitTicket | null }): CommitTicket {
    const bytes = opsBytes(commit.ops) + framesBytes(commit.appends)
    this.checkRoom(bytes)
    let resolve!: () => void
    let reject!: (err: unknown) => void
    const durable = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    durable.catch(() => {}) // the caller awaits it; an unawaited `after` must not crash the process
    const ticket: Entry['ticket'] = { durable, state: 'queued' }
    const entry: Entry = { ops: commit.ops, appends: commit.appends, bytes, after: commit.after ?? null, ticket, resolve, reject }
    if (entry.after?.state === 'failed') {
      this.#fail(entry, new XrpcError(500, 'InternalServerError', 'an earlier write of this repo failed'))
      return ticket
    }
    this.#queue.push(entry)
    this.#queuedBytes += bytes
    this.#running ??= new Promise<void>((res) => setImmediate(res)).then(() => this.#run())
    return ticket
  }

  /** Resolves once every commit queued so far is written or failed. */
  async drain(): Promise<void> {
    while (this.#running !== null) await this.#running
  }

  get queued(): number {
    return this.#queue.length
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#writeBatch(this.#take())
    } finally {
      this.#running = null
    }
  }

  #take(): Entry[] {
    const { batchCommitsMax, batchBytesMax } = this.#limits
    let n = 0
    let bytes = 0
    for (const entry of this.#queue) {
      if (n >= batchCommitsMax || (n > 0 && bytes + entry.bytes > batchBytesMax)) break
      bytes += entry.bytes
      n++
    }
    this.#queuedBytes -= bytes
    return this.#queue.splice(0, n)
  }

  async #writeBatch(batch: Entry[]): Promise<void> {
    const live: Entry[] = []
    for (const entry of batch) {
      if (entry.after?.state === 'failed') this.#fail(entry, new XrpcError(500, 'InternalServerError', 'an earlier write of this repo failed'))
      else live.push(entry)
    }
    if (live.length === 0) return
    const appends = live.flatMap((entry) => entry.appends)
    try {
      if (appends.length > 0) await writeNativeBatch(this.#journal.db, appendOps(appends), { sync: true })
      await writeNativeBatch(this.#db, this.#repoOps(live, appends), { sync: true })
    } catch (err) {
      await this.#failGroup(live, appends, err)
      return
    }
    this.batches++
    for (const entry of live) {
      entry.ticket.state = 'durable'
      for (const append of entry.appends) append.commit()
      entry.resolve()
    }
  }

  *#repoOps(entries: readonly Entry[], appends: readonly PendingAppend[]): Iterable<StoreBatchOp> {
    for (const entry of entries) yield* entry.ops
    const last = appends.at(-1)?.seqs.at(-1)
    if (last !== undefined) yield this.#journal.ackOp(last)
  }

  /** A group's batch failed: delete its events ahead (if any got written), then fail its commits. */
  async #failGroup(entries: readonly Entry[], appends: readonly PendingAppend[], err: unknown): Promise<void> {
    if (appends.length > 0) {
      try {
        await writeNativeBatch(this.#journal.db, this.#journal.undoOps(appends), { sync: true })
      } catch (undoErr) {
        console.error('pds: a failed batch\'s events could not be deleted; refusing writes until restart:', undoErr)
        this.#broken = undoErr
        for (const entry of entries) this.#fail(entry, err, { settleAppends: false })
        for (const entry of this.#queue.splice(0)) this.#fail(entry, undoErr)
        return
      }
    }
    for (const entry of entries) this.#fail(entry, err)
  }

  /** `settleAppends: false` leaves the appends pending, so nothing after them is ever published (broken queue). */
  #fail(entry: Entry, err: unknown, options: { settleAppends: boolean } = { settleAppends: true }): void {
    assert(entry.ticket.state === 'queued', 'a commit was settled twice')
    entry.ticket.state = 'failed'
    if (options.settleAppends) for (const append of entry.appends) append.abort()
    entry.reject(err)
  }
}

function* appendOps(appends: readonly PendingAppend[]): Iterable<StoreBatchOp> {
  for (const append of appends) yield* append.ops as readonly StoreBatchOp[]
}

function opsBytes(ops: readonly StoreBatchOp[]): number {
  let bytes = 0
  for (const op of ops) {
    if (op.type === 'put' && op.value instanceof Uint8Array) bytes += op.value.length
    bytes += op.key instanceof Uint8Array ? op.key.length : 16
  }
  return bytes
}

function framesBytes(appends: readonly PendingAppend[]): number {
  let bytes = 0
  for (const append of appends) for (const frame of append.frames) bytes += frame.length
  return bytes
}
