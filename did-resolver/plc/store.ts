/**
 * The PLC directory's persistence, in one `level` database (JSON values).
 *
 * Keys (fixed-width decimal so lexical order is numeric order):
 * - `e!<seq:16>`       → StoredEntry (the op, its CID, createdAt, nullified)
 * - `d!<did>`          → seq[]: the DID's entries in acceptance order
 * - `t!<createdAt:16>` → seq: the /export index by acceptance time
 * - `m!head`           → { seq, createdAt } of the newest entry
 *
 * `append` writes the new entry, the DID's list, the time index, the head and
 * the `nullified: true` rewrites of forked-away entries in ONE batch: a crash
 * leaves either all of it or none. There is one writer (the directory's write
 * queue); reads never need a lock because a batch is atomic.
 *
 * Timestamps: `nextCreatedAt(now)` is strictly greater than every stored
 * createdAt (a clock that stalls or steps back gets +1 ms), so createdAt is
 * unique and increases with seq, and a time cursor can never skip or repeat
 * an entry. Entries are trusted on read: only validated ops are written.
 */
import { LEVEL_STORE_OPTIONS } from '../../core/level-options.ts'
import { Level } from 'level'
import { AtfedError, assert } from '../../core/errors.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PlcOp } from './operation.ts'
import type { LogEntry } from './validate.ts'

export type StoredEntry = LogEntry & { readonly seq: number }

type Head = { seq: number; createdAt: number }
type Value = StoredEntry | number[] | number | Head

const pad = (n: number) => String(n).padStart(16, '0')
const entryKey = (seq: number) => `e!${pad(seq)}`
const didKey = (did: string) => `d!${did}`
const timeKey = (createdAt: number) => `t!${pad(createdAt)}`
const HEAD_KEY = 'm!head'

export type NewEntry = { did: Did; operation: PlcOp; cid: string; createdAt: number }

export class PlcStore {
  private head: Head

  private constructor(
    private readonly db: Level<string, Value>,
    head: Head,
  ) {
    this.head = head
  }

  static async open(dataDir: string): Promise<PlcStore> {
    const db = new Level<string, Value>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'json', ...LEVEL_STORE_OPTIONS })
    try {
      await db.open()
    } catch (err) {
      throw new AtfedError('StoreUnavailable', `cannot open the PLC database in ${dataDir}`, { cause: err })
    }
    const head = ((await db.get(HEAD_KEY)) as Head | undefined) ?? { seq: 0, createdAt: 0 }
    return new PlcStore(db, head)
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  /** Newest seq (0 when empty). */
  get lastSeq(): number {
    return this.head.seq
  }

  /** A createdAt for the next entry: `nowMs`, or 1 ms after the newest stored one. */
  nextCreatedAt(nowMs: number): number {
    return Math.max(Math.floor(nowMs), this.head.createdAt + 1)
  }

  /** Every entry of `did`, nullified ones included, in acceptance order. */
  async auditLog(did: string): Promise<StoredEntry[]> {
    const seqs = (await this.db.get(didKey(did))) as number[] | undefined
    if (seqs === undefined) return []
    const entries = await this.db.getMany(seqs.map(entryKey))
    return entries.map((e, i) => {
      assert(e !== undefined, `PLC store: entry ${seqs[i]} of ${did} is missing`)
      return e as StoredEntry
    })
  }

  /**
   * Store `entry` after `log` (the DID's audit log as just read) and mark the
   * entries with CIDs in `nullify` as nullified, in one batch.
   */
  async append(log: readonly StoredEntry[], entry: NewEntry, nullify: readonly string[]): Promise<StoredEntry> {
    assert(entry.createdAt > this.head.createdAt, 'PLC store: createdAt must increase')
    const seq = this.head.seq + 1
    const stored: StoredEntry = { ...entry, nullified: false, seq }
    const head: Head = { seq, createdAt: entry.createdAt }
    const ops: { type: 'put'; key: string; value: Value }[] = [
      { type: 'put', key: entryKey(seq), value: stored },
      { type: 'put', key: didKey(entry.did), value: [...log.map((e) => e.seq), seq] },
      { type: 'put', key: timeKey(entry.createdAt), value: seq },
      { type: 'put', key: HEAD_KEY, value: head },
    ]
    for (const cid of nullify) {
      const old = log.find((e) => e.cid === cid)
      assert(old !== undefined && !old.nullified, 'PLC store: can only nullify active entries of the same DID')
      ops.push({ type: 'put', key: entryKey(old.seq), value: { ...old, nullified: true } })
    }
    await this.db.batch(ops, { sync: true })
    this.head = head
    return stored
  }

  /** Up to `count` entries accepted strictly after `afterMs` (all when null), oldest first. */
  async exportByTime(afterMs: number | null, count: number): Promise<StoredEntry[]> {
    // Stored createdAt values are >= 1, so "after" anything negative means "from the start".
    const range = afterMs === null || afterMs < 0 ? { gte: 't!' } : { gt: timeKey(Math.floor(afterMs)) }
    const seqs = (await this.db.values({ ...range, lt: 't"', limit: count }).all()) as number[]
    return this.entries(seqs)
  }

  /** Up to `count` entries with seq > `afterSeq`, in seq order. */
  async exportBySeq(afterSeq: number, count: number): Promise<StoredEntry[]> {
    const values = await this.db.values({ gt: entryKey(afterSeq), lt: 'e"', limit: count }).all()
    return values as StoredEntry[]
  }

  private async entries(seqs: readonly number[]): Promise<StoredEntry[]> {
    const found = await this.db.getMany(seqs.map(entryKey))
    return found.map((e, i) => {
      assert(e !== undefined, `PLC store: entry ${seqs[i]} is missing`)
      return e as StoredEntry
    })
  }
}
