/**
 * Invite codes: the store, and claiming a use of a code at signup
 * (reference `account-manager/helpers/invite.ts`).
 *
 * Layout (sublevels of the PDS's one level db):
 *   ['invites', 'codes']      code → JSON {code, available, disabled, forAccount, createdBy, createdAt}
 *   ['invites', 'uses']       code 0x00 slot → JSON {usedBy, usedAt}
 *   ['invites', 'by-account'] forAccount 0x00 code → ''   (getAccountInviteCodes, admin views)
 *   ['invites', 'by-created'] createdAt 0x00 code → ''    (admin listing, newest first)
 *   ['invites', 'used-by']    DID → code                  (admin `invitedBy`)
 * `available` is the number of uses the code allows in all (the lexicon's
 * meaning), not the number left.
 *
 * Claiming (the tricky bit): a code with N uses has N SLOTS, `0 … N-1`; a
 * signup claims the lowest slot that is neither stored nor claimed by a
 * signup still in flight, and writes `uses/code 0x00 slot` in the signup's
 * own batch. `claimUseOps` is synchronous (it runs while createAccount
 * builds its batch, core `getSync` reads), so between two claims nothing
 * else runs: two concurrent signups can never take the same slot, and since
 * each writes a different key, batches landing in any order never overwrite
 * each other. An in-flight claim expires after PDS_INVITE_CLAIM_PENDING_MS:
 * by then its batch has landed (the slot is stored) or failed (the slot is
 * free again). Per code, a hint remembers the lowest slot that may be free,
 * so a claim does not rescan used slots (hints are a bounded LRU; a lost
 * one only costs a rescan). Single process only, like the rest of the PDS.
 */
import type { AbstractSublevel } from 'abstract-level'
import { AtfedError } from '../../core/errors.ts'
import { BoundedLru } from '../../core/crypto/key-cache.ts'
import { PDS_ACCOUNT_INVITE_CODES_MAX, PDS_INVITE_CLAIM_HINTS_MAX, PDS_INVITE_CLAIM_PENDING_MS } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'

export type InviteCodeRow = {
  code: string
  available: number
  disabled: boolean
  /** A DID, or `admin` for codes the admin made for nobody in particular. */
  forAccount: string
  createdBy: string
  createdAt: string
}

export type InviteUse = { usedBy: Did; usedAt: string }

type Json<V> = AbstractSublevel<RootDb, unknown, string, V>
type ClaimState = { pending: Map<number, number>; firstFree: number }

const SEP = '\u0000'

function unavailable(): AtfedError {
  return new AtfedError('InvalidInviteCode', 'Provided invite code not available')
}

function slotKey(code: string, slot: number): string {
  return `${code}${SEP}${String(slot).padStart(6, '0')}`
}

export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: `${prefix}${SEP}`, lt: `${prefix}\u0001` }
}

export class InviteStore {
  readonly codes: Json<InviteCodeRow>
  readonly uses: Json<InviteUse>
  readonly byAccount: Json<string>
  readonly byCreated: Json<string>
  readonly usedBy: Json<string>
  readonly #claims = new BoundedLru<string, ClaimState>(PDS_INVITE_CLAIM_HINTS_MAX)
  readonly #now: () => number

  static async open(db: RootDb, options: { now?: () => number } = {}): Promise<InviteStore> {
    const json = { keyEncoding: 'utf8', valueEncoding: 'json' } as const
    const text = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const
    const subs = [
      db.sublevel<string, InviteCodeRow>(['invites', 'codes'], json),
      db.sublevel<string, InviteUse>(['invites', 'uses'], json),
      db.sublevel<string, string>(['invites', 'by-account'], text),
      db.sublevel<string, string>(['invites', 'by-created'], text),
      db.sublevel<string, string>(['invites', 'used-by'], text),
    ] as const
    await Promise.all(subs.map((sub) => sub.open()))
    return new InviteStore(subs as unknown as [Json<InviteCodeRow>, Json<InviteUse>, Json<string>, Json<string>, Json<string>], options.now ?? Date.now)
  }

  private constructor(subs: [Json<InviteCodeRow>, Json<InviteUse>, Json<string>, Json<string>, Json<string>], now: () => number) {
    ;[this.codes, this.uses, this.byAccount, this.byCreated, this.usedBy] = subs
    this.#now = now
  }

