/**
 * The relay cluster's shared state: host records (cursor, status, counters)
 * and account states (rev, commit, data, status incl. desynchronized) in two
 * JetStream KV buckets, mirrored into the processes' own stores.
 *
 * How: the single-machine stores (HostRegistry, AccountStore) stay what
 * ingest, verification and the routes read, synchronously. Every process
 * watches the hosts bucket; serve frontends (and `all`) also watch the
 * accounts bucket and apply what others wrote into their stores (the level
 * db is a cache of the buckets). Ingest workers do not: they load the
 * accounts of a host when they take it over (keys are `<host>.<DID>`,
 * kv-names.ts), so a worker holds the states of its hosts, not of the
 * network. The owner of a host (host-leases.ts) writes that host's record
 * and the states of its accounts to the buckets after each sequencer batch
 * (`mirror`, called once the batch's events are acknowledged by the
 * stream); states it loaded and did not change are not written back.
 * `takeOver` reads the host's record (its cursor) from the bucket itself
 * before following it.
 *
 * Tricky bits:
 * - One writer per key: host records and accounts of a host are written
 *   only by the host's lease owner. A process ignores the watch's copies of
 *   host records it owns (its own writes, echoed) and of account states it
 *   owns unless they are later by rev than its own (an echo is never later;
 *   a previous owner's last write arriving late is). While it is taking a
 *   host over it applies everything (the previous owner's last writes). A
 *   host not yet in the bucket is created by whoever saw it first (`create`,
 *   so a late `--host` on another worker cannot move an owner's cursor back).
 * - The buckets can lag the stream (a crash between publish and mirror, a
 *   write queue behind a KV leader election). So `takeOver` does not trust
 *   them alone: the host record carries `streamSeq` and the account states
 *   published after it are read back from the stream itself
 *   (stream-states.ts explains why that is exact). The next owner then
 *   re-receives the events after the bucket's cursor: those already
 *   published are old revs, the rest chain onto the last published state
 *   (and a re-publish is de-duplicated by `<did>/<rev>`).
 * - `catchUp` applies a bucket's revisions up to its last one (taking over
 *   right after another worker's last mirror), reading what the watch has
 *   not delivered straight from the bucket's stream (bucket-pull.ts: a
 *   watch can stall for many seconds after a NATS node is lost), bounded.
 * - Writes leave the ingest path (state-writer.ts): a bucket electing a
 *   new leader must not stall the firehose. A bucket that lags only makes
 *   a takeover re-verify more (see above); a hand-over waits for the
 *   writes (`drain`, bounded) before it lets the lease go.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { AtfedError } from '../../core/errors.ts'
import { RELAY_CLUSTER_CATCH_UP_MS_MAX, RELAY_CLUSTER_HOST_LOAD_MS_MAX, RELAY_CLUSTER_KV_TIMEOUT_MS, RELAY_CLUSTER_WATCH_CHECK_MS, RELAY_CLUSTER_WATCH_STALL_CHECKS } from '../../core/limits.ts'
import { decodeAccountJson } from '../accounts.ts'
import type { AccountStore } from '../accounts.ts'
import type { HostRecord, HostRegistry } from '../hosts/host-registry.ts'
import type { HostName } from '../hosts/host-name.ts'
import { quickJetStream } from '../log/jetstream-reader.ts'
import type { HostStates } from '../log/jetstream-reader.ts'
import type { RelayBatchOp } from '../relay-db.ts'
import { loadHostAccounts, pullRevisions } from './bucket-pull.ts'
import type { BucketRevision } from './bucket-pull.ts'
import { accountKey, hostAccountsFilter, keyOf } from './kv-names.ts'
import { StateWriter } from './state-writer.ts'
import { applyStreamStates, isLaterRev } from './stream-states.ts'
import type { ClusterBuckets } from './kv-names.ts'

export type SharedStateOptions = {
  buckets: ClusterBuckets
  replicas: number
  hosts: HostRegistry
  accounts: AccountStore
  /** Does this process hold the host's lease (then it is the one writer of its keys)? */
  owns: (host: HostName) => boolean
  /** Local stores changed: have the sequencer write them to the local db. */
  poke: () => void
  /** Another process added a host (ingest workers lease it without waiting for their next round). */
  onNewHost?: () => void
  /** The log's last seq (written with each host record as `streamSeq`); 0 without a stream. */
  streamSeq?: () => number
  /**
   * Follow the whole accounts bucket (serve frontends and `all`: listRepos,
   * getRepoStatus); false for ingest workers, which load the accounts of a
   * host when they take it over. Default true.
   */
  mirrorAccounts?: boolean
  /** What `host`'s messages after `afterSeq` vouch for (stream-states.ts); nothing is read without a stream. */
  streamStates?: (host: HostName, afterSeq: number) => Promise<HostStates>
  logLine: (message: string) => void
}

