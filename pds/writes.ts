/**
 * THE write path: every change to a hosted repo goes through `RepoWriter`.
 *
 * One write, in order, under the repo's lock (a per-DID mutex with a bounded
 * queue: a full queue is 503 `RepoBusy`):
 *  1. the account must be active (`AccountTakedown` / `AccountDeactivated`,
 *     401; `RepoNotFound` when there is no such repo here);
 *  2. read the head — the one the DID's previous write produced, even if
 *     that write is not durable yet (repo/in-flight.ts); `swapCommit` ≠ head
 *     → 400 `InvalidSwap`;
 *  3. resolve each write against the current tree: `swapRecord` (null =
 *     must not exist) ≠ current → `InvalidSwap`; `put` becomes create or
 *     update; a `delete` with `ifExists` of a missing record is dropped;
 *  4. hooks' `prepare` (e.g. blob references must be uploaded);
 *  5. core `applyWrites` (pure) builds the signed commit, its new and
 *     removed blocks and the `#commit` CAR; if no op survived (a put of the
 *     identical record) nothing is stored and `commit` is null;
 *  6. record-block reference counts (repo/record-refs.ts) decide which
 *     replaced record blocks may go;
 *  7. the commit's ops — blocks, head, counts, hooks' ops and the sequenced
 *     `#commit` (event-log `appendOps`) — go to the group commit queue
 *     (commit-queue.ts) and become the DID's in-flight state; the lock is
 *     released, so the DID's next write can be prepared on top of it.
 * Then, lock released: wait until the commit's batch is durable (it carries
 * other writes too, one fsync for all; the event is published then), run
 * hooks' `afterCommit` (e.g. tell relays) and answer. A failed batch fails
 * every write in it and every later write built on them; nothing of theirs
 * is stored, their seqs are burned.
 *
 * Extension points for other modules: `WriteHook` (register in the
 * context's `writeHooks`), `withRepoLock` + `storeCommit` for code that
 * builds its own commit or changes a repo otherwise (import, re-signing on
 * activation, deletion): `withRepoLock` first waits until the DID's
 * in-flight writes are durable, so inside it the store is the truth.
 */
import { AtfedError } from '../core/errors.ts'
import type { CID } from '../core/data/cid.ts'
import type { LexMap } from '../core/data/cbor.ts'
import { PDS_REPO_WRITE_WAITERS_MAX } from '../core/limits.ts'
import type { BlockReader } from '../core/repo/block-reader.ts'
import type { LevelRepoStore, StoreBatchOp } from '../core/repo/block-store.ts'
import { Mst } from '../core/repo/mst/mst.ts'
import type { RepoWrite } from '../core/repo/repo-write.ts'
import { applyWrites, type CommitResult } from '../core/repo/writes.ts'
import type { EventLog } from '../core/stream/event-log.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import type { Did } from '../core/syntax/did.ts'
import type { Nsid } from '../core/syntax/nsid.ts'
import type { RecordKey } from '../core/syntax/record-key.ts'
import type { Tid } from '../core/syntax/tid.ts'
import { XrpcError } from '../core/xrpc/errors.ts'
import type { Account } from './accounts/account.ts'
import type { AccountStore } from './accounts/store.ts'
import type { SigningKeys } from './accounts/signing-keys.ts'
import { KeyedMutex } from './mutex.ts'
import type { RecordRefs } from './repo/record-refs.ts'
import { CommitQueue, type CommitQueueLimits, type CommitTicket, type EventWriteAhead } from './commit-queue.ts'
import { InFlightRepos } from './repo/in-flight.ts'
import { commitEvent } from './sequencer.ts'

/** What a route asks for. `swapRecord`: undefined = no check, null = must not exist. */
export type PdsWrite =
  | { action: 'create'; collection: Nsid; rkey: RecordKey; record: LexMap; swapRecord?: CID | null }
  | { action: 'update' | 'put'; collection: Nsid; rkey: RecordKey; record: LexMap; swapRecord?: CID | null }
  | { action: 'delete'; collection: Nsid; rkey: RecordKey; swapRecord?: CID | null; ifExists?: boolean }

