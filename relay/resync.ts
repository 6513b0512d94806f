/**
 * Desync recovery: an account whose commits stopped chaining (accept.ts
 * 'ChainBroken') is re-read from its PDS and announced with a `#sync`.
 *
 * For one account, in order:
 * 1. re-resolve the DID (fresh key and PDS endpoint);
 * 2. GET `com.atproto.sync.getRepo?did=` from that PDS (safe-fetch: time
 *    limit, RELAY_RESYNC_CAR_BYTES_MAX, no redirects, public addresses only
 *    unless dev);
 * 3. verify the whole CAR (core/repo/verify-repo.ts: one root, every block
 *    re-hashed, commit for this DID signed by the current key, complete and
 *    canonical MST, every record present) and that its rev is not in the
 *    future;
 * 4. in one synchronous step: refuse a repo older than the stored rev (no
 *    rollback); store (rev, commit, data), mark the account active, queue a
 *    `#sync` (CAR = the commit block only) when the rev moved; then replay
 *    the events held while this ran, except those the fetched repo already
 *    includes (rev not after its rev: the #sync covers them).
 * A failure leaves the account desynchronized; held events are dropped
 * ('AccountDesynchronized') and the next event of the account starts a new
 * attempt once RELAY_RESYNC_RETRY_MS has passed.
 *
 * Bounded: RELAY_RESYNC_CONCURRENCY fetches at once, RELAY_RESYNC_QUEUE_MAX
 * accounts waiting (past it, the next event of the account asks again),
 * RELAY_RESYNC_BUFFER_EVENTS_MAX held events per account and
 * RELAY_RESYNC_HELD_EVENTS_MAX in all. A restart loses the
 * held events and the queue, not the desynchronized mark (it is stored), so
 * the account's next event restarts the resync.
 */
import {
  RELAY_RESYNC_BUFFER_EVENTS_MAX,
  RELAY_RESYNC_CAR_BYTES_MAX,
  RELAY_RESYNC_CONCURRENCY,
  RELAY_RESYNC_HELD_EVENTS_MAX,
  RELAY_RESYNC_QUEUE_MAX,
  RELAY_RESYNC_RETRY_MS,
  RELAY_RESYNC_TIMEOUT_MS,
} from '../core/limits.ts'
import { AtfedError } from '../core/errors.ts'
import { datetimeFromDate } from '../core/syntax/datetime.ts'
import type { Did } from '../core/syntax/did.ts'
import { MemoryBlockMap } from '../core/repo/block-reader.ts'
import { encodeCarBytes } from '../core/repo/car/writer.ts'
import { checkRevNotFuture } from '../core/repo/commit.ts'
import { verifyRepoCarBytes } from '../core/repo/verify-repo.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import type { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { safeFetch } from '../did-resolver/safe-fetch.ts'
import type { AccountState, AccountStore } from './accounts.ts'
import type { Outcome, ResyncControl } from './accept.ts'
import type { HostRecord, HostRegistry } from './hosts/host-registry.ts'
import type { Checked } from './verify.ts'

export type ResyncDeps = {
  readonly accounts: AccountStore
  readonly hosts: HostRegistry
  readonly resolver: IdentityResolver
  /** Queue events for the relay log (the sequencer). */
  readonly emit: (events: UnsequencedEvent[]) => void
  /** Run a held event through the in-order step again; report its outcome. */
  readonly replay: (host: HostRecord, checked: Checked) => Outcome
  /** Count an outcome against a host (drops, accepted). */
  readonly record: (host: HostRecord, outcome: Outcome) => void
  readonly dev: boolean
  readonly now?: () => number
  readonly retryMs?: number
  readonly onError?: (did: Did, err: unknown) => void
}

export type ResyncStats = { started: number; succeeded: number; failed: number; syncsEmitted: number; covered: number }

export class Resyncer implements ResyncControl {
  readonly #deps: ResyncDeps
  readonly #now: () => number
  /** Accounts queued or running, with the events held for them. */
  readonly #pending = new Map<Did, Checked[]>()
  readonly #queue: Did[] = []
  readonly #failedAt = new Map<Did, number>()
  #running = 0
  /** Events held over all pending accounts. */
  #heldTotal = 0
  #closed = false
  readonly stats: ResyncStats = { started: 0, succeeded: 0, failed: 0, syncsEmitted: 0, covered: 0 }

  constructor(deps: ResyncDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
  }