type Stopper = { stop(): void }
type Bucket = 'hosts' | 'accounts'

export class SharedState {
  readonly #options: SharedStateOptions
  readonly #kv: Record<Bucket, KV>
  readonly #js: JetStreamClient
  readonly #jsm: JetStreamManager
  /** The bucket's JSON of each host as last seen (watch or own write). */
  readonly #hostJson = new Map<HostName, string>()
  readonly #applied: Record<Bucket, number> = { hosts: 0, accounts: 0 }
  /** The last revision each watch delivered (a direct read may have applied more). */
  readonly #watched: Record<Bucket, number> = { hosts: 0, accounts: 0 }
  readonly #watchers: Partial<Record<Bucket, Stopper>> = {}
  /** Watched revision per bucket at the last watch check, and stalled checks in a row. */
  readonly #checked: Record<Bucket, { applied: number; stalled: number }> = { hosts: { applied: 0, stalled: 0 }, accounts: { applied: 0, stalled: 0 } }
  /** The buckets this process follows (hosts always; accounts unless `mirrorAccounts` is false). */
  readonly #followed: readonly Bucket[]
  #watchTimer: NodeJS.Timeout | null = null
  #closed = false
  readonly #writer: StateWriter
  /** States an ingest worker loaded from the bucket, until its next batch: not written back unchanged. */
  readonly #fromBucket = new Map<string, string>()
  /** Hosts being taken over now: the watch applies every state of them (see the header). */
  readonly #takingOver = new Set<HostName>()

  private constructor(options: SharedStateOptions, kv: Record<Bucket, KV>, js: { js: JetStreamClient; jsm: JetStreamManager }) {
    this.#options = options
    this.#kv = kv
    this.#js = js.js
    this.#jsm = js.jsm
    this.#followed = options.mirrorAccounts === false ? ['hosts'] : ['hosts', 'accounts']
    this.#writer = new StateWriter(kv, options.logLine)
  }

  static async open(nc: NatsConnection, options: SharedStateOptions): Promise<SharedState> {
    const kvm = new Kvm(nc)
    const opts = { history: 1, replicas: options.replicas, timeout: RELAY_CLUSTER_KV_TIMEOUT_MS }
    const hosts = await kvm.create(options.buckets.hosts, opts)
    const accounts = await kvm.create(options.buckets.accounts, opts)
    return new SharedState(options, { hosts, accounts }, { js: quickJetStream(nc), jsm: await jetstreamManager(nc) })
  }

