/**
 * Writes event frames into a JetStream stream so that the stream sequence
 * IS the firehose seq: the frame for stream position n carries `seq: n`.
 *
 * How: entries are published strictly in queue order, in windows of up to
 * JETSTREAM_LOG_PUBLISH_WINDOW_EVENTS messages sent back to back on one
 * connection (the server handles them in order). The frame of the k-th
 * message is encoded for seq `last + 1 + k` and published with
 * `expect.lastSequence = last + k`, and (k > 0) `expect.lastMsgID` = the
 * previous message's id: so a message lands only directly after the one
 * before it, at exactly the seq its frame says. Any other writer in between
 * (a second ingest worker) makes the rest of the window fail; the publisher
 * re-reads the stream's last seq, re-encodes and sends the rest again.
 *
 * Every message has a `Nats-Msg-Id` (commits `<did>/<rev>`, see
 * jetstream-stream.ts): a retry of a message that did land (ack lost, or a
 * takeover re-verifying the same commit) gets a duplicate ack carrying the
 * seq it landed at, and nothing is stored twice within the stream's
 * duplicate window. The server checks duplicates before expectations.
 *
 * An aborted `appendOps` entry is written as gap messages (empty, header
 * `Atfed-Gap`), so seqs handed out after it keep their positions; readers
 * skip gaps (the contract allows seq gaps).
 *
 * Older servers (2.9) count the "last sequence" they check expectations
 * against on their own after a purge that moves the first seq past the end
 * (initialSeq): it then trails the real one by a constant. The error names
 * the server's count ("wrong last sequence: N"), so the publisher keeps that
 * offset and expects `real - offset`; frames still carry the real seq, and
 * every ack is checked to land exactly there.
 */
import { randomUUID } from 'node:crypto'
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream'
import { headers } from '@nats-io/transport-node'
import { AtfedError } from '../../core/errors.ts'
import { JETSTREAM_LOG_PUBLISH_RETRIES_MAX, JETSTREAM_LOG_PUBLISH_RETRY_MS, JETSTREAM_LOG_PUBLISH_WINDOW_EVENTS } from '../../core/limits.ts'
import type { EventAnnotation } from './jetstream-event-log.ts'
import { ACCOUNT_HEADER, CURSOR_HEADER, GAP_HEADER, INEXACT_HEADER, TIME_HEADER } from './jetstream-stream.ts'

export type PublishEntry = {
  readonly count: number
  /** The complete frame of the i-th message for `seq`. */
  readonly encode: (seq: number, index: number) => Uint8Array
  readonly ids: readonly string[]
  /** Each message's subject (per host, jetstream-stream.ts) and what it vouches for (headers). */
  readonly subjects: readonly string[]
  readonly notes: readonly (EventAnnotation | null)[]
  readonly timeMs: number
  state: 'pending' | 'committed' | 'aborted'
  /** Where each message landed (filled as acks arrive). */
  readonly seqs: number[]
  readonly resolve: (seqs: number[]) => void
  readonly reject: (err: unknown) => void
}

type Message = { entry: PublishEntry; index: number; id: string; gap: boolean }

const EMPTY = new Uint8Array(0)
const WRONG_LAST_SEQUENCE = 10071

export class JetStreamPublisher {
  readonly #js: JetStreamClient
  readonly #jsm: JetStreamManager
  readonly #stream: string
  readonly #subject: string
  readonly #queue: PublishEntry[] = []
  /** The stream's last seq as this writer knows it. */
  #last: number
  /** Real last seq minus the one the server checks expectations against (see the header). */
  #offset = 0
  #running = false
  #failed: unknown = null

  constructor(init: { js: JetStreamClient; jsm: JetStreamManager; stream: string; subject: string; last: number }) {
    this.#js = init.js
    this.#jsm = init.jsm
    this.#stream = init.stream
    this.#subject = init.subject
    this.#last = init.last
  }

  get failed(): unknown {
    return this.#failed
  }

