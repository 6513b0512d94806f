/**
 * The stream, not the KV buckets, is the source of truth for the account
 * states (and the cursor) a worker takes a host over with.
 *
 * Why: the buckets are written after the stream (state-writer.ts, off the
 * ingest path), so they can lag what was published: a worker killed
 * between a publish and its KV writes, a hand-over whose last writes reach
 * the new owner's mirror late, a write queue behind a KV leader election.
 * A new owner that checks the host's next commit against a rev / data CID
 * older than the last one published drops it as `ChainBroken` (a resync
 * then replaces the commit by a #sync).
 *
 * How:
 * - Every event goes out on its host's subject (jetstream-stream.ts), and
 *   as it is appended (`accountAnnotator`, synchronously) it is told what
 *   it vouches for, in headers: `Atfed-Account` = the account state right
 *   after it, `Atfed-Cursor` = the upstream seq it came at. The state is
 *   exact when the stored state still is this event's: a `#commit`/`#sync`
 *   whose rev is the stored rev; an `#identity` changes no state; an
 *   `#account` never (the stored rev may already be a later commit's). Otherwise (a
 *   later event of the same account was applied before this one was
 *   appended: two of its events in one batch, common in a burst) it is
 *   marked `Atfed-Inexact`, and a takeover reads no further than that (it
 *   then resumes earlier and re-verifies more, which is still exact).
 * - Each host record the owner writes to the hosts bucket carries
 *   `streamSeq`: the log's last seq when the record was queued. Every event
 *   of that host at or below it has its account state in the accounts
 *   bucket by then (state-writer.ts writes accounts before host records).
 * - `takeOver` (shared-state.ts) reads the host record from the bucket,
 *   then the host's subject from `streamSeq + 1` to its last message,
 *   headers only, and stops at the first inexact one: it applies the last
 *   state per DID (`applyStreamStates`, never an older rev than it holds)
 *   and moves the host's cursor to the highest upstream seq read.
 * Why that is exact: everything read was published, so no state is ahead
 *   of the stream; each DID's state is that of its last message read, or
 *   the bucket's when it has none after `streamSeq`; upstream events up to
 *   the new cursor were all applied in order by the previous owner, and
 *   every event they produced is at or before the message that carried the
 *   cursor. What the new owner receives again (after the cursor) chains
 *   onto those states, and a re-publish is de-duplicated by `<did>/<rev>`.
 *   Lost, as on one machine after a crash: events held for a resync (the
 *   account's next event starts it again) and drop counters.
 * Cost: one `last_by_subj` request per takeover, plus the headers of the
 *   host's messages the buckets had not caught up with (usually a few
 *   hundred; about a lease TTL's worth after a worker died); about 250
 *   bytes of headers per event in the stream.
 */
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { decodeAccountJson, encodeAccountJson } from '../accounts.ts'
import type { AccountState, AccountStore } from '../accounts.ts'
import type { EventAnnotator } from '../log/jetstream-event-log.ts'

function eventDid(event: UnsequencedEvent): string {
  return event.t === '#commit' ? event.repo : event.did
}

/** Is the stored state the one right after `event` (see the header)? */
function isStateOf(event: UnsequencedEvent, account: AccountState): boolean {
  switch (event.t) {
    case '#commit':
    case '#sync':
      return account.rev === event.rev
    case '#account':
      // Never exact: the stored state may already hold the rev of a commit
      // later in the same batch, and a takeover that applied it with this
      // event's cursor would drop that commit, when it comes again, as a replay.
      return false
    case '#identity':
      return true
  }
}

/** The annotator the cluster installs on its JetStream log (see the header). */
export function accountAnnotator(accounts: AccountStore): EventAnnotator {
  return (event) => {
    const account = accounts.get(eventDid(event) as AccountState['did'])
    if (account === null) return null
    const exact = isStateOf(event, account)
    const state = exact && event.t !== '#identity' ? encodeAccountJson(account) : null
    return { host: account.host, account: state, upstreamSeq: exact ? (event.seq ?? null) : null, exact }
  }
}

/** Is `remote` a later state than `local` (a later rev, or any state when there is none)? */
export function isLaterRev(remote: AccountState, local: AccountState | null): boolean {
  if (local === null || local.rev === null) return true
  return remote.rev !== null && remote.rev > local.rev
}

/** Apply the states read from the stream that are not older than what `accounts` holds; resolves with how many. */
export function applyStreamStates(states: ReadonlyMap<string, string>, accounts: AccountStore): number {
  let applied = 0
  for (const json of states.values()) {
    const remote = decodeAccountJson(json)
    const local = accounts.get(remote.did)
    if (local !== null && local.rev !== null && !isLaterRev(remote, local) && remote.rev !== local.rev) continue
    accounts.put(remote)
    applied++
  }
  return applied
}