  /** Follow both buckets; resolves once what they held at the start is applied (bounded). */
  async start(): Promise<void> {
    for (const bucket of this.#followed) await this.#watch(bucket, 0)
    this.#watchTimer = setInterval(() => void this.#checkWatches().catch(() => {}), RELAY_CLUSTER_WATCH_CHECK_MS)
    this.#watchTimer.unref()
    await this.catchUp()
  }

  /** Follow `bucket` from its last values (from 0) or from revision `from`. */
  async #watch(bucket: Bucket, from: number): Promise<void> {
    const iter = await this.#kv[bucket].watch(from === 0 ? {} : { resumeFromRevision: from })
    if (this.#closed) return iter.stop()
    this.#watchers[bucket] = iter
    void (async () => {
      for await (const entry of iter) {
        if (this.#watchers[bucket] !== iter) break // replaced (a stall): what it still had buffered is older
        this.#watched[bucket] = Math.max(this.#watched[bucket], entry.revision)
        this.#apply(bucket, { revision: entry.revision, key: entry.key, operation: entry.operation, value: entry.operation === 'PUT' ? entry.string() : '' })
      }
    })().catch((err: unknown) => this.#options.logLine(`relay cluster: ${bucket} watch ended: ${String(err)}`))
  }

  /**
   * A watch, like the log's live consumer, can stall silently after a NATS
   * node is lost: when a bucket holds revisions not applied, they are read
   * straight from its stream (bucket-pull.ts), and when the watch applied
   * nothing for RELAY_CLUSTER_WATCH_STALL_CHECKS checks, it is started again
   * from the next revision.
   */
  async #checkWatches(): Promise<void> {
    for (const bucket of this.#followed) {
      const last = (await this.#kv[bucket].status()).streamInfo.state.last_seq
      await this.#pull(bucket, last, RELAY_CLUSTER_WATCH_CHECK_MS)
      const seen = this.#checked[bucket]
      const watched = this.#watched[bucket]
      seen.stalled = last > watched && watched === seen.applied ? seen.stalled + 1 : 0
      seen.applied = watched
      if (seen.stalled < RELAY_CLUSTER_WATCH_STALL_CHECKS || this.#closed) continue
      seen.stalled = 0
      this.#watchers[bucket]?.stop()
      this.#options.logLine(`relay cluster: ${bucket} watch stalled at revision ${watched} of ${last}; watching again`)
      this.#watched[bucket] = this.#applied[bucket]
      await this.#watch(bucket, this.#applied[bucket] + 1)
    }
  }

  /**
   * Apply every revision the buckets hold now (read straight from their
   * streams when the watches have not delivered them): false when that took
   * over RELAY_CLUSTER_CATCH_UP_MS_MAX.
   */
  async catchUp(): Promise<boolean> {
    const deadline = Date.now() + RELAY_CLUSTER_CATCH_UP_MS_MAX
    for (const bucket of this.#followed) {
      const last = (await this.#kv[bucket].status()).streamInfo.state.last_seq
      while (this.#applied[bucket] < last) {
        await this.#pull(bucket, last, deadline - Date.now())
        if (this.#applied[bucket] >= last) break
        if (Date.now() > deadline) return false
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    return true
  }

  /** Read `bucket`'s revisions after the last applied one up to `upTo` from its stream (bounded by `ms`). */
  async #pull(bucket: Bucket, upTo: number, ms: number): Promise<void> {
    if (this.#applied[bucket] >= upTo || ms <= 0 || this.#closed) return
    const name = bucket === 'hosts' ? this.#options.buckets.hosts : this.#options.buckets.accounts
    await pullRevisions(this.#js, this.#jsm, { bucket: name, after: this.#applied[bucket], upTo, timeoutMs: ms }, (revision) => this.#apply(bucket, revision)).catch((err: unknown) => {
      this.#options.logLine(`relay cluster: reading the ${bucket} bucket's stream failed: ${String(err)}`)
    })
  }

  /** One revision, from the watch or a direct read: each is applied once, in revision order (older ones are skipped). */
  #apply(bucket: Bucket, entry: BucketRevision): void {
    if (entry.revision <= this.#applied[bucket]) return
    this.#applied[bucket] = entry.revision
    if (entry.operation !== 'PUT') return
    try {
      if (bucket === 'hosts') this.#applyHost(entry.value, false)
      else this.#applyAccount(entry.value)
    } catch (err) {
      this.#options.logLine(`relay cluster: bad ${bucket} entry ${entry.key}: ${String(err)}`)
    }
  }

  #applyHost(json: string, force: boolean): HostRecord | null {
    const { streamSeq: _, ...remote } = JSON.parse(json) as HostRecord & { streamSeq?: number }
    this.#hostJson.set(remote.hostname, JSON.stringify(remote))
    if (!force && this.#options.owns(remote.hostname)) return null
    const { hosts } = this.#options
    const known = hosts.get(remote.hostname)
    const local = known ?? hosts.add({ hostname: remote.hostname, secure: remote.secure }, { trusted: remote.trusted, nowIso: remote.addedAt })
    hosts.update(local, (r) => Object.assign(r, remote))
    this.#options.poke()
    if (known === undefined) this.#options.onNewHost?.()
    return local
  }

  #applyAccount(json: string): void {
    const remote = decodeAccountJson(json)
    const mine = this.#options.owns(remote.host) && !this.#takingOver.has(remote.host)
    if (mine && !isLaterRev(remote, this.#options.accounts.get(remote.did))) return
    this.#options.accounts.put(remote)
    this.#options.poke()
  }

  /**
   * Before following a newly leased host: the accounts are caught up with
   * the buckets, the local record is the bucket's (its cursor), and the
   * account states published for the host after the record's `streamSeq`
   * are read back from the stream (stream-states.ts). Resolves with the
   * record. Throws 'SharedStateBehind' when the watches did not catch up in
   * time, and the stream read's error when it failed or timed out: the
   * caller gives the lease back and tries again later.
   */
  async takeOver(host: HostName): Promise<HostRecord | undefined> {
    this.#takingOver.add(host)
    try {
      const mirrored = this.#followed.includes('accounts')
      // An ingest worker needs no mirror caught up: it reads this host's record and accounts directly.
      if (mirrored && !(await this.catchUp())) throw new AtfedError('SharedStateBehind', `the shared state is not caught up; not taking ${host} now`)
      if (!mirrored) {
        const keys = hostAccountsFilter(host)
        const loaded = await loadHostAccounts(this.#js, this.#jsm, { bucket: this.#options.buckets.accounts, keys, timeoutMs: RELAY_CLUSTER_HOST_LOAD_MS_MAX }, this.#options.accounts)
        for (const [did, json] of loaded) this.#fromBucket.set(did, json)
        if (loaded.size > 0) this.#options.poke()
      }
      const entry = await this.#kv.hosts.get(keyOf(host))
      const put = entry !== null && entry.operation === 'PUT' ? entry.string() : null
      const record = put === null ? this.#options.hosts.get(host) : (this.#applyHost(put, true) ?? undefined)
      const afterSeq = put === null ? 0 : ((JSON.parse(put) as { streamSeq?: number }).streamSeq ?? 0)
      const read = await this.#options.streamStates?.(host, afterSeq)
      if (read === undefined) return record
      const applied = applyStreamStates(read.states, this.#options.accounts)
      const cursor = read.cursor
      if (record !== undefined && cursor !== null && cursor > (record.cursor ?? -1)) this.#options.hosts.update(record, (r) => (r.cursor = cursor))
      if (applied > 0 || cursor !== null) {
        this.#options.logLine(`relay cluster: ${host}: read back from the stream after seq ${afterSeq}: ${applied} account states, cursor ${cursor ?? 'unchanged'}`)
        this.#options.poke()
      }
      return record
    } finally {
      this.#takingOver.delete(host)
    }
  }

  /**
   * Queue a sequencer batch's host records and account states this process
   * owns for the buckets (see the header); a promise only when too many
   * keys already wait (the sequencer waits on it).
   */
  mirror(ops: readonly RelayBatchOp[]): Promise<void> | null {
    const puts = ops.filter((op) => op.type === 'put')
    const prefixOf = (op: RelayBatchOp): string | undefined => (op as { sublevel?: { prefix?: string } }).sublevel?.prefix
    // Accounts first: the writer starts a round on the first key queued, and a round writes
    // the accounts queued before it ahead of its host records; a host record (its cursor)
    // queued before this batch's accounts could reach the bucket ahead of them.
    for (const op of puts) {
      if (prefixOf(op) !== this.#options.accounts.prefix) continue
      const value = op.value as string
      const { host } = JSON.parse(value) as { host: HostName }
      const loaded = this.#fromBucket.get(op.key as string)
      if (loaded !== undefined) this.#fromBucket.delete(op.key as string)
      if (this.#options.owns(host) && value !== loaded) this.#writer.enqueueAccount(accountKey(host, op.key as string), value)
    }
    for (const op of puts) if (prefixOf(op) === '!hosts!') this.#mirrorHost(op.key as HostName, op.value as string)
    return this.#writer.backpressure()
  }

  #mirrorHost(host: HostName, json: string): void {
    const known = this.#hostJson.get(host)
    if (known === json) return
    if (this.#options.owns(host)) {
      this.#hostJson.set(host, json)
      this.#writer.enqueueHost(keyOf(host), withStreamSeq(json, this.#options.streamSeq?.() ?? 0), 'put')
    } else if (known === undefined) {
      this.#hostJson.set(host, json)
      this.#writer.enqueueHost(keyOf(host), withStreamSeq(json, 0), 'create') // someone else was first: theirs stands
    }
  }

  /** Wait (at most `ms`) until every queued write reached the buckets. */
  drain(ms: number): Promise<boolean> {
    return this.#writer.drain(ms)
  }

  close(): void {
    this.#closed = true
    this.#writer.close()
    if (this.#watchTimer !== null) clearInterval(this.#watchTimer)
    for (const bucket of this.#followed) this.#watchers[bucket]?.stop()
  }
}

/** A host record's JSON as the bucket holds it: with the seq its account states cover (stream-states.ts). */
function withStreamSeq(json: string, streamSeq: number): string {
  return JSON.stringify({ ...(JSON.parse(json) as object), streamSeq })
}