  async get(code: string): Promise<InviteCodeRow | null> {
    return (await this.codes.get(code)) ?? null
  }

  /** Stores new codes (one durable batch). */
  async create(rows: readonly InviteCodeRow[]): Promise<void> {
    const ops = rows.flatMap((row) => [
      { type: 'put', sublevel: this.codes, key: row.code, value: row },
      { type: 'put', sublevel: this.byAccount, key: `${row.forAccount}${SEP}${row.code}`, value: '' },
      { type: 'put', sublevel: this.byCreated, key: `${row.createdAt}${SEP}${row.code}`, value: '' },
    ])
    await (this.codes.db as RootDb).batch(ops as StoreBatchOp[], { sync: true })
  }

  /** The stored uses of a code, in slot order. */
  async usesOf(row: Pick<InviteCodeRow, 'code' | 'available'>): Promise<InviteUse[]> {
    return this.uses.values({ ...prefixRange(row.code), limit: row.available }).all()
  }

  /** Uses stored plus claims in flight (the early check before a signup does its slow work). */
  async usedCount(row: Pick<InviteCodeRow, 'code' | 'available'>): Promise<number> {
    const stored = await this.uses.keys({ ...prefixRange(row.code), limit: row.available }).all()
    const storedSlots = new Set(stored.map((key) => Number(key.slice(key.indexOf(SEP) + 1))))
    const pending = [...this.#stateOf(row.code).pending.keys()].filter((slot) => !storedSlots.has(slot))
    return storedSlots.size + pending.length
  }

  /**
   * Claims a use of `code` for `did` (see the module header): the ops that
   * record it, for the signup's batch. Throws `InvalidInviteCode` when the
   * code is unknown, disabled or used up. Synchronous.
   */
  claimUseOps(code: string, did: Did): StoreBatchOp[] {
    const row = this.codes.getSync(code)
    if (row === undefined || row.disabled) throw unavailable()
    const state = this.#stateOf(code)
    for (let slot = state.firstFree; slot < row.available; slot++) {
      if (state.pending.has(slot) || this.uses.getSync(slotKey(code, slot)) !== undefined) continue
      state.pending.set(slot, this.#now() + PDS_INVITE_CLAIM_PENDING_MS)
      state.firstFree = slot + 1
      const use: InviteUse = { usedBy: did, usedAt: new Date(this.#now()).toISOString() }
      return [
        { type: 'put', sublevel: this.uses, key: slotKey(code, slot), value: use },
        { type: 'put', sublevel: this.usedBy, key: did, value: code },
      ] as StoreBatchOp[]
    }
    state.firstFree = row.available
    throw unavailable()
  }

  /** The claim state of `code`, with expired claims dropped (their slots may be free again). */
  #stateOf(code: string): ClaimState {
    let state = this.#claims.get(code)
    if (state === undefined) {
      state = { pending: new Map(), firstFree: 0 }
      this.#claims.set(code, state)
    }
    const now = this.#now()
    for (const [slot, expiresAtMs] of state.pending) {
      if (expiresAtMs > now) continue
      state.pending.delete(slot)
      state.firstFree = Math.min(state.firstFree, slot)
    }
    return state
  }

  /** Disables codes by name and every code made for the given accounts. Returns how many rows changed. */
  async disable(options: { codes: readonly string[]; accounts: readonly string[] }): Promise<number> {
    const names = new Set(options.codes)
    for (const account of options.accounts) {
      for (const key of await this.byAccount.keys({ ...prefixRange(account), limit: PDS_ACCOUNT_INVITE_CODES_MAX }).all()) names.add(key.slice(key.indexOf(SEP) + 1))
    }
    const list = [...names]
    const rows = list.length === 0 ? [] : await this.codes.getMany(list)
    const ops = rows.flatMap((row) =>
      row === undefined || row.disabled ? [] : [{ type: 'put', sublevel: this.codes, key: row.code, value: { ...row, disabled: true } }],
    )
    if (ops.length > 0) await (this.codes.db as RootDb).batch(ops as StoreBatchOp[], { sync: true })
    return ops.length
  }
}
