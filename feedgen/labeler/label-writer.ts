/**
 * The one writer of the label store: every label write — a rule's, an
 * admin's — goes through its queue, so "is there already a label for this
 * (uri, src, val)?" and the write that follows can never interleave.
 *
 * Group commit: the writer takes everything queued (up to
 * LABEL_WRITE_BATCH_MAX labels), decides each write against the current
 * index (plus the earlier writes of the same batch), and lands the accepted
 * ones in ONE `level` batch: a `#labels {seq, labels: [label]}` frame per
 * label in the label log (so subscribeLabels serves exactly what was
 * stored), the index entries, and — when a consumer handler asked for it —
 * the firehose cursor. Labels, their seqs and the cursor are durable
 * together or not at all; the log publishes the seqs only after the batch.
 *
 * Conditions (`when`):
 * - `always`: write (admin labels, negations are checked by the caller);
 * - `new-for-cid`: skip when the index already holds a label for the triple
 *   with the same cid, negated or not — this is what makes rule labels
 *   idempotent under at-least-once delivery, and what keeps an admin's
 *   negation from being undone when the firehose replays the same record;
 * - `active`: write only over an active label (not negated, not expired) —
 *   a negation of nothing is refused.
 */
import type { AbstractBatchOperation } from 'abstract-level'
import { encodeCbor } from '../../core/data/cbor.ts'
import { AtfedError } from '../../core/errors.ts'
import { LABEL_WRITE_BATCH_MAX, LABEL_WRITE_QUEUE_MAX } from '../../core/limits.ts'
import { datetimeToMs } from '../../core/syntax/datetime.ts'
import type { LevelEventLog } from '../../core/stream/event-log-level.ts'
import { encodeMessageFrame } from '../../core/stream/frames.ts'
import type { LevelCursorStore } from '../consumer/cursor-store.ts'
import { labelToLex } from './label.ts'
import type { SignedLabel } from './label.ts'
import { indexKey } from './label-index.ts'

export type WriteCondition = 'always' | 'new-for-cid' | 'active'
export type LabelWrite = { readonly label: SignedLabel; readonly when: WriteCondition }
export type WriteOutcome =
  | { readonly written: true; readonly seq: number; readonly label: SignedLabel }
  | { readonly written: false; readonly reason: 'exists' | 'not-active'; readonly current: SignedLabel | null }
export type WriteResult = { readonly outcomes: readonly WriteOutcome[]; readonly cursorPersisted: number | null }
export type WriteOptions = {
  /** Called right before the batch is built (a consumer's `ctx.cursorIfDone`); its value goes in the batch. */
  cursor?: () => number | null
}

type Job = { writes: readonly LabelWrite[]; options: WriteOptions; resolve: (r: WriteResult) => void; reject: (e: unknown) => void }
type Accepted = { job: number; index: number; key: Uint8Array; label: SignedLabel }
type BatchOp = AbstractBatchOperation<any, any, any>

export type WriterDeps = {
  db: { batch(ops: BatchOp[], options: { sync: boolean }): Promise<void> }
  /** The current index: read one entry (null when absent), and the sublevel batch ops target. */
  readCurrent: (key: Uint8Array) => Promise<SignedLabel | null>
  indexSublevel: unknown
  log: LevelEventLog
  cursorStore: LevelCursorStore
  now: () => number
  sync: boolean
}

export function isActiveLabel(label: SignedLabel, nowMs: number): boolean {
  return label.neg !== true && (label.exp === undefined || datetimeToMs(label.exp) > nowMs)
}

export function labelsFrame(seq: number, label: SignedLabel): Uint8Array {
  return encodeMessageFrame('#labels', { seq, labels: [labelToLex(label)] })
}

export class LabelWriter {
  readonly #deps: WriterDeps
  readonly #queue: Job[] = []
  #queuedWrites = 0
  #running: Promise<void> | null = null

  constructor(deps: WriterDeps) {
    this.#deps = deps
  }

