/**
 * Reading the relay's JetStream stream: a bounded replay (`readStream`), the
 * one live reader every JetStreamEventLog keeps (`startLiveReader`), and the
 * retention scan (`trimStream`). All three use ordered consumers: ephemeral,
 * flow-controlled, recreated by the client at the right seq after a
 * connection or leader change, so they never skip or repeat a message.
 *
 * Gap placeholders (aborted appends, jetstream-publisher.ts) have empty data
 * and are skipped by replays; the live reader reports them as `null` frames
 * so `lastSeq` still moves past them.
 *
 * `readHostAccountStates` reads one host's subject, headers only, from a seq
 * up to the subject's last message (known first, so an empty range costs
 * one request and no fetch wait).
 */
import { jetstream } from '@nats-io/jetstream'
import type { Consumer, JetStreamClient, JetStreamManager, MsgRequest, OrderedConsumerOptions } from '@nats-io/jetstream'
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node'
import { AtfedError } from '../../core/errors.ts'
import { JETSTREAM_CONSUMER_ATTEMPT_MS, JETSTREAM_LOG_FETCH_EVENTS_MAX, JETSTREAM_LOG_FETCH_TIMEOUT_MS, JETSTREAM_LOG_LIVE_HEARTBEATS_MISSED_MAX, JETSTREAM_LOG_LIVE_PULL_MS, JETSTREAM_LOG_LIVE_RETRY_MS } from '../../core/limits.ts'
import type { LoggedFrame } from '../../core/stream/event-log.ts'
import { ACCOUNT_HEADER, CURSOR_HEADER, INEXACT_HEADER, TIME_HEADER } from './jetstream-stream.ts'

export type LiveReader = {
  /** Drop the current consumer; a new one follows after the last seq seen (a stalled consumer, see jetstream-event-log.ts). */
  restart(): void
  stop(): Promise<void>
}

async function deleteQuietly(consumer: Consumer): Promise<void> {
  try {
    await consumer.delete()
  } catch {
    // Ephemeral: the server removes it after its inactivity threshold anyway.
  }
}

/** Frames with afterSeq < seq <= upTo, at most `count`, gaps skipped. */
export async function* readStream(
  js: JetStreamClient,
  options: { stream: string; afterSeq: number; upTo: number; count: number },
): AsyncGenerator<LoggedFrame, void, undefined> {
  const { upTo, count } = options
  let after = options.afterSeq
  if (after >= upTo || count <= 0) return
  const consumer = await js.consumers.get(options.stream, { opt_start_seq: after + 1 })
  let yielded = 0
  try {
    while (yielded < count && after < upTo) {
      const batch = await consumer.fetch({ max_messages: Math.min(upTo - after, JETSTREAM_LOG_FETCH_EVENTS_MAX), expires: JETSTREAM_LOG_FETCH_TIMEOUT_MS })
      let got = 0
      for await (const m of batch) {
        got++
        if (m.seq > upTo) {
          after = upTo
          break
        }
        after = m.seq
        const drained = m.info.pending === 0 // a trimmed range means fewer messages than seqs: stop, do not wait
        if (m.data.length > 0) {
          yield { seq: m.seq, frameBytes: m.data }
          if (++yielded >= count) break
        }
        if (drained) return
      }
      if (got === 0) return
    }
  } finally {
    await deleteQuietly(consumer)
  }
}

/** A JetStream client whose API requests (consumer creation) give up after JETSTREAM_CONSUMER_ATTEMPT_MS, for `orderedConsumer`. */
export function quickJetStream(nc: NatsConnection): JetStreamClient {
  return jetstream(nc, { timeout: JETSTREAM_CONSUMER_ATTEMPT_MS })
}

/**
 * An ordered consumer for a one-off read, asked for again when an attempt
 * times out, until `deadline` (ms since the epoch): right after a NATS node
 * is lost the server can place a new consumer on the dead node, and a
 * later attempt lands elsewhere. `js` should be a `quickJetStream`.
 */
export async function orderedConsumer(js: JetStreamClient, stream: string, options: Partial<OrderedConsumerOptions>, deadline: number): Promise<Consumer> {
  for (;;) {
    try {
      return await js.consumers.get(stream, options)
    } catch (err) {
      if (!/timeout/i.test(String(err)) || Date.now() >= deadline) throw err
    }
  }
}

