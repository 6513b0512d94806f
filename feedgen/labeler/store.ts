/**
 * The labeler's storage: one `level` database in `<data>/labels.db` with
 * - the label log (core/stream LevelEventLog, name `labels`): every label
 *   ever emitted, one `#labels {seq, labels: [label]}` frame per label, in
 *   seq order — what subscribeLabels replays from any cursor (never trimmed:
 *   label history is small and the spec allows a backfill from cursor 0);
 * - the current index (label-index.ts): the latest label per
 *   (uri, src, val), negations included — what queryLabels reads and what
 *   rule idempotency checks;
 * - the firehose cursor (consumer/cursor-store.ts, sublevel `consumer`).
 * All three change only through the LabelWriter (label-writer.ts), in one
 * batch per group of writes.
 *
 * Negation and expiry are applied when reading: a negated entry or one whose
 * `exp` has passed stays in the index (it remembers the negation) but is
 * never returned by queryLabels; the log keeps every label, and subscribers
 * apply `neg`/`exp` themselves, as the spec says.
 */
import { LEVEL_STORE_OPTIONS } from '../../core/level-options.ts'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { decodeCbor } from '../../core/data/cbor.ts'
import { assert } from '../../core/errors.ts'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import { LevelCursorStore } from '../consumer/cursor-store.ts'
import type { SignedLabel } from './label.ts'
import type { KeyRange } from './label-index.ts'
import { indexKey } from './label-index.ts'
import { LabelWriter } from './label-writer.ts'
import type { LabelWrite, WriteOptions, WriteResult } from './label-writer.ts'

export type LabelDb = Level<string, string>
type IndexSublevel = ReturnType<LabelDb['sublevel']>

export type LabelStoreOptions = {
  /** fsync every batch (default true; benchmarks may turn it off). */
  sync?: boolean
  now?: () => number
}

export type IndexEntry = { readonly key: Uint8Array; readonly label: SignedLabel }

const BINARY = { keyEncoding: 'view', valueEncoding: 'view' } as const
/** Index entries read per database call while scanning. */
const SCAN_CHUNK = 64

export class LabelStore {
  readonly db: LabelDb
  readonly log: LevelEventLog
  readonly cursor: LevelCursorStore
  readonly #index: IndexSublevel
  readonly #writer: LabelWriter

  private constructor(db: LabelDb, log: LevelEventLog, options: LabelStoreOptions) {
    this.db = db
    this.log = log
    this.cursor = new LevelCursorStore(db, 'consumer')
    this.#index = db.sublevel<Uint8Array, Uint8Array>('current', BINARY) as unknown as IndexSublevel
    this.#writer = new LabelWriter({
      db: db as never,
      readCurrent: (key) => this.#read(key),
      indexSublevel: this.#index,
      log,
      cursorStore: this.cursor,
      now: options.now ?? Date.now,
      sync: options.sync ?? true,
    })
  }

  static async open(dataDir: string, options: LabelStoreOptions = {}): Promise<LabelStore> {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const db = new Level<string, string>(join(dataDir, 'labels.db'), { keyEncoding: 'utf8', valueEncoding: 'utf8', ...LEVEL_STORE_OPTIONS })
    await db.open()
    const log = await LevelEventLog.open(db, { name: 'labels', ...(options.now === undefined ? {} : { now: options.now }) })
    return new LabelStore(db, log, options)
  }

  /** Queue writes (see label-writer.ts for conditions, batching and the cursor). */
  write(writes: readonly LabelWrite[], options?: WriteOptions): Promise<WriteResult> {
    return this.#writer.write(writes, options)
  }

  /** The latest label for (uri, src, val), negated or expired ones included; null when none was ever written. */
  current(uri: string, src: string, val: string): Promise<SignedLabel | null> {
    return this.#read(indexKey(uri, src, val))
  }

  async #read(key: Uint8Array): Promise<SignedLabel | null> {
    const bytes = (await this.#index.get(key as never)) as Uint8Array | undefined
    return bytes === undefined ? null : decodeStored(bytes)
  }

  /** Index entries with keys in `range` and after `after` (exclusive), in key order, at most `limit`. */
  async *scan(range: KeyRange, options: { after: Uint8Array | null; limit: number }): AsyncGenerator<IndexEntry, void, undefined> {
    if (options.limit <= 0) return
    const bounds = options.after !== null && Buffer.compare(options.after, range.gte) >= 0 ? { gt: options.after, lt: range.lt } : range
    const iterator = this.#index.iterator({ ...bounds, limit: options.limit } as never)
    try {
      for (;;) {
        // nextv: one call into the database per chunk instead of one per entry.
        // It may return fewer than asked with more to come; only an empty chunk ends the range.
        const entries = (await iterator.nextv(SCAN_CHUNK)) as Array<[Uint8Array, Uint8Array]>
        if (entries.length === 0) return
        for (const [key, value] of entries) yield { key, label: decodeStored(value) }
      }
    } finally {
      await iterator.close()
    }
  }

  /** Wait for queued writes, stop the log, close the database. */
  async close(): Promise<void> {
    await this.#writer.idle()
    await this.log.close()
    await this.db.close()
  }
}

/**
 * Index values are labels the writer stored after every field was checked
 * (emitter.ts), so reading them back trusts the fields and checks only the
 * shape (the strict reader's CID, at-uri and datetime parses were a third of
 * a 250-label queryLabels page); a corrupt value still fails in the CBOR
 * decoder or here.
 */
function decodeStored(bytes: Uint8Array): SignedLabel {
  const value = decodeCbor(bytes) as { [key: string]: unknown }
  assert(
    value !== null && typeof value === 'object' && value.ver === 1 && typeof value.src === 'string' && typeof value.uri === 'string' &&
      typeof value.val === 'string' && typeof value.cts === 'string' && value.sig instanceof Uint8Array,
    'a stored label has an unexpected shape',
  )
  return value as unknown as SignedLabel
}