  write(writes: readonly LabelWrite[], options: WriteOptions = {}): Promise<WriteResult> {
    if (writes.length === 0) return Promise.resolve({ outcomes: [], cursorPersisted: null })
    if (this.#queuedWrites + writes.length > LABEL_WRITE_QUEUE_MAX) {
      return Promise.reject(new AtfedError('LabelQueueFull', `more than ${LABEL_WRITE_QUEUE_MAX} label writes waiting`))
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ writes, options, resolve, reject })
      this.#queuedWrites += writes.length
      this.#running ??= this.#run()
    })
  }

  /** Resolves when every queued write has landed (or failed). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const jobs: Job[] = [this.#queue.shift() as Job]
      let count = (jobs[0] as Job).writes.length
      while (this.#queue.length > 0 && count + (this.#queue[0] as Job).writes.length <= LABEL_WRITE_BATCH_MAX) {
        const job = this.#queue.shift() as Job
        count += job.writes.length
        jobs.push(job)
      }
      this.#queuedWrites -= count
      try {
        await this.#commit(jobs)
      } catch (err) {
        for (const job of jobs) job.reject(err)
      }
    }
    this.#running = null
  }

  /** Decide every write of `jobs`, land the accepted ones (and the cursor) in one batch, settle the jobs. */
  async #commit(jobs: readonly Job[]): Promise<void> {
    const nowMs = this.#deps.now()
    const overlay = new Map<string, SignedLabel | null>()
    const outcomes = jobs.map((job) => new Array<WriteOutcome | null>(job.writes.length).fill(null))
    const accepted: Accepted[] = []
    for (const [j, job] of jobs.entries()) {
      for (const [index, { label, when }] of job.writes.entries()) {
        const key = indexKey(label.uri, label.src, label.val)
        const id = Buffer.from(key).toString('latin1')
        const current = overlay.has(id) ? (overlay.get(id) as SignedLabel | null) : await this.#deps.readCurrent(key)
        const skip = decide(when, current, label, nowMs)
        if (skip === null) {
          overlay.set(id, label)
          accepted.push({ job: j, index, key, label })
        } else {
          ;(outcomes[j] as (WriteOutcome | null)[])[index] = { written: false, reason: skip, current }
        }
      }
    }
    let cursorPersisted: number | null = null
    if (accepted.length > 0) {
      const landed = await this.#land(jobs, accepted)
      cursorPersisted = landed.cursor
      accepted.forEach((a, i) => {
        ;(outcomes[a.job] as (WriteOutcome | null)[])[a.index] = { written: true, seq: landed.seqs[i] as number, label: a.label }
      })
    }
    jobs.forEach((job, j) => job.resolve({ outcomes: outcomes[j] as WriteOutcome[], cursorPersisted }))
  }

  async #land(jobs: readonly Job[], accepted: readonly Accepted[]): Promise<{ seqs: readonly number[]; cursor: number | null }> {
    const { log, db } = this.#deps
    const pending = log.appendFrameOps(accepted.length, (seq, i) => labelsFrame(seq, (accepted[i] as Accepted).label))
    const ops: BatchOp[] = [...(pending.ops as BatchOp[])]
    for (const a of accepted) {
      ops.push({ type: 'put', sublevel: this.#deps.indexSublevel, key: a.key, value: encodeCbor(labelToLex(a.label)) } as BatchOp)
    }
    let cursor: number | null = null
    for (const job of jobs) {
      const c = job.options.cursor?.() ?? null
      if (c !== null && (cursor === null || c > cursor)) cursor = c
    }
    if (cursor !== null) ops.push(this.#deps.cursorStore.putOp(cursor) as unknown as BatchOp)
    try {
      await db.batch(ops, { sync: this.#deps.sync })
    } catch (err) {
      pending.abort()
      throw err
    }
    pending.commit()
    return { seqs: pending.seqs, cursor }
  }
}

function decide(when: WriteCondition, current: SignedLabel | null, label: SignedLabel, nowMs: number): 'exists' | 'not-active' | null {
  switch (when) {
    case 'always':
      return null
    case 'new-for-cid':
      return current !== null && current.cid === label.cid ? 'exists' : null
    case 'active':
      return current !== null && isActiveLabel(current, nowMs) ? null : 'not-active'
  }
}
