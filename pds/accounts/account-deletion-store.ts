/**
 * State of account deletion (account-deletion.ts):
 *   ['account-deletion', 'tokens']  DID → JSON {token, requestedAtMs}
 *       the token requestAccountDelete issued (one per account; a new
 *       request replaces it), valid PDS_DELETE_TOKEN_TTL_MS;
 *   ['account-deletion', 'pending'] DID → ''
 *       accounts whose rows are gone but whose repo blocks, record counts,
 *       commit index and blobs may not be purged yet (written in the
 *       deletion's batch, removed when the purge is done; a restart
 *       finishes what a crash interrupted).
 */
import type { AbstractSublevel } from 'abstract-level'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'

export type DeleteToken = { token: string; requestedAtMs: number }

type Json<V> = AbstractSublevel<RootDb, unknown, string, V>

export class DeletionStore {
  readonly #tokens: Json<DeleteToken>
  readonly #pending: Json<string>
  readonly #db: RootDb

  static async open(db: RootDb): Promise<DeletionStore> {
    const tokens = db.sublevel<string, DeleteToken>(['account-deletion', 'tokens'], { keyEncoding: 'utf8', valueEncoding: 'json' })
    const pending = db.sublevel<string, string>(['account-deletion', 'pending'], { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await Promise.all([tokens.open(), pending.open()])
    return new DeletionStore(db, tokens as Json<DeleteToken>, pending as Json<string>)
  }

  private constructor(db: RootDb, tokens: Json<DeleteToken>, pending: Json<string>) {
    this.#db = db
    this.#tokens = tokens
    this.#pending = pending
  }

  async putToken(did: Did, token: DeleteToken): Promise<void> {
    await this.#db.batch([{ type: 'put', sublevel: this.#tokens, key: did, value: token } as StoreBatchOp], { sync: true })
  }

  async getToken(did: Did): Promise<DeleteToken | null> {
    return (await this.#tokens.get(did)) ?? null
  }

  tokenDelOps(did: Did): StoreBatchOp[] {
    return [{ type: 'del', sublevel: this.#tokens, key: did } as StoreBatchOp]
  }

  pendingPutOps(did: Did): StoreBatchOp[] {
    return [{ type: 'put', sublevel: this.#pending, key: did, value: '' } as StoreBatchOp]
  }

  async pendingDone(did: Did): Promise<void> {
    await this.#db.batch([{ type: 'del', sublevel: this.#pending, key: did } as StoreBatchOp], { sync: true })
  }

  /** Accounts whose purge is not finished (iterated, not loaded at once). */
  pendingDids(): AsyncIterable<string> {
    return this.#pending.keys()
  }
}
