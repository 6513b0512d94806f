/**
 * One stored firehose frame → the Jetstream JSON messages it stands for,
 * rendered once (UTF-8 bytes ready to send) and shared by every subscriber.
 *
 * Shapes (Jetstream v1 wire format, keys in this order):
 *   {"did","time_us","kind":"commit","commit":{"rev","operation","collection","rkey","record"?,"cid"?}}
 *   {"did","time_us","kind":"identity","identity":{"did","handle"?,"seq","time"}}
 *   {"did","time_us","kind":"account","account":{"active","did","seq","time","status"?}}
 * A #commit gives one message per op; create/update carry the record (atproto
 * JSON form: `$link`, `$bytes`) and its CID, delete carries neither. #sync
 * and unknown frames give none (Jetstream v1 never sent #sync).
 *
 * Trust: the frame came out of the relay's verified log, so the CAR is not
 * re-hashed as a whole; only the record blocks we actually use are checked
 * against their CIDs. An op whose record block is missing or does not decode
 * gets no message (Jetstream does the same) and is counted; its time slot is
 * still used, so time_us never depends on what could be decoded: the
 * clock's input (message count, time) comes from frame-clock-info.ts, as in
 * the time index.
 */
import { blockMatchesCid } from '../../core/data/cid.ts'
import type { CID } from '../../core/data/cid.ts'
import { decodeCbor } from '../../core/data/cbor.ts'
import { lexToJson } from '../../core/data/json.ts'
import { cidKey } from '../../core/repo/block-reader.ts'
import { iterateCarBytes } from '../../core/repo/car/decode.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { CommitEvent, StreamMessage } from '../../core/stream/events.ts'
import { stampEvent } from './clock.ts'
import type { Stamp } from './clock.ts'
import { clockInfo } from './frame-clock-info.ts'
import type { ClockInfo } from './frame-clock-info.ts'

export type JetstreamMessage = {
  readonly timeUs: number
  readonly did: string
  /** Null for identity/account messages: they pass every collection filter. */
  readonly collection: string | null
  /** The JSON text as UTF-8. */
  readonly data: Buffer
  /** The zstd form, made on first use by a compressed subscriber. */
  zstd: Buffer | null
}

export type RenderedEvent = {
  readonly seq: number
  readonly end: number
  readonly messages: readonly JetstreamMessage[]
  /** Records that could not be rendered (missing or undecodable block). */
  readonly skipped: number
  readonly bytes: number
}

/** A frame as a typed event, or null when it is not one we can read (it then takes no time). */
export function readEvent(frameBytes: Uint8Array): StreamMessage | null {
  try {
    const parsed = parseFrame(frameBytes)
    return parsed.kind === 'message' ? parsed.message : null
  } catch {
    return null
  }
}

/** Base/end time of an event given the previous end (see clock.ts; the input from frame-clock-info.ts). */
export function stampOf(info: ClockInfo, prevEnd: number, capUs: number): Stamp {
  return stampEvent(prevEnd, info.timeUs, { slots: info.slots, capUs })
}

function message(timeUs: number, did: string, collection: string | null, json: string): JetstreamMessage {
  return { timeUs, did, collection, data: Buffer.from(json, 'utf8'), zstd: null }
}

/** The record blocks the ops of a commit need, each checked against its CID. */
function recordBlocks(event: CommitEvent): Map<string, Uint8Array> {
  const wanted = new Map<string, CID>()
  for (const op of event.ops) if (op.cid !== null) wanted.set(cidKey(op.cid), op.cid)
  const found = new Map<string, Uint8Array>()
  if (wanted.size === 0) return found
  try {
    for (const block of iterateCarBytes(event.blocks, { verifyCids: false }).sections) {
      const key = cidKey(block.cid)
      const cid = wanted.get(key)
      if (cid !== undefined && !found.has(key) && blockMatchesCid(cid, block.bytes)) found.set(key, block.bytes)
    }
  } catch {
    // A broken CAR: keep what was read before the break.
  }
  return found
}

function commitMessages(event: CommitEvent, base: number): { messages: JetstreamMessage[]; skipped: number } {
  const blocks = recordBlocks(event)
  const messages: JetstreamMessage[] = []
  let skipped = 0
  event.ops.forEach((op, k) => {
    const slash = op.path.indexOf('/')
    const collection = op.path.slice(0, slash)
    const commit: Record<string, unknown> = { rev: event.rev, operation: op.action, collection, rkey: op.path.slice(slash + 1) }
    if (op.cid !== null) {
      const bytes = blocks.get(cidKey(op.cid))
      let record: unknown
      try {
        record = bytes === undefined ? undefined : lexToJson(decodeCbor(bytes))
      } catch {
        record = undefined
      }
      if (record === undefined) return void skipped++
      commit.record = record
      commit.cid = op.cid.toString()
    }
    const json = JSON.stringify({ did: event.repo, time_us: base + k, kind: 'commit', commit })
    messages.push(message(base + k, event.repo, collection, json))
  })
  return { messages, skipped }
}

function otherMessages(event: StreamMessage, base: number): JetstreamMessage[] {
  switch (event.t) {
    case '#identity': {
      const identity: Record<string, unknown> = { did: event.did }
      if (event.handle !== null) identity.handle = event.handle
      identity.seq = event.seq
      identity.time = event.time
      return [message(base, event.did, null, JSON.stringify({ did: event.did, time_us: base, kind: 'identity', identity }))]
    }
    case '#account': {
      const account: Record<string, unknown> = { active: event.active, did: event.did, seq: event.seq, time: event.time }
      if (event.status !== null) account.status = event.status
      return [message(base, event.did, null, JSON.stringify({ did: event.did, time_us: base, kind: 'account', account }))]
    }
    default:
      return []
  }
}

/** Render the messages of the frame at `seq`, whose predecessor ended at `prevEnd`. */
export function renderEvent(
  seq: number,
  frameBytes: Uint8Array,
  options: { prevEnd: number; capUs: number; clampedBase?: number | undefined },
): RenderedEvent {
  const event = readEvent(frameBytes)
  const info = clockInfo(frameBytes)
  const stamp = stampOf(info, options.prevEnd, options.capUs)
  const base = options.clampedBase ?? stamp.base
  const end = options.clampedBase === undefined ? stamp.end : base + info.slots
  let messages: JetstreamMessage[] = []
  let skipped = 0
  if (event?.t === '#commit') ({ messages, skipped } = commitMessages(event, base))
  else if (event !== null) messages = otherMessages(event, base)
  const bytes = messages.reduce((sum, m) => sum + m.data.length + 64, 64)
  return { seq, end, messages, skipped, bytes }
}
