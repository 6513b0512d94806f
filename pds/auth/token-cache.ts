/**
 * Verified access-token claims, kept so a client sending the same token on
 * every request pays the HS256 check (split, base64 and JSON decodes, HMAC)
 * once per token instead of once per request.
 *
 * What is cached is only what depends on the token's bytes alone: that it is
 * a well-formed, correctly signed `at+jwt` for this service, and its `sub`,
 * `scope` and `exp`. Everything that can change while a token lives is still
 * checked on every request by the caller (auth/verifier.ts): expiry against
 * the current clock, the route's accepted scopes, and the account row
 * (deleted, taken down, deactivated). Access tokens are stateless (as in the
 * reference): revoking a session or an app password ends its refresh token
 * and logins, not an access token already issued; with or without this
 * cache the behavior is the same. The key is the whole token string, so
 * only the exact token that was verified hits.
 *
 * Bounded: at most PDS_ACCESS_TOKEN_CACHE_ENTRIES_MAX tokens, least recently
 * used dropped first (core/crypto/key-cache.ts BoundedLru); an expired token
 * is dropped when seen.
 */
import { BoundedLru } from '../../core/crypto/key-cache.ts'
import type { AccessScope } from '../../core/crypto/session-jwt.ts'
import { PDS_ACCESS_TOKEN_CACHE_ENTRIES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'

export type CachedAccessClaims = { readonly sub: Did; readonly scope: AccessScope; readonly exp: number }

export class AccessTokenCache {
  readonly #entries: BoundedLru<string, CachedAccessClaims>

  constructor(max = PDS_ACCESS_TOKEN_CACHE_ENTRIES_MAX) {
    this.#entries = new BoundedLru(max)
  }

  get size(): number {
    return this.#entries.size
  }

  /** The token's claims if it was verified before and has not expired at `nowMs`. */
  get(token: string, nowMs: number): CachedAccessClaims | undefined {
    const claims = this.#entries.get(token)
    if (claims === undefined || nowMs / 1000 < claims.exp) return claims
    this.#entries.delete(token)
    return undefined
  }

  /** Remember a token that just passed full verification. */
  add(token: string, claims: CachedAccessClaims): void {
    this.#entries.set(token, { sub: claims.sub, scope: claims.scope, exp: claims.exp })
  }
}
