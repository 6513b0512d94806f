/**
 * What the PDS remembers between the requests of an account migration, in
 * two sublevels of its one level db:
 *   ['migration', 'plc-tokens']     DID → {token, expiresAtMs}: the PLC
 *       operation token of requestPlcOperationSignature (one per account; a
 *       new request replaces it; signPlcOperation consumes it);
 *   ['migration', 'import-pending'] DID → ISO time: an importRepo switched
 *       the repo head but has not yet rebuilt the record counts and written
 *       the re-signed commit. Put in the SAME batch as the head switch and
 *       deleted in the same batch as the re-signed commit, so after a crash
 *       it says exactly "this repo needs importing again"; activateAccount
 *       refuses while it is set.
 *
 * The reference emails the PLC token; there is no mail here, so the token
 * goes to the server log (routes/migration.ts) and, on a --dev server, to
 * an admin-only route. Tokens are `XXXXX-XXXXX` in upper-case base32, as
 * the reference's, compared in constant time, and expire after
 * PDS_PLC_TOKEN_TTL_MS.
 */
import { randomInt, timingSafeEqual } from 'node:crypto'
import type { AbstractSublevel } from 'abstract-level'
import { AtfedError } from '../../core/errors.ts'
import { PDS_PLC_TOKEN_TTL_MS } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'

type TokenRow = { token: string; expiresAtMs: number }
type JsonSublevel = AbstractSublevel<RootDb, unknown, string, unknown>
type TextSublevel = AbstractSublevel<RootDb, unknown, string, string>

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function newToken(): string {
  const chars = Array.from({ length: 10 }, () => BASE32[randomInt(BASE32.length)])
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`
}

function isTokenRow(row: unknown): row is TokenRow {
  const r = row as Partial<TokenRow> | undefined
  return typeof r?.token === 'string' && typeof r.expiresAtMs === 'number'
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a.toUpperCase(), 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

export class MigrationStore {
  readonly #db: RootDb
  readonly #tokens: JsonSublevel
  readonly #imports: TextSublevel
  readonly #now: () => number

  /** Sublevels open with the (already open) root db; nothing to await. */
  constructor(db: RootDb, options: { now?: () => number } = {}) {
    this.#db = db
    this.#tokens = db.sublevel<string, unknown>(['migration', 'plc-tokens'], { keyEncoding: 'utf8', valueEncoding: 'json' }) as JsonSublevel
    this.#imports = db.sublevel<string, string>(['migration', 'import-pending'], { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as TextSublevel
    this.#now = options.now ?? Date.now
  }

  /** A fresh PLC operation token for `did`, replacing any earlier one. */
  async issuePlcToken(did: Did): Promise<TokenRow> {
    const row: TokenRow = { token: newToken(), expiresAtMs: this.#now() + PDS_PLC_TOKEN_TTL_MS }
    await this.#db.batch([{ type: 'put', sublevel: this.#tokens, key: did, value: row }] as StoreBatchOp[], { sync: true })
    return row
  }

  /** The pending token (dev admin route); null when none or expired. */
  async peekPlcToken(did: Did): Promise<TokenRow | null> {
    const row = await this.#tokens.get(did)
    return isTokenRow(row) && row.expiresAtMs > this.#now() ? row : null
  }

  /**
   * Throws unless `given` is `did`'s pending token: none given →
   * `InvalidRequest`; none pending or a different one → `InvalidToken`;
   * expired → `ExpiredToken` (reference names, all 400).
   */
  async checkPlcToken(did: Did, given: unknown): Promise<void> {
    if (typeof given !== 'string' || given === '') {
      throw new AtfedError('InvalidRequest', 'email confirmation token required to sign PLC operations')
    }
    const row = await this.#tokens.get(did)
    if (!isTokenRow(row) || !sameToken(given, row.token)) throw new AtfedError('InvalidToken', 'Token is invalid')
    if (row.expiresAtMs <= this.#now()) throw new AtfedError('ExpiredToken', 'Token is expired')
  }

  /** Spend the token after a successful signature. */
  async consumePlcToken(did: Did): Promise<void> {
    await this.#db.batch([{ type: 'del', sublevel: this.#tokens, key: did }] as StoreBatchOp[], { sync: true })
  }

  async isImportPending(did: Did): Promise<boolean> {
    return (await this.#imports.get(did)) !== undefined
  }

  /** For the batch that switches the repo head to an imported commit. */
  importStartedOps(did: Did): StoreBatchOp[] {
    return [{ type: 'put', sublevel: this.#imports, key: did, value: new Date(this.#now()).toISOString() }] as StoreBatchOp[]
  }

  /** For the batch that stores the re-signed commit of a finished import. */
  importFinishedOps(did: Did): StoreBatchOp[] {
    return [{ type: 'del', sublevel: this.#imports, key: did }] as StoreBatchOp[]
  }
}