/** A write after step 3: what it does to the tree, and what was there before. */
export type ResolvedWrite = { write: RepoWrite; current: CID | null } | { write: null; current: null }

export type WriteOutcome = {
  /** The new commit; null when nothing changed. */
  commit: { cid: CID; rev: Tid } | null
  /** Per write, in order: what it became and the record CID now at its path (null after a delete). */
  results: Array<{ action: 'create' | 'update' | 'delete'; cid: CID | null }>
}

export type WriteHook = {
  /**
   * Whether `prepare`/`batchOps` stay correct for these writes while the
   * DID's previous writes are prepared but NOT durable yet — i.e. they read
   * nothing from the store that those writes change (repo blocks read
   * through `RepoWriter.readerFor(did)` see in-flight writes and are fine).
   * Absent on a hook with `prepare` or `batchOps`: not safe, and the writer
   * first waits for the DID's in-flight writes to be durable (no same-DID
   * pipelining for that write; other DIDs still share batches).
   */
  pipelineSafe?: (writes: readonly PdsWrite[]) => boolean
  /** With the lock held, before the commit is built; throw to refuse the writes. */
  prepare?(did: Did, writes: readonly ResolvedWrite[]): Promise<void> | void
  /** Extra ops for the commit's batch (e.g. marking blobs as referenced). */
  batchOps?(did: Did, commit: CommitResult, writes: readonly ResolvedWrite[]): Promise<StoreBatchOp[]> | StoreBatchOp[]
  /** After the commit is durable and published, lock released; must not throw. */
  afterCommit?(did: Did, commit: CommitResult): void
}

export type RepoWriterDeps = {
  repos: LevelRepoStore
  accounts: AccountStore
  refs: RecordRefs
  events: EventLog
  /** Where the group commit writes events ahead of their repo batch (event-journal.ts). */
  journal: EventWriteAhead
  signingKeys: SigningKeys
  hooks: readonly WriteHook[]
  /** Group-commit limits (tests); defaults from core/limits.ts. */
  queueLimits?: Partial<CommitQueueLimits>
}

/** Throws unless `account` may change its repo. */
export function checkWritable(account: Account | null, did: Did): Account {
  if (account === null || account.status === 'deleted') throw new AtfedError('RepoNotFound', `Could not find repo: ${did}`)
  if (account.status === 'takendown') throw new AtfedError('AccountTakedown', 'Account has been taken down')
  if (account.status === 'deactivated') throw new AtfedError('AccountDeactivated', 'Account is deactivated')
  return account
}

function invalidSwap(message: string): AtfedError {
  return new AtfedError('InvalidSwap', message)
}

type Prepared = { outcome: WriteOutcome; commit: CommitResult | null; durable: CommitTicket | null }

