/**
 * Where a FirehoseConsumer keeps its cursor: the seq of the last upstream
 * event it handled, together with every event before it.
 *
 * `LevelCursorStore` keeps it under one key of a `level` sublevel, so a
 * handler that writes to the same database can put the cursor into its own
 * atomic batch (`putOp`): the event's effects and the cursor then land
 * together or not at all. `MemoryCursorStore` is for tests and for consumers
 * that start live every time.
 *
 * The value is a decimal string; anything else read back is `InvalidCursor`
 * (a corrupt store must not silently restart from zero or from live).
 */
import type { AbstractBatchPutOperation, AbstractSublevel } from 'abstract-level'
import type { Level } from 'level'
import { AtfedError, assert } from '../../core/errors.ts'
import { STREAM_SEQ_MAX } from '../../core/limits.ts'
import type { CursorStore } from './events.ts'

// Any `level` database with string keys (the feedgen's store).
type Db = Level<string, string>
type CursorSublevel = AbstractSublevel<Db, string | Buffer | Uint8Array, string, string>
export type CursorPutOp = AbstractBatchPutOperation<Db, string, string> & { sublevel: CursorSublevel }

const KEY = 'cursor'

function checkSeq(seq: number): void {
  assert(Number.isSafeInteger(seq) && seq >= 0 && seq <= STREAM_SEQ_MAX, `cursor out of range: ${seq}`)
}

export class MemoryCursorStore implements CursorStore {
  #seq: number | null
  /** Every value set, in order (tests check what was persisted when). */
  readonly history: number[] = []

  constructor(initial: number | null = null) {
    this.#seq = initial
  }

  async get(): Promise<number | null> {
    return this.#seq
  }

  async set(seq: number): Promise<void> {
    checkSeq(seq)
    this.#seq = seq
    this.history.push(seq)
  }
}

export class LevelCursorStore implements CursorStore {
  readonly #sub: CursorSublevel

  /** `name` is the sublevel (one per upstream stream when a db follows several). */
  constructor(db: Db, name = 'consumer') {
    this.#sub = db.sublevel<string, string>(name, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  }

  async get(): Promise<number | null> {
    const text = await this.#sub.get(KEY)
    if (text === undefined) return null
    const seq = Number(text)
    if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(seq) || seq > STREAM_SEQ_MAX) {
      throw new AtfedError('InvalidCursor', `stored cursor is not a seq: ${JSON.stringify(text.slice(0, 32))}`)
    }
    return seq
  }

  async set(seq: number): Promise<void> {
    checkSeq(seq)
    await this.#sub.put(KEY, String(seq))
  }

  /** The batch op that stores `seq`, for a handler's own `db.batch`. */
  putOp(seq: number): CursorPutOp {
    checkSeq(seq)
    return { type: 'put', sublevel: this.#sub, key: KEY, value: String(seq) }
  }
}
