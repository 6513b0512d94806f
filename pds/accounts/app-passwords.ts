/**
 * App passwords (reference `account-manager/helpers/password.ts`): extra
 * passwords an account hands to third-party apps. A login with one gets a
 * session of scope `com.atproto.appPass` (`appPassPrivileged` when created
 * `privileged`), which full-access routes refuse (auth/verifier.ts
 * `scopes: 'full'`).
 *
 * Storage: sublevel ['app-passwords'], key `DID 0x00 name`, value JSON
 * `{name, hash, privileged, createdAt}`. One account's passwords are one
 * range, at most PDS_APP_PASSWORDS_PER_ACCOUNT_MAX of them.
 *
 * Hash: scrypt (N=16384, r=8, p=1, 64-byte key) with a salt DERIVED from the
 * DID, the first 16 bytes of sha256(DID) as hex, used as the salt string, in
 * the reference's `salt:hash` format. A deterministic salt lets a login hash
 * the candidate once and compare it with every stored hash (constant time),
 * instead of one scrypt per stored password. Candidates that do not have the
 * generated shape `xxxx-xxxx-xxxx-xxxx` are refused without hashing.
 *
 * The password itself (16 base32 characters, 80 bits) is returned once, by
 * `create`, and never stored. Revoking one deletes its row and, in the same
 * batch, the refresh tokens of the sessions opened with it; access tokens
 * already out stay valid until they expire (≤ 2 h), as in the reference.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import type { AbstractSublevel } from 'abstract-level'
import { AtfedError } from '../../core/errors.ts'
import { sha256 } from '../../core/data/cid.ts'
import type { AccessScope } from '../../core/crypto/session-jwt.ts'
import { PDS_APP_PASSWORD_NAME_LENGTH_MAX, PDS_APP_PASSWORDS_PER_ACCOUNT_MAX, PDS_SCRYPT_KEY_BYTES } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Account } from './account.ts'

type Row = { name: string; hash: string; privileged: boolean; createdAt: string }
type JsonSublevel = AbstractSublevel<RootDb, unknown, string, Row>

export type AppPasswordView = { name: string; createdAt: string; privileged: boolean }
export type CreatedAppPassword = AppPasswordView & { password: string }

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
const SHAPE = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/

/** 16 random base32 characters as `xxxx-xxxx-xxxx-xxxx`. */
export function generateAppPassword(): string {
  const bytes = randomBytes(16)
  const chars = Array.from(bytes, (byte) => BASE32[byte & 31])
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join('')).join('-')
}

function appPasswordSalt(did: Did): string {
  return Buffer.from(sha256(new TextEncoder().encode(did)).subarray(0, 16)).toString('hex')
}

/** `salt:hash` of an app password of `did` (the reference's `hashAppPassword`). */
export function hashAppPassword(did: Did, password: string): Promise<string> {
  const salt = appPasswordSalt(did)
  return new Promise((resolve, reject) => {
    scrypt(password, salt, PDS_SCRYPT_KEY_BYTES, (err, key) => (err ? reject(err) : resolve(`${salt}:${key.toString('hex')}`)))
  })
}

function rowKey(did: Did, name: string): string {
  return `${did}\u0000${name}`
}

function didRange(did: Did): { gte: string; lt: string } {
  return { gte: `${did}\u0000`, lt: `${did}\u0001` }
}

export function checkAppPasswordName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new AtfedError('InvalidRequest', 'an app password needs a name')
  if (name.length > PDS_APP_PASSWORD_NAME_LENGTH_MAX) {
    throw new AtfedError('InvalidRequest', `app password names are at most ${PDS_APP_PASSWORD_NAME_LENGTH_MAX} characters`)
  }
  return name
}

export class AppPasswordStore {
  readonly #rows: JsonSublevel

  static async open(db: RootDb): Promise<AppPasswordStore> {
    const rows = db.sublevel<string, Row>(['app-passwords'], { keyEncoding: 'utf8', valueEncoding: 'json' })
    await rows.open()
    return new AppPasswordStore(rows as JsonSublevel)
  }

  private constructor(rows: JsonSublevel) {
    this.#rows = rows
  }

  async #rowsOf(did: Did): Promise<Row[]> {
    return this.#rows.values({ ...didRange(did), limit: PDS_APP_PASSWORDS_PER_ACCOUNT_MAX + 1 }).all()
  }

  /** A new app password; `InvalidRequest` when the name is taken or the account has too many. */
  async create(did: Did, input: { name: unknown; privileged?: unknown }): Promise<CreatedAppPassword> {
    const name = checkAppPasswordName(input.name)
    const rows = await this.#rowsOf(did)
    if (rows.some((row) => row.name === name)) throw new AtfedError('InvalidRequest', `an app password named "${name}" already exists`)
    if (rows.length >= PDS_APP_PASSWORDS_PER_ACCOUNT_MAX) {
      throw new AtfedError('InvalidRequest', `an account may hold at most ${PDS_APP_PASSWORDS_PER_ACCOUNT_MAX} app passwords`)
    }
    const password = generateAppPassword()
    const row: Row = { name, hash: await hashAppPassword(did, password), privileged: input.privileged === true, createdAt: new Date().toISOString() }
    await (this.#rows.db as RootDb).batch([{ type: 'put', sublevel: this.#rows, key: rowKey(did, name), value: row } as StoreBatchOp], { sync: true })
    return { name, password, createdAt: row.createdAt, privileged: row.privileged }
  }

  /** Newest first, as the reference lists them. */
  async list(did: Did): Promise<AppPasswordView[]> {
    const rows = await this.#rowsOf(did)
    rows.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
    return rows.map(({ name, createdAt, privileged }) => ({ name, createdAt, privileged }))
  }

  /** Ops deleting one app password (none if there is no such name). */
  async revokeOps(did: Did, name: string): Promise<StoreBatchOp[]> {
    const key = rowKey(did, name)
    if ((await this.#rows.get(key)) === undefined) return []
    return [{ type: 'del', sublevel: this.#rows, key } as StoreBatchOp]
  }

  /** Ops deleting every app password of `did` (account deletion). */
  async deleteAllOps(did: Did): Promise<StoreBatchOp[]> {
    const keys = await this.#rows.keys({ ...didRange(did), limit: PDS_APP_PASSWORDS_PER_ACCOUNT_MAX + 1 }).all()
    return keys.map((key) => ({ type: 'del', sublevel: this.#rows, key }) as StoreBatchOp)
  }

  /** The login hook (auth/login.ts `AppPasswordCheck`): the scope and name when `password` is one of `account`'s. */
  async check(account: Pick<Account, 'did'>, password: string): Promise<{ scope: AccessScope; name: string } | null> {
    if (!SHAPE.test(password)) return null
    const rows = await this.#rowsOf(account.did)
    if (rows.length === 0) return null
    const candidate = Buffer.from(await hashAppPassword(account.did, password))
    let found: Row | null = null
    for (const row of rows) {
      const stored = Buffer.from(row.hash)
      if (stored.length === candidate.length && timingSafeEqual(stored, candidate)) found = row
    }
    if (found === null) return null
    return { scope: found.privileged ? 'com.atproto.appPassPrivileged' : 'com.atproto.appPass', name: found.name }
  }
}
