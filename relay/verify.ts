/**
 * The first, concurrent half of the per-event pipeline (spec digest §8.1):
 * everything that needs the network or the CPU but not the account's stored
 * state. ingest.ts runs it for up to RELAY_HOST_PIPELINE_EVENTS_MAX events
 * of a host at once and applies the outcomes (accept.ts) in upstream order.
 *
 * In order, per event type:
 * - `#commit`: a cheap replay check against the stored rev (the in-order
 *   step repeats it); host authority; then verification with the DID's
 *   current `#atproto` key, and on a bad signature one forced re-resolve and
 *   a second try (the key may just have rotated). A DID that does not
 *   resolve is dropped, never passed unchecked (indigo skips the signature).
 * - `#sync`: host authority, then the commit-CAR checks with the same
 *   refresh-once rule.
 * - `#account`: host authority.
 * - `#identity`: from any host (any PDS may announce any DID). The DID is
 *   re-resolved (cache purged); the handle is kept only if the new document
 *   claims it and it resolves back to the DID, else the field is dropped.
 *
 * Host authority: the hostname of the DID document's `#atproto_pds` must be
 * the sending host. On a mismatch the DID is re-resolved once (rate-limited
 * per DID by ForcedResolveGate) before the event is dropped as 'WrongHost';
 * that is how a migrated account's new host is recognised.
 */
import { isAtfedError } from '../core/errors.ts'
import type { CID } from '../core/data/cid.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import type { AccountEvent, CommitEvent, IdentityEvent, StreamEvent, SyncEvent } from '../core/stream/events.ts'
import type { Did } from '../core/syntax/did.ts'
import type { AtprotoIdentity } from '../did-resolver/did-document.ts'
import type { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import type { AccountStore } from './accounts.ts'
import { dropReasonForVerifyError } from './drop-reasons.ts'
import type { DropReason } from './drop-reasons.ts'
import type { ForcedResolveGate } from './forced-resolve.ts'
import { hostOfEndpoint, hostsMatch } from './hosts/host-name.ts'
import type { HostName } from './hosts/host-name.ts'
import type { EventVerifier, VerifiedSummary } from './verifier.ts'

export type Drop = { readonly kind: 'drop'; readonly reason: DropReason; readonly did: Did | null; readonly detail: string }

export type Checked =
  | Drop
  | { readonly kind: 'commit'; readonly event: CommitEvent; readonly commit: CID; readonly data: CID }
  | { readonly kind: 'sync'; readonly event: SyncEvent; readonly commit: CID; readonly data: CID }
  | { readonly kind: 'identity'; readonly event: IdentityEvent }
  | { readonly kind: 'account'; readonly event: AccountEvent }

export type CheckDeps = {
  readonly resolver: IdentityResolver
  readonly verifier: EventVerifier
  readonly accounts: AccountStore
  readonly forced: ForcedResolveGate
  /** The dev flag: loopback spellings of one host match (hosts/host-name.ts hostsMatch). */
  readonly dev?: boolean
}

export function drop(reason: DropReason, did: Did | null, detail: string): Drop {
  return { kind: 'drop', reason, did, detail }
}

export async function checkEvent(host: HostName, event: StreamEvent, deps: CheckDeps): Promise<Checked> {
  switch (event.t) {
    case '#commit':
      return checkCommit(host, event, deps)
    case '#sync':
      return checkSync(host, event, deps)
    case '#identity':
      return checkIdentity(event, deps)
    case '#account': {
      const authority = await checkAuthority(host, event.did, deps)
      return authority.kind === 'drop' ? authority : { kind: 'account', event }
    }
  }
}

async function checkCommit(host: HostName, event: CommitEvent, deps: CheckDeps): Promise<Checked> {
  const stored = deps.accounts.get(event.repo)
  if (stored?.rev != null && event.rev <= stored.rev) {
    return drop('RevReplay', event.repo, `rev ${event.rev} is not after the stored ${stored.rev}`)
  }
  const authority = await checkAuthority(host, event.repo, deps)
  if (authority.kind === 'drop') return authority
  const verified = await verifyWithKeyRefresh(event.repo, (key) => deps.verifier.commit(event, key), deps)
  return 'kind' in verified ? verified : { kind: 'commit', event, commit: verified.commit, data: verified.data }
}

async function checkSync(host: HostName, event: SyncEvent, deps: CheckDeps): Promise<Checked> {
  const authority = await checkAuthority(host, event.did, deps)
  if (authority.kind === 'drop') return authority
  const verified = await verifyWithKeyRefresh(event.did, (key) => deps.verifier.sync(event, key), deps)
  return 'kind' in verified ? verified : { kind: 'sync', event, commit: verified.commit, data: verified.data }
}

async function checkIdentity(event: IdentityEvent, deps: CheckDeps): Promise<Checked> {
  let handle = null
  try {
    const identity = await deps.resolver.refresh(event.did)
    if (event.handle !== null && identity.handleVerified && identity.handle === event.handle) handle = event.handle
  } catch {
    // Gone or unreachable: still announce it (consumers resolve for themselves), without a handle.
  }
  return { kind: 'identity', event: { ...event, handle } }
}

type Authority = { readonly kind: 'ok'; readonly identity: AtprotoIdentity } | Drop

async function checkAuthority(host: HostName, did: Did, deps: CheckDeps): Promise<Authority> {
  let identity: AtprotoIdentity
  try {
    identity = await deps.resolver.resolveDid(did)
  } catch (err) {
    return drop('IdentityUnresolved', did, errorText(err))
  }
  const names = (pds: string | null): boolean => hostsMatch(hostOfEndpoint(pds), host, { dev: deps.dev === true })
  if (names(identity.pds)) return { kind: 'ok', identity }
  if (deps.forced.allow(did)) {
    try {
      identity = await deps.resolver.refresh(did)
    } catch (err) {
      return drop('IdentityUnresolved', did, errorText(err))
    }
    if (names(identity.pds)) return { kind: 'ok', identity }
  }
  return drop('WrongHost', did, `the DID document names ${identity.pds ?? 'no PDS'}, not ${host}`)
}

/** Carries a verification error out of the resolver's check (anything else it throws is a resolution failure). */
class VerifyFailure {
  constructor(readonly error: unknown) {}
}

/** Verify with the cached key; on a bad signature, re-resolve once and try the new key. */
async function verifyWithKeyRefresh(
  did: Did,
  verify: (key: PublicKey) => Promise<VerifiedSummary>,
  deps: CheckDeps,
): Promise<VerifiedSummary | Drop> {
  let result: VerifiedSummary | null = null
  try {
    const ok = await deps.resolver.verifyWithRefresh(did, async (key) => {
      try {
        result = await verify(key)
        return true
      } catch (err) {
        if (isAtfedError(err, 'BadCommitSignature')) return false
        throw new VerifyFailure(err)
      }
    })
    if (!ok || result === null) return drop('BadCommitSignature', did, 'not signed by the current #atproto key')
    return result
  } catch (err) {
    if (err instanceof VerifyFailure) return drop(dropReasonForVerifyError(err.error), did, errorText(err.error))
    return drop('IdentityUnresolved', did, errorText(err))
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
