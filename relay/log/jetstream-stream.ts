/**
 * The JetStream stream behind a relay's firehose: its name and subject, its
 * configuration, the headers its messages carry and the de-duplication id
 * of each event.
 *
 * One stream per relay cluster (default `ATFED_RELAY`, subject
 * `atfed.relay.events`), file storage, `num_replicas` 1 or 3, limits
 * retention (nothing is removed by consumers), a duplicate window long
 * enough to cover an ingest lease's expiry plus the re-verification of what
 * the dead worker had in flight. Messages: data = the complete frame,
 * header `Atfed-Time` = append time in ms (retention uses it, so it follows
 * the log's clock, not the server's), `Atfed-Gap` on the placeholders of
 * aborted appends.
 *
 * Subjects: an event of an account filed under upstream host H is published
 * on `<subject>.<base64url of H>` (`hostSubject`), everything else (gap
 * placeholders, an event without a known account) on `<subject>` itself; the
 * stream takes both (`<subject>` and `<subject>.>`). Readers of the firehose
 * do not filter. A relay-cluster worker taking a host over reads only that
 * host's subject (the per-subject index keeps that cheap), headers only:
 * `Atfed-Account` (the account state right after the event), `Atfed-Cursor`
 * (the upstream seq it came at), `Atfed-Inexact` (the state could not be
 * told); relay/cluster/stream-states.ts says why.
 *
 * De-duplication ids: `#commit` → `<did>/<rev>` (a rev is used once per
 * repo); `#sync` → `<did>/sync/<rev>`; `#identity`/`#account` →
 * `<did>/<t>/<sha-256 of the event without its seq>` (their `time` makes
 * each announcement distinct; a retry of the same one has the same bytes).
 */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import { sha256 } from '../../core/data/cid.ts'
import { JETSTREAM_LOG_DUPLICATE_WINDOW_MS } from '../../core/limits.ts'
import { encodeEventFrame, withSeq } from '../../core/stream/events.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'

export const DEFAULT_STREAM = 'ATFED_RELAY'
export const DEFAULT_SUBJECT = 'atfed.relay.events'
export const TIME_HEADER = 'Atfed-Time'
export const GAP_HEADER = 'Atfed-Gap'
export const ACCOUNT_HEADER = 'Atfed-Account'
export const CURSOR_HEADER = 'Atfed-Cursor'
export const INEXACT_HEADER = 'Atfed-Inexact'

/** The subject of the events of accounts filed under `host` (see the header). */
export function hostSubject(subject: string, host: string): string {
  return `${subject}.${Buffer.from(host, 'utf8').toString('base64url')}`
}

function streamSubjects(subject: string): string[] {
  return [subject, `${subject}.>`]
}

export type StreamOptions = {
  stream?: string
  subject?: string
  /** 1 (default) or 3 (a 3-node cluster; survives one node lost). */
  replicas?: number
  duplicateWindowMs?: number
  /** Server-side age limit as a safety net beside `trim` (0 = none, the default). */
  maxAgeMs?: number
}

/** Create the stream if it does not exist; an existing one is used as it is, its subjects widened to the per-host ones if needed. */
export async function ensureStream(jsm: JetStreamManager, options: StreamOptions): Promise<StreamInfo> {
  const name = options.stream ?? DEFAULT_STREAM
  const subjects = streamSubjects(options.subject ?? DEFAULT_SUBJECT)
  try {
    const info = await jsm.streams.info(name)
    if (subjects.every((s) => info.config.subjects?.includes(s))) return info
    return await jsm.streams.update(name, { subjects: [...new Set([...(info.config.subjects ?? []), ...subjects])] })
  } catch (err) {
    if ((err as { code?: unknown }).code !== 10059) throw err // 10059: stream not found
  }
  try {
    return await jsm.streams.add({
      name,
      subjects,
      storage: 'file' as never,
      retention: 'limits' as never,
      discard: 'old' as never,
      num_replicas: options.replicas ?? 1,
      duplicate_window: nanos(options.duplicateWindowMs ?? JETSTREAM_LOG_DUPLICATE_WINDOW_MS),
      max_age: nanos(options.maxAgeMs ?? 0),
      allow_direct: true,
    })
  } catch (err) {
    // Two processes starting together: the other one created it.
    if ((err as { code?: unknown }).code === 10058) return jsm.streams.info(name)
    throw err
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** The `Nats-Msg-Id` of an event (see the module header). */
export function eventMessageId(event: UnsequencedEvent): string {
  switch (event.t) {
    case '#commit':
      return `${event.repo}/${event.rev}`
    case '#sync':
      return `${event.did}/sync/${event.rev}`
    case '#identity':
    case '#account':
      return `${event.did}/${event.t}/${hex(sha256(encodeEventFrame(withSeq(event, 0))))}`
  }
}

/** The stream's floor: every seq at or below it may be gone. */
export function floorOf(info: StreamInfo): number {
  const { first_seq: first, last_seq: last, messages } = info.state
  return messages === 0 ? last : Math.max(0, first - 1)
}
