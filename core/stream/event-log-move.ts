/**
 * Moves a `LevelEventLog` (its events and its meta numbers) out of a
 * database it shared with other state into a database of its own, as a
 * write-ahead log (the layouts differ: event-log-level.ts) — how a PDS whose
 * events lived in its repo database gets them into their own one
 * (pds/event-journal.ts).
 *
 * Crash-safe and restartable: the destination's meta (`seq`, `floor`) is
 * raised first; then chunk by chunk the events are written to the
 * destination (durably) before they are deleted from the source; the
 * source's meta goes last, so a source with meta left means "not finished"
 * and a rerun picks up where the last one stopped (rewriting a chunk that
 * was copied but not yet deleted is harmless: same keys, same values).
 */
import { EVENT_LOG_MOVE_BATCH_BYTES_MAX, EVENT_LOG_MOVE_BATCH_EVENTS_MAX } from '../limits.ts'
import type { EventLogBatchOp, EventLogDb } from './event-log.ts'
import { decodeMeta, encodeMeta, seqOfKey } from './event-log-keys.ts'
import { levelEventLogSublevels } from './event-log-level.ts'

export type EventLogMoveOptions = {
  /** The log's name in both databases (LevelEventLogOptions.name). Default `events`. */
  name?: string
  /**
   * Awaited before the first event leaves the source, with the highest seq
   * the source ever allocated: what the caller must record as acknowledged.
   */
  beforeMove?: (highSeq: number) => Promise<void>
}

/** Moves the log named `name` from `from` (shared) to `to` (write-ahead); resolves with how many events moved (0 when `from` has none and no meta). */
export async function moveLevelEventLog(from: EventLogDb, to: EventLogDb, options: EventLogMoveOptions = {}): Promise<number> {
  const name = options.name ?? 'events'
  await from.open()
  await to.open()
  const source = levelEventLogSublevels(from, name, { writeAhead: false })
  const target = levelEventLogSublevels(to, name, { writeAhead: true })
  const sourceSeq = (await source.meta.get('seq')) as Uint8Array | undefined
  const sourceFloor = (await source.meta.get('floor')) as Uint8Array | undefined
  const lastKeys = (await source.events.keys({ reverse: true, limit: 1 }).all()) as Uint8Array[]
  if (sourceSeq === undefined && sourceFloor === undefined && lastKeys.length === 0) return 0
  const highSeq = Math.max(decodeMeta(sourceSeq), lastKeys[0] === undefined ? 0 : seqOfKey(lastKeys[0]))
  await options.beforeMove?.(highSeq)
  const targetSeq = decodeMeta((await target.meta.get('seq')) as Uint8Array | undefined)
  const targetFloor = decodeMeta((await target.meta.get('floor')) as Uint8Array | undefined)
  await to.batch(
    [
      { type: 'put', sublevel: target.meta, key: 'seq', value: encodeMeta(Math.max(targetSeq, highSeq)) },
      { type: 'put', sublevel: target.meta, key: 'floor', value: encodeMeta(Math.max(targetFloor, decodeMeta(sourceFloor))) },
    ] as EventLogBatchOp[],
    { sync: true },
  )
  let moved = 0
  for (;;) {
    const chunk: Array<[Uint8Array, Uint8Array]> = []
    let bytes = 0
    const iterator = source.events.iterator({ limit: EVENT_LOG_MOVE_BATCH_EVENTS_MAX })
    try {
      for (;;) {
        const entry = (await iterator.next()) as [Uint8Array, Uint8Array] | undefined
        if (entry === undefined) break
        chunk.push(entry)
        bytes += entry[0].length + entry[1].length
        if (bytes >= EVENT_LOG_MOVE_BATCH_BYTES_MAX) break
      }
    } finally {
      await iterator.close()
    }
    if (chunk.length === 0) break
    await to.batch(chunk.map(([key, value]) => ({ type: 'put', sublevel: target.events, key, value })) as EventLogBatchOp[], { sync: true })
    await from.batch(chunk.map(([key]) => ({ type: 'del', sublevel: source.events, key })) as EventLogBatchOp[], { sync: true })
    moved += chunk.length
  }
  await from.batch(
    [
      { type: 'del', sublevel: source.meta, key: 'seq' },
      { type: 'del', sublevel: source.meta, key: 'floor' },
    ] as EventLogBatchOp[],
    { sync: true },
  )
  return moved
}
