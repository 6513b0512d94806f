/**
 * Password sessions: minting access/refresh token pairs and the server-side
 * refresh-token rows that make refresh tokens rotating and revocable.
 * Tokens themselves are core/crypto/session-jwt.ts (HS256, `at+jwt` /
 * `refresh+jwt`); this file owns their state.
 *
 * Rows: sublevel ['sessions', 'refresh'], key = jti, value = JSON
 * `{did, scope, appPassword, expiresAtMs, nextId}`; index
 * ['sessions', 'by-did'] key `DID 0x00 jti`, for revoking an account's
 * sessions (takedown, password change, app-password revocation).
 *
 * Rotation (reference `rotateRefreshToken`): refreshing with token T
 * - fails (null → the route answers 400 `ExpiredToken` "Token has been
 *   revoked") if T's row is gone or its (possibly shortened) expiry passed;
 * - otherwise shortens T's row to min(its expiry, now + REFRESH_JWT_GRACE_S)
 *   and fixes T's successor id `nextId` once, so a client that retries the
 *   same refresh within the grace window (a lost response, two tabs) gets a
 *   token with the SAME id instead of forking the session;
 * - mints a new pair whose refresh token has id `nextId` and stores its row.
 * Refreshes of one token are serialized (a per-jti lock). Expired rows of
 * the account are swept, a bounded number per refresh.
 */
import type { AbstractSublevel } from 'abstract-level'
import {
  createAccessToken,
  createRefreshToken,
  newRefreshTokenId,
  type AccessScope,
  type SessionSecret,
} from '../../core/crypto/session-jwt.ts'
import { PDS_REFRESH_TOKENS_SWEEP_MAX, REFRESH_JWT_GRACE_S, REFRESH_JWT_LIFETIME_S } from '../../core/limits.ts'
import { PRESENCE_TEXT } from '../../core/presence-value.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import { KeyedMutex } from '../mutex.ts'

export type RefreshRow = {
  did: Did
  /** Scope of the access tokens this session mints. */
  scope: AccessScope
  /** Name of the app password the session was opened with, or null. */
  appPassword: string | null
  expiresAtMs: number
  /** Id of the token that replaced this one; null until first rotated. */
  nextId: string | null
}

export type SessionTokens = { accessJwt: string; refreshJwt: string }

type JsonSublevel = AbstractSublevel<RootDb, unknown, string, RefreshRow>
type TextSublevel = AbstractSublevel<RootDb, unknown, string, string>

export type SessionStoreOptions = { secret: SessionSecret; serviceDid: Did; now?: () => number; graceMs?: number }

export class SessionStore {
  readonly #rows: JsonSublevel
  readonly #byDid: TextSublevel
  readonly #opts: SessionStoreOptions
  readonly #locks = new KeyedMutex({ waitersMax: 16, onFull: () => new Error('refresh already in progress') })

