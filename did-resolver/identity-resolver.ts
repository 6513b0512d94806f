/**
 * The identity service every atfed service uses: DID or handle in, verified
 * atproto identity out, behind two bounded caches (cache.ts).
 *
 * - DID cache: DID → parsed document (`AtprotoIdentity`). Fetch errors are
 *   not cached; a stale entry whose re-fetch says the DID is gone
 *   (`DidNotFound`, `DidDeactivated`) is dropped rather than served on.
 * - Handle cache: handle → outcome of handle resolution (a DID, or the
 *   error). Failures ARE cached, so an identity with a broken handle does
 *   not cost a DNS query per lookup, but they go stale after
 *   HANDLE_FAILURE_STALE_MS (5 min, as indigo) instead of the full stale
 *   period, so a transient DNS timeout does not stick for an hour.
 *
 * Bi-directional check (handle spec): a handle is verified only when the DID
 * document's first `at://` alias is the handle AND the handle resolves back
 * to that DID. Otherwise the identity reads `handle.invalid` with
 * `handleVerified: false`; the rest of the identity is still returned.
 *
 * `refresh(did)` (on an `#identity` event) re-fetches the document and drops
 * the cached handle outcomes for the old and new handle.
 * `verifyWithRefresh(did, check)` runs a signature check against the cached
 * signing key and, if it fails, re-fetches the document once and retries.
 */
import { AtfedError, isAtfedError } from '../core/errors.ts'
import { HANDLE_FAILURE_STALE_MS } from '../core/limits.ts'
import { parseDid } from '../core/syntax/did.ts'
import type { Did } from '../core/syntax/did.ts'
import { HANDLE_INVALID, parseHandle } from '../core/syntax/handle.ts'
import type { Handle } from '../core/syntax/handle.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import { ResolverCache } from './cache.ts'
import type { CacheOptions } from './cache.ts'
import { parseAtprotoIdentity } from './did-document.ts'
import type { AtprotoIdentity, DidDocument } from './did-document.ts'
import { DidResolver } from './did-resolver.ts'
import type { DidResolverOptions } from './did-resolver.ts'
import { HandleResolver } from './handle-resolver.ts'
import type { HandleResolverOptions } from './handle-resolver.ts'

export type IdentityResolverOptions = DidResolverOptions &
  HandleResolverOptions & {
    cache?: CacheOptions
  }

export type ResolvedIdentity = {
  readonly did: Did
  /** The verified handle, or `handle.invalid`. */
  readonly handle: Handle
  readonly handleVerified: boolean
  readonly signingKey: PublicKey | null
  readonly pds: string | null
  readonly labeler: AtprotoIdentity['labeler']
  readonly feedgen: string | null
  readonly doc: DidDocument
}

type HandleOutcome = { readonly did: Did } | { readonly error: unknown }

export class IdentityResolver {
  readonly dids: DidResolver
  readonly handles: HandleResolver
  private readonly didCache: ResolverCache<Did, AtprotoIdentity>
  private readonly handleCache: ResolverCache<Handle, HandleOutcome>

  constructor(options: IdentityResolverOptions = {}) {
    this.dids = new DidResolver(options)
    this.handles = new HandleResolver(options)
    this.didCache = new ResolverCache(
      async (did) => parseAtprotoIdentity(did, await this.dids.resolveDid(did)),
      { dropOnError: isGone, ...options.cache },
    )
    this.handleCache = new ResolverCache(
      (handle) => this.handles.resolveHandle(handle).then((did) => ({ did }), (error: unknown) => ({ error })),
      { staleMsFor: (outcome) => ('error' in outcome ? HANDLE_FAILURE_STALE_MS : Infinity), ...options.cache },
    )
  }

  /** The parsed document of `did` (cached); its `handle` is only a claim. */
  resolveDid(did: Did): Promise<AtprotoIdentity> {
    return this.didCache.get(did)
  }

  /** The DID `handle` points at (cached). Throws the resolution error (`HandleNotFound`, ...). */
  async resolveHandle(handle: Handle): Promise<Did> {
    const outcome = await this.handleCache.get(handle)
    if ('error' in outcome) throw outcome.error
    return outcome.did
  }

  /** A DID or a handle → the identity with its handle verified both ways. */
  async resolveIdentity(didOrHandle: string): Promise<ResolvedIdentity> {
    if (didOrHandle.startsWith('did:')) return this.withVerifiedHandle(await this.resolveDid(parseDid(didOrHandle)))
    const handle = parseHandle(didOrHandle)
    const identity = await this.resolveDid(await this.resolveHandle(handle))
    // The handle led to this DID; it is verified if the document claims it back.
    return present(identity, identity.handle === handle)
  }

  /** The `#atproto` signing key of `did`; `MissingSigningKey` when the document has none. */
  async resolveSigningKey(did: Did): Promise<PublicKey> {
    const { signingKey } = await this.resolveDid(did)
    if (signingKey === null) throw new AtfedError('MissingSigningKey', `${did} has no #atproto key`)
    return signingKey
  }

  /** Re-fetch after an `#identity` event; cached handle outcomes for it are dropped. */
  async refresh(did: Did): Promise<ResolvedIdentity> {
    const before = this.didCache.peek(did)
    if (before?.handle) this.handleCache.delete(before.handle)
    const identity = await this.didCache.refresh(did)
    if (identity.handle !== null) this.handleCache.delete(identity.handle)
    return this.withVerifiedHandle(identity)
  }

  /**
   * Runs `check` with the cached signing key; if it fails, re-fetches the
   * document once and runs it again with the (possibly rotated) key.
   */
  verifyWithRefresh(did: Did, check: (key: PublicKey) => boolean | Promise<boolean>): Promise<boolean> {
    return this.didCache.verifyWithRefresh(did, (identity) =>
      identity.signingKey === null ? false : check(identity.signingKey),
    )
  }

  /** Release pooled connections (service shutdown). */
  close(): void {
    this.dids.close()
  }

  get cacheStats(): { dids: ResolverCache<Did, AtprotoIdentity>['stats']; handles: ResolverCache<Handle, HandleOutcome>['stats'] } {
    return { dids: this.didCache.stats, handles: this.handleCache.stats }
  }

  private async withVerifiedHandle(identity: AtprotoIdentity): Promise<ResolvedIdentity> {
    if (identity.handle === null) return present(identity, false)
    const outcome = await this.handleCache.get(identity.handle)
    return present(identity, 'did' in outcome && outcome.did === identity.did)
  }
}

/** A DID that no longer resolves is not served from a stale entry. */
function isGone(err: unknown): boolean {
  return isAtfedError(err, 'DidNotFound') || isAtfedError(err, 'DidDeactivated')
}

function present(identity: AtprotoIdentity, verified: boolean): ResolvedIdentity {
  return {
    did: identity.did,
    handle: verified && identity.handle !== null ? identity.handle : HANDLE_INVALID,
    handleVerified: verified,
    signingKey: identity.signingKey,
    pds: identity.pds,
    labeler: identity.labeler,
    feedgen: identity.feedgen,
    doc: identity.doc,
  }
}
