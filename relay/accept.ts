/**
 * The second, in-order half of the per-event pipeline: the checks against
 * stored account state, and the state change for an accepted event. It is
 * synchronous on purpose, and ingest.ts calls it in the host's upstream
 * order, so two events of one DID always see each other's effects.
 *
 * For every event of a DID from host H (verify.ts already checked that the
 * DID document names H):
 * 1. the account: created under H when new (unless H is at its accountsMax:
 *    'HostAccountLimit'), moved to H when it was filed under another host
 *    (a migration: the document now names H);
 * 2. `#commit`/`#sync` of an inactive account: 'AccountInactive'; of a
 *    desynchronized one: held for the running resync (resync.ts) or dropped;
 * 3. `#commit`: rev after the stored rev ('RevReplay'), then the chain:
 *    `since` must be the stored rev and `prevData` the stored data. A break is
 *    'ChainBroken': the account becomes desynchronized and a resync starts
 *    (the #sync it ends with covers this commit). An account's first commit
 *    seen is taken as is (it verified alone).
 * 4. `#sync`: the stored commit declared again passes unchanged (a PDS
 *    sends one after an account's first commit); an older rev, or the same
 *    rev with another commit, is 'RevReplay' (a rollback attempt); a newer
 *    one becomes the stored state.
 * 5. `#account`: the upstream status is stored and the relay's own view goes
 *    out (local takedown wins; a desynchronized account says so).
 * 6. `#identity`: passes (handle already settled by verify.ts).
 */
import type { CID } from '../core/data/cid.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import type { Did } from '../core/syntax/did.ts'
import { accountStatusField, isAccountActive, upstreamStatusOf } from './accounts.ts'
import type { AccountState, AccountStore } from './accounts.ts'
import type { DropReason } from './drop-reasons.ts'
import type { HostRecord, HostRegistry } from './hosts/host-registry.ts'
import type { Checked } from './verify.ts'

export type Outcome =
  | { readonly kind: 'accepted'; readonly event: UnsequencedEvent }
  | { readonly kind: 'dropped'; readonly reason: DropReason; readonly detail: string }
  | { readonly kind: 'held' }

/** What accept needs from the resync machinery (resync.ts). */
export interface ResyncControl {
  /** The account was just marked desynchronized: fetch its repo. */
  start(account: AccountState): void
  /** Keep `checked` for replay after the account's resync; false when it cannot (buffer full, resync failed recently). */
  hold(account: AccountState, checked: Checked): boolean
}

export type AcceptDeps = { readonly accounts: AccountStore; readonly hosts: HostRegistry; readonly resync: ResyncControl }

function dropped(reason: DropReason, detail: string): Outcome {
  return { kind: 'dropped', reason, detail }
}

export function acceptChecked(host: HostRecord, checked: Checked, deps: AcceptDeps): Outcome {
  switch (checked.kind) {
    case 'drop':
      return dropped(checked.reason, checked.detail)
    case 'identity':
      return { kind: 'accepted', event: checked.event }
    case 'account':
      return acceptAccount(host, checked, deps)
    case 'commit':
    case 'sync':
      return acceptRepoEvent(host, checked, deps)
  }
}

function acceptRepoEvent(host: HostRecord, checked: Checked & { kind: 'commit' | 'sync' }, deps: AcceptDeps): Outcome {
  const did = checked.kind === 'commit' ? checked.event.repo : checked.event.did
  const account = admit(host, did, deps)
  if (account === null) return dropped('HostAccountLimit', `${host.hostname} is at its limit of ${host.limits.accountsMax} accounts`)
  if (!isAccountActive(account)) return dropped('AccountInactive', `${did} is ${accountStatusField(account) ?? 'inactive'}`)
  if (account.status === 'desynchronized') {
    return deps.resync.hold(account, checked) ? { kind: 'held' } : dropped('AccountDesynchronized', `${did} awaits a resync`)
  }
  const { rev } = checked.event
  if (checked.kind === 'sync' && rev === account.rev && sameCid(checked.commit, account.commit)) {
    // The state we hold, declared again (a PDS follows a new account's first commit with it): passes, nothing changes.
    return { kind: 'accepted', event: checked.event }
  }
  if (account.rev !== null && rev <= account.rev) return dropped('RevReplay', `rev ${rev} is not after the stored ${account.rev}`)
  if (checked.kind === 'commit' && account.rev !== null) {
    const { since, prevData } = checked.event
    if (since !== account.rev || !sameCid(prevData, account.data)) {
      account.status = 'desynchronized'
      deps.accounts.put(account)
      deps.resync.start(account)
      return dropped('ChainBroken', `since ${since ?? 'null'} / prevData do not follow the stored rev ${account.rev}`)
    }
  }
  account.rev = rev
  account.commit = checked.commit
  account.data = checked.data
  deps.accounts.put(account)
  return { kind: 'accepted', event: checked.event }
}

function acceptAccount(host: HostRecord, checked: Checked & { kind: 'account' }, deps: AcceptDeps): Outcome {
  const { event } = checked
  const account = admit(host, event.did, deps)
  if (account === null) return dropped('HostAccountLimit', `${host.hostname} is at its limit of ${host.limits.accountsMax} accounts`)
  account.upstream = upstreamStatusOf(event.active, event.status)
  deps.accounts.put(account)
  const view = { t: '#account', did: event.did, time: event.time, active: isAccountActive(account), status: accountStatusField(account) } as const
  return { kind: 'accepted', event: view }
}

/** The account filed under `host`: created, moved there, or null when the host is full. */
function admit(host: HostRecord, did: Did, deps: AcceptDeps): AccountState | null {
  const account = deps.accounts.get(did)
  if (account !== null && account.host === host.hostname) return account
  if (account === null && host.accountCount >= host.limits.accountsMax) return null
  if (account !== null) {
    const previous = deps.hosts.get(account.host)
    if (previous !== undefined) deps.hosts.update(previous, (r) => (r.accountCount = Math.max(0, r.accountCount - 1)))
  }
  deps.hosts.update(host, (r) => r.accountCount++)
  const moved: AccountState = account ?? { did, host: host.hostname, rev: null, commit: null, data: null, status: 'active', upstream: 'active' }
  moved.host = host.hostname
  deps.accounts.put(moved)
  return moved
}

function sameCid(a: CID | null, b: CID | null): boolean {
  return a === null ? b === null : b !== null && a.equals(b)
}