type ConsumeIterator = { stop(): void; status(): AsyncIterable<{ type: string; count?: number }> }

async function stopWhenOrphaned(iter: ConsumeIterator): Promise<void> {
  try {
    for await (const status of iter.status()) {
      if (status.type === 'heartbeats_missed' && (status.count ?? 0) >= JETSTREAM_LOG_LIVE_HEARTBEATS_MISSED_MAX) return iter.stop()
    }
  } catch {
    // The iterator closed.
  }
}

/**
 * Follow the stream after `lastSeen()` for as long as the log is open. The
 * client re-creates an ordered consumer by itself after most hiccups; when
 * its iterator ends anyway (the connection's server died, heartbeats were
 * missed for too long) a new one starts after the last seq seen, after
 * JETSTREAM_LOG_LIVE_RETRY_MS. An ordered consumer whose node died is not
 * re-created by the client (it keeps pulling a consumer that is gone and
 * reports missed heartbeats): the reader stops it itself after
 * JETSTREAM_LOG_LIVE_HEARTBEATS_MISSED_MAX and starts a new one, which the
 * cluster places on a live node.
 */
export function startLiveReader(
  js: JetStreamClient,
  options: { stream: string; lastSeen: () => number; onMessage: (seq: number, frame: Uint8Array | null) => void },
): LiveReader {
  let stopped = false
  let messages: { stop(): void } | null = null
  const follow = async (): Promise<void> => {
    const consumer = await js.consumers.get(options.stream, { opt_start_seq: options.lastSeen() + 1 })
    if (stopped) return deleteQuietly(consumer)
    // Short pulls: a lost server is noticed (missed heartbeats) within about two of them.
    const iter = await consumer.consume({ expires: JETSTREAM_LOG_LIVE_PULL_MS })
    messages = iter
    void stopWhenOrphaned(iter)
    if (stopped) iter.stop()
    for await (const m of iter) {
      // A copy: the tail keeps frames for a while and must not pin the client's read buffers.
      options.onMessage(m.seq, m.data.length === 0 ? null : m.data.slice())
    }
  }
  const running = (async () => {
    while (!stopped) {
      await follow().catch(() => {})
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, JETSTREAM_LOG_LIVE_RETRY_MS))
    }
  })()
  return {
    restart: () => messages?.stop(),
    stop: async () => {
      stopped = true
      messages?.stop()
      await running
    },
  }
}

/**
 * Purge the messages whose `Atfed-Time` is before `cutoffMs`, walking
 * headers only from the first stored seq; stops at the first message that
 * is not expired (times do not decrease with seq, up to writers' clock
 * skew). Resolves with how many events (not gaps) were removed.
 */
export async function trimStream(js: JetStreamClient, jsm: JetStreamManager, options: { stream: string; upTo: number; cutoffMs: number }): Promise<number> {
  const info = await jsm.streams.info(options.stream)
  if (info.state.messages === 0) return 0
  const consumer = await js.consumers.get(options.stream, { opt_start_seq: info.state.first_seq, headers_only: true })
  let keepFrom = options.upTo + 1
  let expired = 0
  try {
    let after = info.state.first_seq - 1
    scan: while (after < options.upTo) {
      const batch = await consumer.fetch({ max_messages: Math.min(options.upTo - after, JETSTREAM_LOG_FETCH_EVENTS_MAX), expires: JETSTREAM_LOG_FETCH_TIMEOUT_MS })
      let got = 0
      for await (const m of batch) {
        got++
        if (m.seq > options.upTo) break scan
        after = m.seq
        const timeMs = Number(m.headers?.get(TIME_HEADER) ?? 0)
        if (timeMs >= options.cutoffMs) {
          keepFrom = m.seq
          break scan
        }
        // Headers-only delivery reports the data size in Nats-Msg-Size; gaps have none.
        if (Number(m.headers?.get('Nats-Msg-Size') ?? 0) > 0) expired++
        if (m.info.pending === 0) break scan
      }
      if (got === 0) break
    }
  } finally {
    await deleteQuietly(consumer)
  }
  if (keepFrom > info.state.first_seq) await jsm.streams.purge(options.stream, { seq: keepFrom })
  return expired
}

/** What a host's messages vouch for: the last account state JSON per DID, the upstream cursor (null: none). */
export type HostStates = { states: Map<string, string>; cursor: number | null }