  start(account: AccountState): void {
    if (this.#closed || this.#pending.has(account.did) || this.#pending.size >= RELAY_RESYNC_QUEUE_MAX) return
    this.#failedAt.delete(account.did)
    this.#pending.set(account.did, [])
    this.#queue.push(account.did)
    this.#pump()
  }

  hold(account: AccountState, checked: Checked): boolean {
    let held = this.#pending.get(account.did)
    if (held === undefined) {
      const failedAt = this.#failedAt.get(account.did)
      if (failedAt !== undefined && this.#now() - failedAt < (this.#deps.retryMs ?? RELAY_RESYNC_RETRY_MS)) return false
      this.start(account)
      held = this.#pending.get(account.did)
      if (held === undefined) return false
    }
    if (held.length >= RELAY_RESYNC_BUFFER_EVENTS_MAX || this.#heldTotal >= RELAY_RESYNC_HELD_EVENTS_MAX) return false
    held.push(checked)
    this.#heldTotal++
    return true
  }

  /** Stop starting new fetches (running ones finish or time out). */
  close(): void {
    this.#closed = true
  }

  get active(): number {
    return this.#pending.size
  }

  #pump(): void {
    while (!this.#closed && this.#running < RELAY_RESYNC_CONCURRENCY && this.#queue.length > 0) {
      const did = this.#queue.shift() as Did
      this.#running++
      this.stats.started++
      void this.#resync(did).finally(() => {
        this.#running--
        this.#pump()
      })
    }
  }

  async #resync(did: Did): Promise<void> {
    try {
      const fetched = await this.#fetchVerified(did)
      this.#finish(did, fetched)
    } catch (err) {
      this.stats.failed++
      this.#failedAt.set(did, this.#now())
      if (this.#failedAt.size > RELAY_RESYNC_QUEUE_MAX) this.#failedAt.delete(this.#failedAt.keys().next().value as Did)
      this.#deps.onError?.(did, err)
      this.#dropHeld(did)
    }
  }

  async #fetchVerified(did: Did): Promise<ReturnType<typeof verifyRepoCarBytes>> {
    const identity = await this.#deps.resolver.refresh(did)
    if (identity.pds === null || identity.signingKey === null) {
      throw new AtfedError('IdentityUnresolved', `${did} names no PDS or no signing key`)
    }
    const url = new URL('/xrpc/com.atproto.sync.getRepo', identity.pds)
    url.searchParams.set('did', did)
    const res = await safeFetch(url.href, {
      bytesMax: RELAY_RESYNC_CAR_BYTES_MAX,
      timeoutMs: RELAY_RESYNC_TIMEOUT_MS,
      accept: 'application/vnd.ipld.car',
      allowPrivateAddresses: this.#deps.dev,
    })
    const verified = verifyRepoCarBytes(res.body, { did, key: identity.signingKey })
    checkRevNotFuture(verified.commit.rev, this.#now())
    return verified
  }

  /** The synchronous step: store, emit, replay (see the module header, step 4). */
  #finish(did: Did, fetched: ReturnType<typeof verifyRepoCarBytes>): void {
    const account = this.#deps.accounts.get(did)
    if (account === null || account.status !== 'desynchronized') return this.#dropHeld(did)
    if (account.rev !== null && fetched.commit.rev < account.rev) {
      throw new AtfedError('StaleRepo', `getRepo returned rev ${fetched.commit.rev}, before the stored ${account.rev}`)
    }
    const moved = account.rev === null || fetched.commit.rev > account.rev
    account.status = 'active'
    account.rev = fetched.commit.rev
    account.commit = fetched.commitCid
    account.data = fetched.root
    this.#deps.accounts.put(account)
    if (moved) {
      const commitBytes = fetched.blockMap.get(fetched.commitCid) as Uint8Array
      const blocks = encodeCarBytes(fetched.commitCid, new MemoryBlockMap().set(fetched.commitCid, commitBytes))
      const time = datetimeFromDate(new Date(this.#now()))
      this.#deps.emit([{ t: '#sync', did, rev: fetched.commit.rev, blocks, time }])
      this.stats.syncsEmitted++
    }
    this.stats.succeeded++
    const held = this.#take(did)
    const host = this.#deps.hosts.get(account.host)
    if (host === undefined) return
    for (const checked of held) {
      // A held commit the fetched repo already includes is covered by the #sync: not a drop.
      if ((checked.kind === 'commit' || checked.kind === 'sync') && checked.event.rev <= (account.rev as string)) {
        this.stats.covered++
        continue
      }
      this.#deps.record(host, this.#deps.replay(host, checked))
    }
  }

  /** The account's held events, no longer pending. */
  #take(did: Did): Checked[] {
    const held = this.#pending.get(did) ?? []
    this.#pending.delete(did)
    this.#heldTotal -= held.length
    return held
  }

  #dropHeld(did: Did): void {
    const held = this.#take(did)
    const host = this.#hostOf(did)
    if (host === undefined) return
    for (const _ of held) this.#deps.record(host, { kind: 'dropped', reason: 'AccountDesynchronized', detail: `resync of ${did} failed` })
  }

  #hostOf(did: Did): HostRecord | undefined {
    const account = this.#deps.accounts.get(did)
    return account === null ? undefined : this.#deps.hosts.get(account.host)
  }
}
