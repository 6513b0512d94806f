/**
 * The admin's takedown reference per account (`updateSubjectStatus
 * {takedown: {applied: true, ref}}`), reported back by getSubjectStatus.
 * The account row's `status` is what every check reads; this only keeps the
 * free-text reference (a moderation ticket id, say) next to it.
 *
 * Storage: sublevel ['admin', 'takedowns'], key DID, value JSON `{ref, at}`.
 */
import type { AbstractSublevel } from 'abstract-level'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'

export type TakedownRow = { ref: string | null; at: string }

type JsonSublevel = AbstractSublevel<RootDb, unknown, string, TakedownRow>

export class TakedownStore {
  readonly #rows: JsonSublevel

  static async open(db: RootDb): Promise<TakedownStore> {
    const rows = db.sublevel<string, TakedownRow>(['admin', 'takedowns'], { keyEncoding: 'utf8', valueEncoding: 'json' })
    await rows.open()
    return new TakedownStore(rows as JsonSublevel)
  }

  private constructor(rows: JsonSublevel) {
    this.#rows = rows
  }

  async get(did: Did): Promise<TakedownRow | null> {
    return (await this.#rows.get(did)) ?? null
  }

  putOps(did: Did, ref: string | null): StoreBatchOp[] {
    return [{ type: 'put', sublevel: this.#rows, key: did, value: { ref, at: new Date().toISOString() } } as StoreBatchOp]
  }

  delOps(did: Did): StoreBatchOp[] {
    return [{ type: 'del', sublevel: this.#rows, key: did } as StoreBatchOp]
  }
}