export class RepoWriter {
  readonly #deps: RepoWriterDeps
  readonly #queue: CommitQueue
  readonly #inFlight: InFlightRepos
  readonly #locks = new KeyedMutex({
    waitersMax: PDS_REPO_WRITE_WAITERS_MAX,
    onFull: (did) => new XrpcError(503, 'RepoBusy', `too many writes waiting for ${did}; retry later`),
  })

  constructor(deps: RepoWriterDeps) {
    this.#deps = deps
    this.#queue = new CommitQueue(deps.repos.db, deps.journal, deps.queueLimits)
    this.#inFlight = new InFlightRepos(deps.repos)
  }

  /**
   * Run `fn` holding `did`'s repo lock, once the DID's in-flight writes are
   * durable (for code that builds its own commits or changes the repo).
   */
  withRepoLock<T>(did: Did, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(did, async () => {
      await this.#settled(did)
      try {
        return await fn()
      } finally {
        this.#inFlight.forget(did) // fn may have changed the repo's blocks
      }
    })
  }

  /** The DID's blocks including in-flight writes (for hooks). */
  readerFor(did: Did): BlockReader {
    return this.#inFlight.reader(did)
  }

  async write(did: Did, writes: readonly PdsWrite[], options: { swapCommit?: CID } = {}): Promise<WriteOutcome> {
    const { outcome, commit, durable } = await this.#locks.run(did, () => this.#prepareLocked(did, writes, options))
    if (durable !== null) await durable.durable
    if (commit !== null) {
      for (const hook of this.#deps.hooks) {
        try {
          hook.afterCommit?.(did, commit)
        } catch (err) {
          console.error(`pds: afterCommit hook failed for ${did}:`, err) // the commit stands
        }
      }
    }
    return outcome
  }

  async #prepareLocked(did: Did, writes: readonly PdsWrite[], options: { swapCommit?: CID }): Promise<Prepared> {
    const { hooks } = this.#deps
    if (!hooks.every((hook) => pipelineSafe(hook, writes))) await this.#settled(did)
    const account = checkWritable(await this.#deps.accounts.get(did), did)
    const after = this.#inFlight.pending(did)
    const head = this.#inFlight.head(did)
    if (head === null) throw new AtfedError('RepoNotFound', `Could not find repo: ${did}`)
    if (options.swapCommit !== undefined && !head.commitCid.equals(options.swapCommit)) {
      throw invalidSwap(`Commit was at ${head.commitCid.toString()}`)
    }
    const reader = this.#inFlight.reader(did)
    const tree = Mst.load(reader, head.dataCid)
    const resolved = resolveWrites(tree, writes)
    for (const hook of hooks) await hook.prepare?.(did, resolved)
    const repoWrites = resolved.flatMap((r) => (r.write === null ? [] : [r.write]))
    const result = applyWrites(head, repoWrites, {
      did,
      keypair: this.#deps.signingKeys.get(account),
      reader,
      tree, // the nodes resolveWrites decoded are not read and decoded again
      keepRecordBlock: () => true, // record-refs.ts decides
    })
    const changed = new Map(result.ops.map((op) => [op.path, op.cid]))
    const results = resolved.map((r) => resultOf(r, changed))
    // Nothing changed: the answer holds once what it was read from is durable.
    if (result.ops.length === 0) return { outcome: { commit: null, results }, commit: null, durable: after }
    const hookOps: StoreBatchOp[] = []
    for (const hook of hooks) if (hook.batchOps) hookOps.push(...(await hook.batchOps(did, result, resolved)))
    const plan = await this.#deps.refs.plan(did, result.ops, { pending: this.#inFlight.counts(did) ?? new Map() })
    const removedCids = [...result.removedCids, ...plan.unreferenced]
    const extraOps = [...plan.batchOps, ...hookOps]
    const { ticket } = this.#enqueue(did, result, { removedCids, extraOps, events: [commitEvent(did, result)], after })
    this.#inFlight.record(did, ticket, { result, removedCids, counts: plan.counts })
    return { outcome: { commit: { cid: result.commitCid, rev: result.rev }, results }, commit: result, durable: ticket }
  }

  /**
   * Store a commit built by core/repo/writes.ts with its events, in one
   * batch (record counts included); resolves with the events' seqs once
   * durable. The caller holds the repo lock (`withRepoLock`).
   */
  async storeCommit(
    did: Did,
    result: CommitResult,
    options: { events: readonly UnsequencedEvent[]; extraOps?: readonly StoreBatchOp[] },
  ): Promise<readonly number[]> {
    const plan = await this.#deps.refs.plan(did, result.ops)
    const removedCids = [...result.removedCids, ...plan.unreferenced]
    const extraOps = [...plan.batchOps, ...(options.extraOps ?? [])]
    const { ticket, seqs } = this.#enqueue(did, result, { removedCids, extraOps, events: options.events, after: null })
    await ticket.durable
    return seqs
  }

  /**
   * Store `ops` (any change of the repo database) with `events` announcing
   * it, through the group commit: both durable or neither (event-journal.ts);
   * resolves with the seqs. A caller changing a repo's state holds its lock.
   */
  async storeWithEvents(ops: readonly StoreBatchOp[], events: readonly UnsequencedEvent[]): Promise<readonly number[]> {
    const { ticket, seqs } = this.#enqueueWithEvents(ops, events, null)
    await ticket.durable
    return seqs
  }

  /** Durable batches written, commits waiting, DIDs with commits in flight (tests, metrics). */
  stats(): { batches: number; queued: number; inFlightRepos: number } {
    return { batches: this.#queue.batches, queued: this.#queue.queued, inFlightRepos: this.#inFlight.size }
  }

  /** Waits for every queued commit (shutdown). */
  async close(): Promise<void> {
    await this.#queue.drain()
  }

  /** Builds the commit's ops and its events' ops and queues them together (synchronously: seq order = batch order). */
  #enqueue(
    did: Did,
    result: CommitResult,
    options: { removedCids: readonly CID[]; extraOps: StoreBatchOp[]; events: readonly UnsequencedEvent[]; after: CommitTicket | null },
  ): { ticket: CommitTicket; seqs: readonly number[] } {
    const ops = this.#deps.repos.commitOps(did, {
      newBlocks: result.newBlocks,
      removedCids: options.removedCids,
      head: result.head,
      extra: options.extraOps,
    })
    if (options.events.length === 0) return { ticket: this.#queue.enqueue({ ops, appends: [], after: options.after }), seqs: [] }
    return this.#enqueueWithEvents(ops, options.events, options.after)
  }

  /** Appends `events` and queues them with `ops` in the same synchronous step (seq order = batch order). */
  #enqueueWithEvents(
    ops: readonly StoreBatchOp[],
    events: readonly UnsequencedEvent[],
    after: CommitTicket | null,
  ): { ticket: CommitTicket; seqs: readonly number[] } {
    const pending = this.#deps.events.appendOps(events)
    try {
      return { ticket: this.#queue.enqueue({ ops, appends: [pending], after }), seqs: pending.seqs }
    } catch (err) {
      pending.abort()
      throw err
    }
  }

  async #settled(did: Did): Promise<void> {
    const pending = this.#inFlight.pending(did)
    if (pending !== null) await pending.durable.catch(() => {})
  }
}

