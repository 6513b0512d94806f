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
 * Also how an ingest worker loads the account states of one host it takes
 * over (`filter` = that host's key prefix, the last revision per key): it
 * does not mirror the whole accounts bucket (shared-state.ts).
 *
 * Consumers are made with `orderedConsumer` (retried: a node loss can
 * place one on the dead node); `js` should be a `quickJetStream`.
 *
 * Revisions are stream seqs; with history 1 a key's older messages are gone,
 * so a range holds fewer messages than seqs: reading stops at `upTo`, when
 * the server says nothing more is pending (known when the consumer is made:
 * an empty range costs no fetch wait), at an empty fetch or at the time
 * budget (the caller checks how far it got).
 */
import { DeliverPolicy } from '@nats-io/jetstream'
import type { JetStreamClient } from '@nats-io/jetstream'
import { AtfedError } from '../../core/errors.ts'
import { JETSTREAM_LOG_FETCH_EVENTS_MAX, JETSTREAM_LOG_FETCH_TIMEOUT_MS } from '../../core/limits.ts'
import { decodeAccountJson } from '../accounts.ts'
import type { AccountStore } from '../accounts.ts'
import { orderedConsumer } from '../log/jetstream-reader.ts'
import { isLaterRev } from './stream-states.ts'

export type BucketRevision = { revision: number; key: string; operation: 'PUT' | 'DEL' | 'PURGE'; value: string }

const OPERATION_HEADER = 'KV-Operation'

export type PullOptions = {
  bucket: string
  timeoutMs: number
  /** Revisions after this one, up to `upTo` (default: all there are now). */
  after?: number
  upTo?: number
  /** Only keys matching this (`<prefix>.*`), and only the last revision of each. */
  lastOf?: string
}

/** Hand `apply` the bucket's revisions, in order (see the header); resolves false when it stopped short (time budget, empty fetch). */
export async function pullRevisions(js: JetStreamClient, options: PullOptions, apply: (revision: BucketRevision) => void): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs
  const prefix = `$KV.${options.bucket}.`
  const upTo = options.upTo ?? Number.MAX_SAFE_INTEGER
  const from = options.lastOf === undefined
    ? { opt_start_seq: (options.after ?? 0) + 1 }
    : { filter_subjects: `${prefix}${options.lastOf}`, deliver_policy: DeliverPolicy.LastPerSubject }
  const consumer = await orderedConsumer(js, `KV_${options.bucket}`, from, deadline)
  try {
    if ((await consumer.info(true)).num_pending === 0) return true
    let after = options.after ?? 0
    while (after < upTo) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      const batch = await consumer.fetch({ max_messages: Math.min(upTo - after, JETSTREAM_LOG_FETCH_EVENTS_MAX), expires: Math.max(1_000, Math.min(JETSTREAM_LOG_FETCH_TIMEOUT_MS, left)) })
      let got = 0
      for await (const m of batch) {
        got++
        after = m.seq
        const op = m.headers?.get(OPERATION_HEADER)
        apply({ revision: m.seq, key: m.subject.slice(prefix.length), operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.string() })
        if (m.info.pending === 0 || after >= upTo) return true
      }
      if (got === 0) return false
    }
    return true
  } finally {
    await consumer.delete().catch(() => {})
  }
}

/**
 * Load the accounts filed under `host` (`keys`: the host's key filter) into
 * `accounts`; a state of an account held under another host with a later
 * rev (it moved there) is not taken. Resolves with the JSON of each state
 * taken by DID; 'SharedStateBehind' when the read stopped short.
 */
export async function loadHostAccounts(js: JetStreamClient, options: { bucket: string; keys: string; timeoutMs: number }, accounts: AccountStore): Promise<Map<string, string>> {
  const loaded = new Map<string, string>()
  const complete = await pullRevisions(js, { bucket: options.bucket, lastOf: options.keys, timeoutMs: options.timeoutMs }, (revision) => {
    if (revision.operation !== 'PUT') return
    const remote = decodeAccountJson(revision.value)
    const local = accounts.get(remote.did)
    if (local !== null && local.host !== remote.host && !isLaterRev(remote, local)) return
    accounts.put(remote)
    loaded.set(remote.did, revision.value)
  })
  if (!complete) throw new AtfedError('SharedStateBehind', `the accounts under ${options.keys} were not read in ${options.timeoutMs} ms`)
  return loaded
}