  static async open(db: RootDb, opts: SessionStoreOptions): Promise<SessionStore> {
    const rows = db.sublevel<string, RefreshRow>(['sessions', 'refresh'], { keyEncoding: 'utf8', valueEncoding: 'json' })
    const byDid = db.sublevel<string, string>(['sessions', 'by-did'], { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await Promise.all([rows.open(), byDid.open()])
    return new SessionStore(rows as JsonSublevel, byDid as TextSublevel, opts)
  }

  private constructor(rows: JsonSublevel, byDid: TextSublevel, opts: SessionStoreOptions) {
    this.#rows = rows
    this.#byDid = byDid
    this.#opts = opts
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)()
  }

  #mint(did: Did, scope: AccessScope, jti: string): SessionTokens & { refreshExpMs: number } {
    const base = { did, serviceDid: this.#opts.serviceDid, secret: this.#opts.secret, nowMs: this.#now() }
    const access = createAccessToken({ ...base, scope })
    const refresh = createRefreshToken({ ...base, jti })
    return { accessJwt: access.token, refreshJwt: refresh.token, refreshExpMs: refresh.claims.exp * 1000 }
  }

  #putOps(jti: string, row: RefreshRow): StoreBatchOp[] {
    return [
      { type: 'put', sublevel: this.#rows, key: jti, value: row },
      { type: 'put', sublevel: this.#byDid, key: `${row.did}\u0000${jti}`, value: PRESENCE_TEXT },
    ] as StoreBatchOp[]
  }

  #delOps(jti: string, did: Did): StoreBatchOp[] {
    return [
      { type: 'del', sublevel: this.#rows, key: jti },
      { type: 'del', sublevel: this.#byDid, key: `${did}\u0000${jti}` },
    ] as StoreBatchOp[]
  }

  /**
   * A new session: the token pair, and the batch ops storing its refresh row
   * (so createAccount can write them with the account).
   */
  openOps(did: Did, options: { scope?: AccessScope; appPassword?: string | null } = {}): SessionTokens & { ops: StoreBatchOp[] } {
    const jti = newRefreshTokenId()
    const scope = options.scope ?? 'com.atproto.access'
    const tokens = this.#mint(did, scope, jti)
    const row: RefreshRow = { did, scope, appPassword: options.appPassword ?? null, expiresAtMs: tokens.refreshExpMs, nextId: null }
    return { accessJwt: tokens.accessJwt, refreshJwt: tokens.refreshJwt, ops: this.#putOps(jti, row) }
  }

  async open(did: Did, options: { scope?: AccessScope; appPassword?: string | null } = {}): Promise<SessionTokens> {
    const { ops, ...tokens } = this.openOps(did, options)
    await this.#rows.db.batch(ops, { sync: true })
    return tokens
  }

  /** See the module header. Null when the token was revoked or its grace ran out. */
  rotate(jti: string): Promise<(SessionTokens & { did: Did }) | null> {
    return this.#locks.run(jti, async () => {
      const row = await this.#rows.get(jti)
      const now = this.#now()
      if (row === undefined || row.expiresAtMs <= now) return null
      const expiresAtMs = Math.min(row.expiresAtMs, now + (this.#opts.graceMs ?? REFRESH_JWT_GRACE_S * 1000))
      const nextId = row.nextId ?? newRefreshTokenId()
      const tokens = this.#mint(row.did, row.scope, nextId)
      const ops = [...(await this.#sweepOps(row.did, now, jti)), ...this.#putOps(jti, { ...row, expiresAtMs, nextId })]
      if ((await this.#rows.get(nextId)) === undefined) {
        ops.push(...this.#putOps(nextId, { ...row, expiresAtMs: Math.min(tokens.refreshExpMs, now + REFRESH_JWT_LIFETIME_S * 1000), nextId: null }))
      }
      await this.#rows.db.batch(ops, { sync: true })
      return { accessJwt: tokens.accessJwt, refreshJwt: tokens.refreshJwt, did: row.did }
    })
  }

  async #sweepOps(did: Did, now: number, keep: string): Promise<StoreBatchOp[]> {
    const prefix = `${did}\u0000`
    const keys = await this.#byDid.keys({ gte: prefix, lt: `${did}\u0001`, limit: PDS_REFRESH_TOKENS_SWEEP_MAX }).all()
    const jtis = keys.map((key) => key.slice(prefix.length)).filter((jti) => jti !== keep)
    const rows = jtis.length === 0 ? [] : await this.#rows.getMany(jtis)
    return jtis.flatMap((jti, i) => {
      const row = rows[i]
      return row === undefined || row.expiresAtMs <= now ? this.#delOps(jti, did) : []
    })
  }

  async get(jti: string): Promise<RefreshRow | null> {
    return (await this.#rows.get(jti)) ?? null
  }

  /** deleteSession: the token's row goes (idempotent). */
  async revoke(jti: string): Promise<void> {
    const row = await this.#rows.get(jti)
    if (row !== undefined) await this.#rows.db.batch(this.#delOps(jti, row.did), { sync: true })
  }

  /** Ops revoking every session of `did` (optionally only those of one app password). */
  async revokeAllOps(did: Did, options: { appPassword?: string } = {}): Promise<StoreBatchOp[]> {
    const prefix = `${did}\u0000`
    const keys = await this.#byDid.keys({ gte: prefix, lt: `${did}\u0001` }).all()
    const jtis = keys.map((key) => key.slice(prefix.length))
    const rows = jtis.length === 0 ? [] : await this.#rows.getMany(jtis)
    return jtis.flatMap((jti, i) => {
      const row = rows[i]
      if (options.appPassword !== undefined && row?.appPassword !== options.appPassword) return []
      return this.#delOps(jti, did)
    })
  }
}
