/**
 * What the relay knows about each account it has seen: its host, the rev,
 * commit CID and MST root (`data`) of the last commit it passed on, its local
 * status and the status its host last announced.
 *
 * Reads are synchronous (the ingest's in-order step must not yield): a
 * bounded in-memory map in front of the `state/accounts` sublevel (`getSync`).
 * Writes change the in-memory state at once and mark it dirty; the sequencer
 * stages dirty states into the same batch as the events they produced.
 * Entries that are dirty or in a batch being written are never evicted, so a
 * read can never see an older state from disk than the one already decided.
 *
 * Where the states sit in the key space matters: every sequencer batch
 * writes events and account states together, and a LevelDB table covers
 * the range from its smallest to its largest key. States that sorted
 * before the event log (the old `accounts` sublevel) made every new table
 * span all older events, so compaction kept rewriting the log (8.5x the
 * bytes flushed in a soak); after the log, new tables overlap only the
 * newest ones. `open` moves states from the old sublevel, in atomic
 * batches of RELAY_ACCOUNT_MOVE_BATCH_MAX (a key is always in exactly one
 * of the two; an interrupted move goes on at the next start).
 *
 * Status (account spec, indigo's model): `status` is ours: `active`,
 * `desynchronized` (a chain break; a resync is due) or `takendown`;
 * `upstream` is the host's last `#account` (`active`, a known status, or
 * `inactive` for active=false without one). The account is active when the
 * upstream says so and we have not taken it down; desynchronized accounts
 * stay active (spec: that status may come with active=true).
 */
import type { AbstractSublevel } from 'abstract-level'
import { RELAY_ACCOUNT_CACHE_ENTRIES_MAX, RELAY_ACCOUNT_MOVE_BATCH_MAX } from '../core/limits.ts'
import { parseCid } from '../core/data/cid.ts'
import type { CID } from '../core/data/cid.ts'
import { ACCOUNT_STATUSES } from '../core/stream/events.ts'
import type { AccountStatus } from '../core/stream/events.ts'
import type { Did } from '../core/syntax/did.ts'
import type { Tid } from '../core/syntax/tid.ts'
import type { HostName } from './hosts/host-name.ts'
import type { RelayBatchOp, RelayDb, StagedWrites } from './relay-db.ts'

export type LocalAccountStatus = 'active' | 'desynchronized' | 'takendown'
export type UpstreamAccountStatus = 'active' | AccountStatus | 'inactive'

export type AccountState = {
  readonly did: Did
  host: HostName
  /** Rev, commit and data of the last commit passed on; null before the first. */
  rev: Tid | null
  commit: CID | null
  data: CID | null
  status: LocalAccountStatus
  upstream: UpstreamAccountStatus
}

type StoredAccount = Omit<AccountState, 'commit' | 'data'> & { commit: string | null; data: string | null }
type Sublevel = AbstractSublevel<RelayDb, string | Buffer | Uint8Array, string, string>

export function isAccountActive(account: AccountState): boolean {
  return account.upstream === 'active' && account.status !== 'takendown'
}

/** The `status` field for events and getRepoStatus: null when plainly active. */
export function accountStatusField(account: AccountState): AccountStatus | null {
  if (account.status === 'takendown') return 'takendown'
  if (account.upstream !== 'active') return (ACCOUNT_STATUSES as readonly string[]).includes(account.upstream) ? (account.upstream as AccountStatus) : null
  return account.status === 'desynchronized' ? 'desynchronized' : null
}

/** The upstream status an `#account` event announces. */
export function upstreamStatusOf(active: boolean, status: AccountStatus | null): UpstreamAccountStatus {
  if (active) return 'active'
  return status ?? 'inactive'
}

function encode(account: AccountState): string {
  const stored: StoredAccount = { ...account, commit: account.commit?.toString() ?? null, data: account.data?.toString() ?? null }
  return JSON.stringify(stored)
}

function decode(json: string): AccountState {
  const stored = JSON.parse(json) as StoredAccount
  return {
    ...stored,
    commit: stored.commit === null ? null : parseCid(stored.commit),
    data: stored.data === null ? null : parseCid(stored.data),
  }
}

/** The stored JSON of an account state (also the relay cluster's KV value, relay/cluster/shared-state.ts). */
export { encode as encodeAccountJson, decode as decodeAccountJson }

