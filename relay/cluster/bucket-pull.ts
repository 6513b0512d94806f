/**
 * A KV bucket's revisions read straight from its stream (`KV_<bucket>`) with
 * an ordered pull consumer: how the shared state catches up when its watch
 * (a push consumer) has stalled.
 *
 * Why: after a NATS node is lost a bucket watch can stop delivering without
 * an error, and a new watch may stall again while the bucket's stream moves
 * to a new leader (seen in the 3-node tests: a takeover then waited out its
 * whole catch-up budget and gave the host back). Pull requests, like the
 * event log's live reader, go wherever the stream is led now.
 *
 * Revisions are stream seqs; with history 1 a key's older messages are gone,
 * so a range holds fewer messages than seqs: reading stops at `upTo`, when
 * the server says nothing more is pending, at an empty fetch or at the time
 * budget (the caller checks how far it got).
 */
import type { JetStreamClient } from '@nats-io/jetstream'
import { JETSTREAM_LOG_FETCH_EVENTS_MAX, JETSTREAM_LOG_FETCH_TIMEOUT_MS } from '../../core/limits.ts'

export type BucketRevision = { revision: number; key: string; operation: 'PUT' | 'DEL' | 'PURGE'; value: string }

const OPERATION_HEADER = 'KV-Operation'

/** Hand `apply` the bucket's revisions after `after` up to `upTo`, in order (see the header). */
export async function pullRevisions(js: JetStreamClient, options: { bucket: string; after: number; upTo: number; timeoutMs: number }, apply: (revision: BucketRevision) => void): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  const prefix = `$KV.${options.bucket}.`
  const consumer = await js.consumers.get(`KV_${options.bucket}`, { opt_start_seq: options.after + 1 })
  try {
    let after = options.after
    while (after < options.upTo) {
      const left = deadline - Date.now()
      if (left <= 0) return
      const batch = await consumer.fetch({ max_messages: Math.min(options.upTo - after, JETSTREAM_LOG_FETCH_EVENTS_MAX), expires: Math.max(1_000, Math.min(JETSTREAM_LOG_FETCH_TIMEOUT_MS, left)) })
      let got = 0
      for await (const m of batch) {
        got++
        after = m.seq
        const op = m.headers?.get(OPERATION_HEADER)
        apply({ revision: m.seq, key: m.subject.slice(prefix.length), operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.string() })
        if (m.info.pending === 0 || after >= options.upTo) return
      }
      if (got === 0) return
    }
  } finally {
    await consumer.delete().catch(() => {})
  }
}
