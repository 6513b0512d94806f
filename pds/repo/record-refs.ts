/**
 * How many paths of a repo point at each record block.
 *
 * Blocks are stored once per (DID, CID), and two records with identical
 * content share one block. So when a commit deletes or replaces a record,
 * its block may go only if no other path still uses it; the pure write
 * (core/repo/writes.ts) cannot know that, so the PDS passes
 * `keepRecordBlock: () => true` and asks `plan` instead, which turns the
 * commit's ops into count changes (create +1 on `cid`, update +1/-1,
 * delete -1 on `prev`) and returns the blocks whose count reaches zero.
 * The count changes go into the commit's batch, so counts and blocks never
 * disagree after a crash.
 *
 * Layout: sublevel ['repo', 'record-refs'], key = DID ‖ 0x00 ‖ CID (the
 * block store's key shape, so one account's counts are one range), value =
 * decimal count. A zero count is a deleted key.
 *
 * Must be called with the repo's write lock held (writes.ts). A repo loaded
 * some other way (import) sets its counts with `rebuildOps` first.
 */
import type { AbstractSublevel } from 'abstract-level'
import type { CID } from '../../core/data/cid.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { RepoOp } from '../../core/repo/operation.ts'
import { blockKey, blockKeyPrefix, blockKeyRange } from '../../core/repo/store/keys.ts'
import type { Did } from '../../core/syntax/did.ts'

type RefSublevel = AbstractSublevel<RootDb, unknown, Uint8Array, string>

export type RefPlan = {
  /** Count updates for the commit's batch. */
  batchOps: StoreBatchOp[]
  /** Record blocks no path uses after the commit: remove them in the same batch. */
  unreferenced: CID[]
  /** The count of each changed block after the commit, keyed by `cid.toString()` (0 = gone). */
  counts: Map<string, number>
}

export type PlanOptions = {
  /**
   * Counts written by earlier commits of this repo that are not durable yet
   * (keyed by `cid.toString()`); they override the stored counts.
   */
  pending?: ReadonlyMap<string, number>
}

export class RecordRefs {
  readonly #refs: RefSublevel

  static async open(db: RootDb): Promise<RecordRefs> {
    const refs = db.sublevel<Uint8Array, string>(['repo', 'record-refs'], { keyEncoding: 'view', valueEncoding: 'utf8' })
    await refs.open()
    return new RecordRefs(refs as RefSublevel)
  }

  private constructor(refs: RefSublevel) {
    this.#refs = refs
  }

  async count(did: Did, cid: CID): Promise<number> {
    const value = await this.#refs.get(blockKey(blockKeyPrefix(did), cid))
    return value === undefined ? 0 : Number(value)
  }

  async plan(did: Did, ops: readonly RepoOp[], options: PlanOptions = {}): Promise<RefPlan> {
    const deltas = new Map<string, { cid: CID; delta: number }>()
    const bump = (cid: CID, by: number) => {
      const key = cid.toString()
      const entry = deltas.get(key) ?? { cid, delta: 0 }
      entry.delta += by
      deltas.set(key, entry)
    }
    for (const op of ops) {
      if (op.cid !== null) bump(op.cid, 1)
      if (op.prev !== null) bump(op.prev, -1)
    }
    const prefix = blockKeyPrefix(did)
    const changed = [...deltas.values()].filter((entry) => entry.delta !== 0)
    const keys = changed.map((entry) => blockKey(prefix, entry.cid))
    // Synchronous point reads: one or two keys per commit, cheaper than a thread-pool round trip.
    const current = keys.map((key) => this.#refs.getSync(key))
    const batchOps: StoreBatchOp[] = []
    const unreferenced: CID[] = []
    const counts = new Map<string, number>()
    changed.forEach((entry, i) => {
      const key = keys[i] as Uint8Array
      const pending = options.pending?.get(entry.cid.toString())
      const next = Math.max(0, (pending ?? Number(current[i] ?? '0')) + entry.delta)
      counts.set(entry.cid.toString(), next)
      if (next > 0) {
        batchOps.push({ type: 'put', sublevel: this.#refs, key, value: String(next) } as StoreBatchOp)
        return
      }
      batchOps.push({ type: 'del', sublevel: this.#refs, key } as StoreBatchOp)
      if (entry.delta < 0) unreferenced.push(entry.cid)
    })
    return { batchOps, unreferenced, counts }
  }

  /** Put ops setting the counts of a whole repo from its leaves (after an import; clear first). */
  rebuildOps(did: Did, leafCids: Iterable<CID>): StoreBatchOp[] {
    const counts = new Map<string, { cid: CID; n: number }>()
    for (const cid of leafCids) {
      const entry = counts.get(cid.toString()) ?? { cid, n: 0 }
      entry.n++
      counts.set(cid.toString(), entry)
    }
    const prefix = blockKeyPrefix(did)
    return [...counts.values()].map(
      ({ cid, n }) => ({ type: 'put', sublevel: this.#refs, key: blockKey(prefix, cid), value: String(n) }) as StoreBatchOp,
    )
  }

  /** Remove every count of one repo (account deletion, before an import). */
  async clear(did: Did): Promise<void> {
    await this.#refs.clear(blockKeyRange(blockKeyPrefix(did)))
  }
}
