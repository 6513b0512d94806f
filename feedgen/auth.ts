/**
 * Service auth for feed requests. The AppView forwards the viewer's service
 * JWT (`iss` = viewer, `aud` = our DID, `lxm` = getFeedSkeleton, short
 * `exp`), minted by the viewer's PDS with their `#atproto` key. Checks and
 * error names are core/crypto/jwt.ts `verifyServiceJwt` (all 401):
 * `BadJwt`, `BadJwtType`, `BadJwtIss`, `JwtExpired`, `BadJwtAudience`,
 * `BadJwtLexiconMethod`, `BadJwtSignature`.
 *
 * Accepted audiences: our DID and `<our DID>#bsky_fg` (the fragment form the
 * spec is moving to). The issuer's key comes from the identity resolver's
 * cache; on a signature failure the document is fetched again once
 * (`forceRefresh`: a key rotated after a migration), but at most once per
 * DID every `refetchMinMs` (DID_CACHE_FORCED_REFRESH_MIN_MS): otherwise a
 * flood of forged tokens naming a real DID would make one PLC request
 * each. Within that window the cached key answers. No token means a
 * logged-out viewer (null); a token that fails is 401 even for public
 * feeds — a client sending a broken token should hear about it.
 */
import { AtfedError } from '../core/errors.ts'
import { DID_CACHE_FORCED_REFRESH_MIN_MS, FEEDGEN_JWT_REFETCH_TRACKED_MAX } from '../core/limits.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import type { SigningKeyResolver } from '../core/crypto/jwt.ts'
import { serviceAuth } from '../core/xrpc/auth-header.ts'
import type { XrpcRequest } from '../core/xrpc/server.ts'
import type { Did } from '../core/syntax/did.ts'
import type { IdentityResolver } from '../did-resolver/identity-resolver.ts'

export const FEEDGEN_SERVICE_ID = 'bsky_fg'

export type SigningKeyOptions = { refetchMinMs?: number; now?: () => number }

export function signingKeyResolver(resolver: IdentityResolver, options: SigningKeyOptions = {}): SigningKeyResolver {
  const refetchMinMs = options.refetchMinMs ?? DID_CACHE_FORCED_REFRESH_MIN_MS
  const now = options.now ?? Date.now
  const lastRefetch = new Map<string, number>()
  const mayRefetch = (did: string): boolean => {
    const t = now()
    const last = lastRefetch.get(did)
    if (last !== undefined && t - last < refetchMinMs) return false
    if (lastRefetch.size >= FEEDGEN_JWT_REFETCH_TRACKED_MAX) lastRefetch.clear()
    lastRefetch.set(did, t)
    return true
  }
  return async (did, { forceRefresh, keyId }) => {
    const identity = forceRefresh && mayRefetch(did) ? await resolver.refresh(did) : await resolver.resolveDid(did)
    const key: PublicKey | null | undefined =
      keyId === 'atproto' ? identity.signingKey : keyId === 'atproto_label' ? identity.labeler.key : undefined
    if (key === null || key === undefined) throw new AtfedError('BadJwtIss', `${did} has no #${keyId} key`)
    return key
  }
}

/** The router auth hook: the viewer's DID, or null without a token. */
export function viewerAuth(
  serviceDid: Did,
  resolver: IdentityResolver,
  options: SigningKeyOptions = {},
): (request: XrpcRequest) => Promise<Did | null> {
  const verify = serviceAuth({
    optional: true,
    audience: [serviceDid, `${serviceDid}#${FEEDGEN_SERVICE_ID}`],
    resolveSigningKey: signingKeyResolver(resolver, options),
  })
  return async (request) => (await verify(request))?.issDid ?? null
}