/** A message read by `readSubject` (data empty when read headers only). */
export type SubjectMessage = { seq: number; subject: string; headers: MsgHdrs | undefined; data: Uint8Array }

/**
 * `subject`'s messages with afterSeq < seq <= upTo (a seq that exists, read
 * from the stream leader), in order, each handed to `take` (false: stop).
 * Through an ordered consumer; when none can be made in one
 * JETSTREAM_CONSUMER_ATTEMPT_MS attempt (right after a NATS node is lost
 * that can last a minute), one message-get request per message
 * (`next_by_subj`, answered by the stream leader, no consumer). Reads until
 * `upTo` even when the consumer's replica lags; 'StreamReadTimeout' past
 * `deadline` (ms since the epoch).
 */
export async function readSubject(js: JetStreamClient, jsm: JetStreamManager, options: { stream: string; subject: string; afterSeq: number; upTo: number; deadline: number; headersOnly?: boolean }, take: (m: SubjectMessage) => boolean): Promise<void> {
  const { stream, subject, upTo, deadline } = options
  let after = options.afterSeq
  const timedOut = (): AtfedError => new AtfedError('StreamReadTimeout', `reading ${subject} from ${options.afterSeq + 1} to ${upTo} was not done in time`)
  if (after >= upTo) return
  const consumer = await orderedConsumer(js, stream, { filter_subjects: subject, opt_start_seq: after + 1, headers_only: options.headersOnly === true }, Math.min(deadline, Date.now() + 1)).catch(() => null)
  if (consumer === null) {
    while (after < upTo) {
      if (Date.now() > deadline) throw timedOut()
      const m = await jsm.streams.getMessage(stream, { seq: after + 1, next_by_subj: subject } as unknown as MsgRequest)
      if (m === null || m.seq > upTo) return
      after = m.seq
      if (!take({ seq: m.seq, subject: m.subject, headers: m.header, data: m.data })) return
    }
    return
  }
  try {
    while (after < upTo) {
      const left = deadline - Date.now()
      if (left <= 0) throw timedOut()
      const batch = await consumer.fetch({ max_messages: JETSTREAM_LOG_FETCH_EVENTS_MAX, expires: Math.max(1_000, Math.min(JETSTREAM_LOG_FETCH_TIMEOUT_MS, left)) })
      for await (const m of batch) {
        after = m.seq
        if (!take({ seq: m.seq, subject: m.subject, headers: m.headers, data: m.data }) || after >= upTo) return
      }
    }
  } finally {
    await deleteQuietly(consumer)
  }
}

/** The seq of `subject`'s last message, from the stream leader (0: none). */
export async function lastSeqOf(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  return jsm.streams.getMessage(stream, { last_by_subj: subject }).then((m) => m?.seq ?? 0, (err: unknown) => {
    if ((err as { code?: unknown }).code === 10037 || /no message found/i.test(String(err))) return 0
    throw err
  })
}

/**
 * Read `subject`'s messages after `afterSeq` (headers only) up to its last
 * message at the time of the call, or up to the first `Atfed-Inexact` one
 * (what follows it is not taken: relay/cluster/stream-states.ts):
 * the last `Atfed-Account` per DID (the DID in that JSON) and the highest
 * `Atfed-Cursor`. 'StreamReadTimeout' when that takes over `timeoutMs`.
 */
export async function readHostAccountStates(js: JetStreamClient, jsm: JetStreamManager, options: { stream: string; subject: string; afterSeq: number; timeoutMs: number }): Promise<HostStates> {
  const deadline = Date.now() + options.timeoutMs
  const out: HostStates = { states: new Map(), cursor: null }
  const upTo = await lastSeqOf(jsm, options.stream, options.subject)
  await readSubject(js, jsm, { stream: options.stream, subject: options.subject, afterSeq: options.afterSeq, upTo, deadline, headersOnly: true }, (m) => {
    if (m.headers?.has(INEXACT_HEADER) === true) return false
    const json = m.headers?.get(ACCOUNT_HEADER)
    if (json !== undefined && json !== '') out.states.set((JSON.parse(json) as { did: string }).did, json)
    const cursor = Number(m.headers?.get(CURSOR_HEADER) || NaN)
    if (Number.isSafeInteger(cursor)) out.cursor = Math.max(out.cursor ?? cursor, cursor)
    return true
  })
  return out
}