  enqueue(entry: PublishEntry): void {
    if (this.#failed !== null) return entry.reject(this.#failed)
    this.#queue.push(entry)
    this.kick()
  }

  /** Start publishing if settled entries wait at the head of the queue. */
  kick(): void {
    if (this.#running) return
    this.#running = true
    void this.#pump().finally(() => {
      this.#running = false
      if (this.#readyMessages().length > 0 && this.#failed === null) this.kick()
    })
  }

  /** Messages of the settled entries at the head of the queue (not yet landed), up to one window. */
  #readyMessages(): Message[] {
    const out: Message[] = []
    for (const entry of this.#queue) {
      if (entry.state === 'pending') break
      for (let i = entry.seqs.length; i < entry.count && out.length < JETSTREAM_LOG_PUBLISH_WINDOW_EVENTS; i++) {
        const gap = entry.state === 'aborted'
        out.push({ entry, index: i, gap, id: gap ? `gap/${randomUUID()}` : (entry.ids[i] as string) })
      }
      if (out.length >= JETSTREAM_LOG_PUBLISH_WINDOW_EVENTS) break
    }
    return out
  }

  async #pump(): Promise<void> {
    let failures = 0
    for (;;) {
      const window = this.#readyMessages()
      if (window.length === 0) return
      const ok = await this.#publishWindow(window)
      this.#completeEntries()
      if (ok) {
        failures = 0
        continue
      }
      failures++
      if (failures > JETSTREAM_LOG_PUBLISH_RETRIES_MAX) return this.#fail(new AtfedError('EventLogWriteFailed', 'JetStream publish kept failing'))
      await new Promise((resolve) => setTimeout(resolve, Math.min(JETSTREAM_LOG_PUBLISH_RETRY_MS * failures, 1_000)))
    }
  }

  /** Publish one chained window; false when it stopped early (the rest is sent again). */
  async #publishWindow(window: readonly Message[]): Promise<boolean> {
    const base = this.#last
    const sends = window.map((m, k) => {
      const seq = base + 1 + k
      const h = headers()
      h.set(TIME_HEADER, String(m.entry.timeMs))
      if (m.gap) h.set(GAP_HEADER, '1')
      const note = m.gap ? null : m.entry.notes[m.index]
      if (note != null) setNoteHeaders(h, note)
      const lastSequence = seq - 1 - this.#offset
      const expect = k === 0 ? { lastSequence } : { lastSequence, lastMsgID: (window[k - 1] as Message).id }
      const subject = m.gap ? this.#subject : (m.entry.subjects[m.index] ?? this.#subject)
      return this.#js.publish(subject, m.gap ? EMPTY : m.entry.encode(seq, m.index), { msgID: m.id, expect, headers: h })
    })
    const results = await Promise.allSettled(sends)
    for (let k = 0; k < window.length; k++) {
      const result = results[k] as PromiseSettledResult<PubAck>
      const m = window[k] as Message
      if (result.status === 'rejected') return this.#recover(result.reason)
      if (!result.value.duplicate && result.value.seq !== base + 1 + k) {
        this.#fail(new AtfedError('EventLogWriteFailed', `a frame for seq ${base + 1 + k} landed at ${result.value.seq}`))
        return false
      }
      m.entry.seqs.push(result.value.seq)
      if (result.value.duplicate) return true // the rest expected this message to be the last: resend them
      this.#last = result.value.seq
    }
    return true
  }

  /** After a failed publish: re-read the stream's last seq and the server's expectation offset. */
  async #recover(err: unknown): Promise<false> {
    const code = (err as { code?: unknown }).code
    try {
      const info = await this.#jsm.streams.info(this.#stream)
      this.#last = info.state.last_seq
      const counted = code === WRONG_LAST_SEQUENCE ? /wrong last sequence: (\d+)/.exec(String((err as Error).message)) : null
      if (counted !== null) this.#offset = info.state.last_seq - Number(counted[1])
    } catch {
      // The next attempt retries (bounded by JETSTREAM_LOG_PUBLISH_RETRIES_MAX).
    }
    return false
  }

  #completeEntries(): void {
    while (this.#queue.length > 0 && (this.#queue[0] as PublishEntry).seqs.length === (this.#queue[0] as PublishEntry).count) {
      const entry = this.#queue.shift() as PublishEntry
      entry.resolve(entry.seqs)
    }
  }

  #fail(err: unknown): void {
    this.#failed = err
    for (const entry of this.#queue.splice(0)) entry.reject(err)
  }
}

function setNoteHeaders(h: ReturnType<typeof headers>, note: EventAnnotation): void {
  if (!note.exact) return h.set(INEXACT_HEADER, '1')
  if (note.account !== null) h.set(ACCOUNT_HEADER, note.account)
  if (note.upstreamSeq !== null) h.set(CURSOR_HEADER, String(note.upstreamSeq))
}
