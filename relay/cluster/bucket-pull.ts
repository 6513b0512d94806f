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
 * over (`keys` = that host's key prefix): it does not mirror the whole
 * accounts bucket (shared-state.ts).
 *
 * Consumers are made with `orderedConsumer` (retried: a node loss can
 * place one on the dead node); `js` should be a `quickJetStream`.
 *
 * Revisions are stream seqs; with history 1 a key's older messages are gone,
 * so a range holds fewer messages than seqs; `upTo` is a revision that
 * exists (the bucket's or the key prefix's last one), read from the stream
 * leader; reading stops there or at the time budget.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
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
  /** Revisions after this one (default 0) up to `upTo`: the bucket's last one, as its stream leader says. */
  after?: number
  upTo: number
  /** Only keys matching this (`<prefix>.*`). */
  keys?: string
}

/**
 * Hand `apply` the bucket's revisions, in order (see the header); resolves
 * false when it stopped short of `upTo` (time budget). The consumer may sit
 * on a replica that lags the leader: it reads until `upTo`, never "nothing
 * pending", so a lagging replica makes it wait, not miss revisions.
 */
export async function pullRevisions(js: JetStreamClient, options: PullOptions, apply: (revision: BucketRevision) => void): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs
  const prefix = `$KV.${options.bucket}.`
  let after = options.after ?? 0
  if (after >= options.upTo) return true
  const filter = options.keys === undefined ? {} : { filter_subjects: `${prefix}${options.keys}` }
  const consumer = await orderedConsumer(js, `KV_${options.bucket}`, { opt_start_seq: after + 1, ...filter }, deadline)
  try {
    while (after < options.upTo) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      const batch = await consumer.fetch({ max_messages: JETSTREAM_LOG_FETCH_EVENTS_MAX, expires: Math.max(1_000, Math.min(JETSTREAM_LOG_FETCH_TIMEOUT_MS, left)) })
      for await (const m of batch) {
        after = m.seq
        const op = m.headers?.get(OPERATION_HEADER)
        apply({ revision: m.seq, key: m.subject.slice(prefix.length), operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.string() })
        if (after >= options.upTo) break
      }
    }
    return true
  } finally {
    await consumer.delete().catch(() => {})
  }
}

/**
 * Load the accounts filed under `host` (`keys`: the host's key filter) into
 * `accounts`, up to the prefix's last revision as the bucket's stream leader
 * says (so a lagging replica cannot hand out older states than the host
 * record read before); a state of an account held under another host with
 * a later rev (it moved there) is not taken. Resolves with the JSON of each
 * state taken by DID; 'SharedStateBehind' when the read stopped short.
 */
export async function loadHostAccounts(js: JetStreamClient, jsm: JetStreamManager, options: { bucket: string; keys: string; timeoutMs: number }, accounts: AccountStore): Promise<Map<string, string>> {
  const loaded = new Map<string, string>()
  const last = await jsm.streams.getMessage(`KV_${options.bucket}`, { last_by_subj: `$KV.${options.bucket}.${options.keys}` }).then((m) => m?.seq ?? 0, (err: unknown) => {
    if ((err as { code?: unknown }).code === 10037 || /no message found/i.test(String(err))) return 0
    throw err
  })
  const apply = (revision: BucketRevision): void => {
    if (revision.operation !== 'PUT') return
    const remote = decodeAccountJson(revision.value)
    const local = accounts.get(remote.did)
    if (local !== null && local.host !== remote.host && !isLaterRev(remote, local)) return
    accounts.put(remote)
    loaded.set(remote.did, revision.value)
  }
  if (!(await pullRevisions(js, { bucket: options.bucket, keys: options.keys, upTo: last, timeoutMs: options.timeoutMs }, apply))) {
    throw new AtfedError('SharedStateBehind', `the accounts under ${options.keys} were not read in ${options.timeoutMs} ms`)
  }
  return loaded
}
