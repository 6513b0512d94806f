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
 * (`forceRefresh`: a key rotated after a migration). No token means a
 * logged-out viewer (null); a token that fails is 401 even for public
 * feeds — a client sending a broken token should hear about it.
 */
import { AtfedError } from '../core/errors.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import type { SigningKeyResolver } from '../core/crypto/jwt.ts'
import { serviceAuth } from '../core/xrpc/auth-header.ts'
import type { XrpcRequest } from '../core/xrpc/server.ts'
import type { Did } from '../core/syntax/did.ts'
import type { IdentityResolver } from '../did-resolver/identity-resolver.ts'

export const FEEDGEN_SERVICE_ID = 'bsky_fg'

export function signingKeyResolver(resolver: IdentityResolver): SigningKeyResolver {
  return async (did, { forceRefresh, keyId }) => {
    const identity = forceRefresh ? await resolver.refresh(did) : await resolver.resolveDid(did)
    const key: PublicKey | null | undefined =
      keyId === 'atproto' ? identity.signingKey : keyId === 'atproto_label' ? identity.labeler.key : undefined
    if (key === null || key === undefined) throw new AtfedError('BadJwtIss', `${did} has no #${keyId} key`)
    return key
  }
}

/** The router auth hook: the viewer's DID, or null without a token. */
export function viewerAuth(serviceDid: Did, resolver: IdentityResolver): (request: XrpcRequest) => Promise<Did | null> {
  const verify = serviceAuth({
    optional: true,
    audience: [serviceDid, `${serviceDid}#${FEEDGEN_SERVICE_ID}`],
    resolveSigningKey: signingKeyResolver(resolver),
  })
  return async (request) => (await verify(request))?.issDid ?? null
}
