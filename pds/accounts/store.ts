/**
 * The account store: account rows and their unique indexes, in three
 * sublevels of the PDS's one level db:
 *   ['accounts', 'rows']    DID    → account JSON (account.ts)
 *   ['accounts', 'handles'] handle → DID
 *   ['accounts', 'emails']  email  → DID
 *
 * Writes are never done here: every method that changes an account returns
 * batch ops, so the caller puts the row, its index entries, the repo's first
 * commit and the firehose events into ONE atomic batch (createAccount,
 * updateHandle). Uniqueness across concurrent requests is the caller's job:
 * it checks inside `reserve`, which holds the handle and email in memory
 * from the check until the batch is written (signups wait on PLC in
 * between, so a lock would stall every other signup).
 */
import type { AbstractSublevel } from 'abstract-level'
import { AtfedError } from '../../core/errors.ts'
import { PDS_PENDING_SIGNUPS_MAX } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import { decodeAccount, type Account } from './account.ts'

type JsonSublevel = AbstractSublevel<RootDb, unknown, string, unknown>
type TextSublevel = AbstractSublevel<RootDb, unknown, string, string>

export type Reservation = { release(): void }

export class AccountStore {
  readonly #rows: JsonSublevel
  readonly #handles: TextSublevel
  readonly #emails: TextSublevel
  /** Handles and emails of signups in flight. */
  readonly #reserved = new Set<string>()

  static async open(db: RootDb): Promise<AccountStore> {
    const rows = db.sublevel<string, unknown>(['accounts', 'rows'], { keyEncoding: 'utf8', valueEncoding: 'json' })
    const handles = db.sublevel<string, string>(['accounts', 'handles'], { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    const emails = db.sublevel<string, string>(['accounts', 'emails'], { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await Promise.all([rows.open(), handles.open(), emails.open()])
    return new AccountStore(rows as JsonSublevel, handles as TextSublevel, emails as TextSublevel)
  }

  private constructor(rows: JsonSublevel, handles: TextSublevel, emails: TextSublevel) {
    this.#rows = rows
    this.#handles = handles
    this.#emails = emails
  }

  /** Async for callers' sake; reads with `getSync` (every request reads its account: no thread-pool round trip). */
  async get(did: Did): Promise<Account | null> {
    return this.getSync(did)
  }

  getSync(did: Did): Account | null {
    const row = this.#rows.getSync(did)
    return row === undefined ? null : decodeAccount(row)
  }

  async didForHandle(handle: Handle): Promise<Did | null> {
    return (this.#handles.getSync(handle) as Did | undefined) ?? null
  }

  async didForEmail(email: string): Promise<Did | null> {
    return (this.#emails.getSync(email.toLowerCase()) as Did | undefined) ?? null
  }

  async getByHandle(handle: Handle): Promise<Account | null> {
    const did = await this.didForHandle(handle)
    return did === null ? null : this.get(did)
  }

  async getByEmail(email: string): Promise<Account | null> {
    const did = await this.didForEmail(email)
    return did === null ? null : this.get(did)
  }

  /** Accounts in DID order after `after` (exclusive): listRepos, admin listings. */
  async list(options: { after?: string; limit: number }): Promise<Account[]> {
    const range = options.after === undefined ? {} : { gt: options.after }
    const rows = await this.#rows.values({ ...range, limit: options.limit }).all()
    return rows.map(decodeAccount)
  }

  /**
   * Holds `handle` (and `email`) for a signup or handle change in flight.
   * Throws `HandleNotAvailable` (or `InvalidRequest` for an email, as the reference) when one is taken or
   * already held; release it once the batch is written (or failed).
   */
  async reserve(handle: Handle, email: string | null): Promise<Reservation> {
    const keys = [`h:${handle}`, ...(email === null ? [] : [`e:${email}`])]
    if (this.#reserved.size >= PDS_PENDING_SIGNUPS_MAX) {
      throw new AtfedError('NotEnoughResources', 'too many signups in progress, try again')
    }
    if (keys.some((key) => this.#reserved.has(key)) || (await this.didForHandle(handle)) !== null) {
      throw new AtfedError('HandleNotAvailable', `Handle already taken: ${handle}`)
    }
    if (email !== null && (await this.didForEmail(email)) !== null) {
      throw new AtfedError('InvalidRequest', `Email already taken: ${email}`)
    }
    // Re-check after the awaits: another request may have reserved meanwhile.
    if (keys.some((key) => this.#reserved.has(key))) throw new AtfedError('HandleNotAvailable', `Handle already taken: ${handle}`)
    for (const key of keys) this.#reserved.add(key)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        for (const key of keys) this.#reserved.delete(key)
      },
    }
  }

  /** Ops for a new account: row, handle index, email index. */
  createOps(account: Account): StoreBatchOp[] {
    const ops: StoreBatchOp[] = [
      { type: 'put', sublevel: this.#rows, key: account.did, value: account },
      { type: 'put', sublevel: this.#handles, key: account.handle, value: account.did },
    ]
    if (account.email !== null) ops.push({ type: 'put', sublevel: this.#emails, key: account.email, value: account.did })
    return ops as StoreBatchOp[]
  }

  /** Ops to rewrite a row whose indexed fields did not change. */
  putOps(account: Account): StoreBatchOp[] {
    return [{ type: 'put', sublevel: this.#rows, key: account.did, value: account }] as StoreBatchOp[]
  }

  /** Ops to move `account` to `handle` (row and index). */
  updateHandleOps(account: Account, handle: Handle): StoreBatchOp[] {
    if (account.handle === handle) return []
    return [
      { type: 'del', sublevel: this.#handles, key: account.handle },
      { type: 'put', sublevel: this.#handles, key: handle, value: account.did },
      { type: 'put', sublevel: this.#rows, key: account.did, value: { ...account, handle } },
    ] as StoreBatchOp[]
  }

  /** Ops to remove the row and both index entries (account deletion). */
  deleteOps(account: Account): StoreBatchOp[] {
    const ops: StoreBatchOp[] = [
      { type: 'del', sublevel: this.#rows, key: account.did },
      { type: 'del', sublevel: this.#handles, key: account.handle },
    ] as StoreBatchOp[]
    if (account.email !== null) ops.push({ type: 'del', sublevel: this.#emails, key: account.email } as StoreBatchOp)
    return ops
  }
}