function pipelineSafe(hook: WriteHook, writes: readonly PdsWrite[]): boolean {
  if (hook.prepare === undefined && hook.batchOps === undefined) return true
  return hook.pipelineSafe?.(writes) ?? false
}

function resolveWrites(tree: Mst, writes: readonly PdsWrite[]): ResolvedWrite[] {
  return writes.map((w): ResolvedWrite => {
    const current = tree.get(`${w.collection}/${w.rkey}`)
    if (w.swapRecord !== undefined) {
      const ok = w.swapRecord === null ? current === null : current !== null && current.equals(w.swapRecord)
      if (!ok) throw invalidSwap(`Record was at ${current?.toString() ?? 'null'}`)
    }
    const { collection, rkey } = w
    switch (w.action) {
      case 'create':
        return { write: { action: 'create', collection, rkey, record: w.record }, current }
      case 'update':
      case 'put': {
        const action = w.action === 'put' && current === null ? 'create' : 'update'
        return { write: { action, collection, rkey, record: w.record }, current }
      }
      case 'delete':
        if (current === null && w.ifExists === true) return { write: null, current: null }
        return { write: { action: 'delete', collection, rkey }, current }
    }
  })
}

function resultOf(r: ResolvedWrite, changed: Map<string, CID | null>): WriteOutcome['results'][number] {
  if (r.write === null) return { action: 'delete', cid: null }
  const { action, collection, rkey } = r.write
  const path = `${collection}/${rkey}`
  // An update that changed nothing keeps the current CID.
  const cid = changed.has(path) ? (changed.get(path) as CID | null) : r.current
  return { action, cid }
}
