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
 * Reads go through `readSubject` (jetstream-reader.ts): an ordered consumer,
 * or one get per message when none can be made (right after a NATS node
 * loss); `js` should be a `quickJetStream`.
 *
 * Revisions are stream seqs; with history 1 a key's older messages are gone,
 * so a range holds fewer messages than seqs; `upTo` is a revision that
 * exists (the bucket's or the key prefix's last one), read from the stream
 * leader; reading stops there or at the time budget.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { decodeAccountJson } from '../accounts.ts'
import type { AccountStore } from '../accounts.ts'
import { lastSeqOf, readSubject } from '../log/jetstream-reader.ts'
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
 * false when it stopped short of `upTo` (time budget). Reads until `upTo`
 * (jetstream-reader.ts `readSubject`: a lagging replica makes it wait, not
 * miss revisions; no consumer to be had: one get per revision).
 */
export async function pullRevisions(js: JetStreamClient, jsm: JetStreamManager, options: PullOptions, apply: (revision: BucketRevision) => void): Promise<boolean> {
  const prefix = `$KV.${options.bucket}.`
  const read = { stream: `KV_${options.bucket}`, subject: `${prefix}${options.keys ?? '>'}`, afterSeq: options.after ?? 0, upTo: options.upTo, deadline: Date.now() + options.timeoutMs }
  return readSubject(js, jsm, read, (m) => {
    const op = m.headers?.get(OPERATION_HEADER)
    apply({ revision: m.seq, key: m.subject.slice(prefix.length), operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: new TextDecoder().decode(m.data) })
    return true
  }).then(
    () => true,
    (err: unknown) => {
      if (isAtfedError(err, 'StreamReadTimeout')) return false
      throw err
    },
  )
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
  const last = await lastSeqOf(jsm, `KV_${options.bucket}`, `$KV.${options.bucket}.${options.keys}`)
  const apply = (revision: BucketRevision): void => {
    if (revision.operation !== 'PUT') return
    const remote = decodeAccountJson(revision.value)
    const local = accounts.get(remote.did)
    if (local !== null && local.host !== remote.host && !isLaterRev(remote, local)) return
    accounts.put(remote)
    loaded.set(remote.did, revision.value)
  }
  if (!(await pullRevisions(js, jsm, { bucket: options.bucket, keys: options.keys, upTo: last, timeoutMs: options.timeoutMs }, apply))) {
    throw new AtfedError('SharedStateBehind', `the accounts under ${options.keys} were not read in ${options.timeoutMs} ms`)
  }
  return loaded
}
