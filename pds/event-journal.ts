/**
 * The PDS's firehose events live in their own LevelDB (`<data>/events`),
 * beside the repo database (`<data>/db`), and are written AHEAD of the
 * changes they announce.
 *
 * Why two databases: events are append-only and big (a create's #commit is
 * ~3.6 KB); mixed with CID-keyed blocks in one database every LevelDB table
 * spans the whole key range, so each compaction rewrote the event log again
 * (7.6x write amplification in an 8-minute soak, LevelDB's compaction
 * thread ~0.3 ms per write and growing with the log). Alone, their tables
 * never overlap and move down the levels without being rewritten.
 *
 * The rule that keeps a change and its event together across a crash:
 * 1. the group commit (commit-queue.ts) writes a group's events to the
 *    event database first (durable),
 * 2. then the repo batch, which also records `acked` = the group's highest
 *    seq (`ackOp`);
 * 3. on open, events above the recorded `acked` are deleted (their change
 *    never became durable; they were never published) and their seqs are
 *    given again (LevelEventLog `writeAhead`).
 * A repo batch that fails has its group's events deleted (`undoOps`, awaited)
 * before their seqs are settled, so nothing reads them; groups are written
 * one at a time, so every event at or below `acked` belongs to a durable
 * change.
 *
 * A data directory from before the split keeps its events in the repo
 * database: on open they are moved (core/stream/event-log-move.ts), once,
 * with `acked` raised to their highest seq before the first one moves.
 */
import { join } from 'node:path'
import { binaryStoreDb, type RootDb, type StoreBatchOp } from '../core/repo/block-store.ts'
import type { EventLogDb, PendingAppend } from '../core/stream/event-log.ts'
import { decodeMeta, encodeMeta } from '../core/stream/event-log-keys.ts'
import { LevelEventLog } from '../core/stream/event-log-level.ts'
import { moveLevelEventLog } from '../core/stream/event-log-move.ts'

export const EVENT_DB_DIR = 'events'
const ACKED_KEY = 'acked'

type AckSublevel = ReturnType<RootDb['sublevel']>

export class EventJournal {
  /** The event database. */
  readonly db: RootDb
  readonly log: LevelEventLog
  readonly #acks: AckSublevel

  private constructor(db: RootDb, log: LevelEventLog, acks: AckSublevel) {
    this.db = db
    this.log = log
    this.#acks = acks
  }

  /** Opens `<dataDir>/events`, moves events left in `repoDb`, drops the unacknowledged ones. */
  static async open(dataDir: string, repoDb: RootDb, options: { now?: () => number } = {}): Promise<EventJournal> {
    const db = binaryStoreDb(join(dataDir, EVENT_DB_DIR))
    await db.open()
    try {
      const acks = ackSublevel(repoDb)
      const moved = await moveLevelEventLog(repoDb as EventLogDb, db as EventLogDb, {
        beforeMove: async (highSeq) => {
          if (highSeq > (await readAckedSeq(repoDb))) await repoDb.batch([ackOp(acks, highSeq)], { sync: true })
        },
      })
      if (moved > 0) console.log(`pds: moved ${moved} firehose events from ${join(dataDir, 'db')} to ${join(dataDir, EVENT_DB_DIR)}`)
      const log = await LevelEventLog.open(db as EventLogDb, {
        writeAhead: { acknowledged: await readAckedSeq(repoDb) },
        ...(options.now === undefined ? {} : { now: options.now }),
      })
      if (log.droppedOnOpen > 0) {
        console.log(`pds: dropped ${log.droppedOnOpen} firehose events written ahead of changes that did not land (stopped between the two writes); seqs from ${log.lastSeq() + 1} are given again`)
      }
      return new EventJournal(db, log, acks)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  /** The repo-batch op recording that every event through `seq` belongs to a durable change. */
  ackOp(seq: number): StoreBatchOp {
    return ackOp(this.#acks, seq)
  }

  /** Deletes (on the event database) of the events `appends` wrote ahead. */
  undoOps(appends: readonly PendingAppend[]): StoreBatchOp[] {
    return appends.flatMap((append) => this.log.undoOps(append)) as StoreBatchOp[]
  }

  async close(): Promise<void> {
    await this.log.close()
    await this.db.close()
  }
}

function ackSublevel(repoDb: RootDb): AckSublevel {
  return repoDb.sublevel<string, Uint8Array>('event-acks', { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as AckSublevel
}

/** The highest seq `repoDb` acknowledges (0: none). */
export async function readAckedSeq(repoDb: RootDb): Promise<number> {
  return decodeMeta((await ackSublevel(repoDb).get(ACKED_KEY)) as Uint8Array | undefined)
}

function ackOp(acks: AckSublevel, seq: number): StoreBatchOp {
  return { type: 'put', sublevel: acks, key: ACKED_KEY, value: encodeMeta(seq) } as StoreBatchOp
}