/** The sublevel path of account states: it sorts after the event log (`events`), see the header. */
export const ACCOUNTS_SUBLEVEL = ['state', 'accounts'] as const
/** Where account states were kept before (sorting before the event log); moved out on open. */
export const OLD_ACCOUNTS_SUBLEVEL = 'accounts'

/** Move every state from the old sublevel into the new one. */
async function moveOldStates(db: RelayDb, to: Sublevel, batchMax: number): Promise<void> {
  const from = db.sublevel<string, string>(OLD_ACCOUNTS_SUBLEVEL, { valueEncoding: 'utf8' }) as unknown as Sublevel
  for (;;) {
    const entries = await from.iterator({ limit: batchMax }).all()
    if (entries.length === 0) return
    const ops: RelayBatchOp[] = []
    for (const [did, json] of entries) {
      ops.push({ type: 'put', sublevel: to, key: did, value: json } as RelayBatchOp)
      ops.push({ type: 'del', sublevel: from, key: did } as RelayBatchOp)
    }
    await db.batch(ops, { sync: true })
  }
}

export class AccountStore {
  readonly #sub: Sublevel
  readonly #entriesMax: number
  readonly #cache = new Map<Did, AccountState>()
  readonly #dirty = new Set<Did>()
  /** DIDs in batches being written, with how many such batches. */
  readonly #writing = new Map<Did, number>()

  private constructor(sub: Sublevel, entriesMax: number) {
    this.#sub = sub
    this.#entriesMax = entriesMax
  }

  static async open(db: RelayDb, options: { entriesMax?: number; moveBatchMax?: number } = {}): Promise<AccountStore> {
    const sub = db.sublevel<string, string>([...ACCOUNTS_SUBLEVEL], { valueEncoding: 'utf8' }) as unknown as Sublevel
    await sub.open()
    await moveOldStates(db, sub, options.moveBatchMax ?? RELAY_ACCOUNT_MOVE_BATCH_MAX)
    return new AccountStore(sub, options.entriesMax ?? RELAY_ACCOUNT_CACHE_ENTRIES_MAX)
  }

  /** The key prefix of this store's sublevel (the relay cluster tells account ops apart by it). */
  get prefix(): string {
    return this.#sub.prefix
  }

  get(did: Did): AccountState | null {
    const cached = this.#cache.get(did)
    if (cached !== undefined) {
      this.#cache.delete(did)
      this.#cache.set(did, cached)
      return cached
    }
    const json = this.#sub.getSync(did)
    if (json === undefined) return null
    const account = decode(json)
    this.#remember(account)
    return account
  }

  /** Record a new or changed state (the same object `get` returned, or a new one). */
  put(account: AccountState): void {
    if (this.#cache.get(account.did) !== account) this.#remember(account)
    this.#dirty.add(account.did)
  }

  get hasDirty(): boolean {
    return this.#dirty.size > 0
  }

  stage(): StagedWrites {
    const ops: RelayBatchOp[] = []
    const dids = [...this.#dirty]
    for (const did of dids) {
      const account = this.#cache.get(did)
      if (account === undefined) continue
      ops.push({ type: 'put', sublevel: this.#sub, key: did, value: encode(account) } as RelayBatchOp)
      this.#writing.set(did, (this.#writing.get(did) ?? 0) + 1)
    }
    this.#dirty.clear()
    const settled = (): void => {
      for (const did of dids) {
        const n = (this.#writing.get(did) ?? 1) - 1
        if (n <= 0) this.#writing.delete(did)
        else this.#writing.set(did, n)
      }
      this.#evict()
    }
    return { ops, settled }
  }

  /** Accounts in DID order after `after` (durable states, fresher in-memory ones win). */
  async page(after: string | null, limit: number): Promise<AccountState[]> {
    const range = after === null ? { limit } : { gt: after, limit }
    const out: AccountState[] = []
    for await (const [did, json] of this.#sub.iterator(range)) out.push(this.#cache.get(did as Did) ?? decode(json))
    return out
  }

  #remember(account: AccountState): void {
    this.#cache.delete(account.did)
    this.#cache.set(account.did, account)
    if (this.#cache.size > this.#entriesMax) this.#evict()
  }

  /** Drop least recently used entries that are neither dirty nor being written. */
  #evict(): void {
    let excess = this.#cache.size - this.#entriesMax
    if (excess <= 0) return
    for (const did of this.#cache.keys()) {
      if (excess <= 0) break
      if (this.#dirty.has(did) || this.#writing.has(did)) continue
      this.#cache.delete(did)
      excess--
    }
  }
}
