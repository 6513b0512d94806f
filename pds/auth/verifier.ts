/**
 * Router `auth` hooks for the PDS's credentials (what each route accepts is
 * chosen where the route is registered):
 *
 * - `access(opts)`: `Authorization: Bearer <session access token>`.
 *   No header → 401 `AuthMissing`; another scheme (Basic, DPoP) → 400
 *   `InvalidToken`; a bad, forged, `alg: none`, service (ES256/ES256K) or
 *   refresh token → 400 `InvalidToken`; expired → 400 `ExpiredToken` (what
 *   makes `@atproto/api` refresh); a scope the route does not take → 400
 *   `InvalidToken` "Bad token scope" (session-jwt.ts has every check). Then
 *   the account: gone → 403 `AccountNotFound`; with `checkTakedown`, taken
 *   down → 401 `AccountTakedown`; with `checkDeactivated`, deactivated →
 *   401 `AccountDeactivated`.
 *   Scopes: `standard` = main password and app passwords; `full` = main
 *   password only; `takendown` adds the takendown scope (migration out);
 *   `signupQueued` adds that scope (getSession).
 *   A token's signature and fixed claims are checked once and cached
 *   (token-cache.ts); expiry, scope and the account are checked every time.
 * - `refresh({allowExpired})`: a refresh token (rows are checked by the
 *   route: rotation may refuse a revoked one).
 * - `admin()`: `Basic base64("admin:<admin password>")`; no header → 401
 *   `AuthMissing`; anything else → 401 `AuthenticationRequired`. With no
 *   admin password configured every admin call is refused.
 * - `optionalAccessOrAdmin()`: either of the above, or null without a header
 *   (public reads that owners and the admin may extend, e.g. getRepo of a
 *   deactivated repo).
 */
import { timingSafeEqual } from 'node:crypto'
import { AtfedError } from '../../core/errors.ts'
import {
  verifyAccessToken,
  verifyRefreshToken,
  type AccessScope,
  type RefreshTokenClaims,
  type SessionSecret,
} from '../../core/crypto/session-jwt.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseAuthorization } from '../../core/xrpc/auth-header.ts'
import type { XrpcRequest } from '../../core/xrpc/server.ts'
import type { Account } from '../accounts/account.ts'
import type { AccountStore } from '../accounts/store.ts'
import { AccessTokenCache, type CachedAccessClaims } from './token-cache.ts'

export type AuthDeps = {
  secret: SessionSecret
  serviceDid: Did
  accounts: AccountStore
  adminPassword: string | null
  now?: () => number
  /** Verified access tokens kept (token-cache.ts); default PDS_ACCESS_TOKEN_CACHE_ENTRIES_MAX. */
  accessTokenCacheMax?: number
}

export type AccessCredentials = { type: 'access'; did: Did; scope: AccessScope; account: Account; token: string }
export type RefreshCredentials = { type: 'refresh'; did: Did; claims: RefreshTokenClaims; token: string }
export type AdminCredentials = { type: 'admin' }

export type AccessOptions = {
  scopes?: 'standard' | 'full'
  /** Also accept the takendown scope (migration out, appeals). */
  allowTakendownScope?: boolean
  allowSignupQueued?: boolean
  checkTakedown?: boolean
  checkDeactivated?: boolean
}

const STANDARD: readonly AccessScope[] = ['com.atproto.access', 'com.atproto.appPass', 'com.atproto.appPassPrivileged']
const FULL: readonly AccessScope[] = ['com.atproto.access']

function authMissing(): AtfedError {
  return new AtfedError('AuthMissing', 'Authentication Required')
}

function bearer(request: XrpcRequest): string {
  const auth = parseAuthorization(request.req.headers.authorization)
  if (auth === null) throw authMissing()
  if (auth.scheme !== 'Bearer') throw new AtfedError('InvalidToken', 'Unexpected authorization type')
  return auth.token
}

function scopesFor(opts: AccessOptions): AccessScope[] {
  const scopes = [...(opts.scopes === 'full' ? FULL : STANDARD)]
  if (opts.allowTakendownScope === true) scopes.push('com.atproto.takendown')
  if (opts.allowSignupQueued === true) scopes.push('com.atproto.signupQueued')
  return scopes
}

export class AuthVerifier {
  readonly #deps: AuthDeps
  readonly #tokens: AccessTokenCache

  constructor(deps: AuthDeps) {
    this.#deps = deps
    this.#tokens = new AccessTokenCache(deps.accessTokenCacheMax)
  }

  /** Checks an access token and its account (see the module header). */
  async verifyAccess(token: string, opts: AccessOptions = {}): Promise<AccessCredentials> {
    const claims = this.#accessClaims(token, scopesFor(opts))
    const account = await this.#deps.accounts.get(claims.sub)
    if (account === null || account.status === 'deleted') throw new AtfedError('AccountNotFound', 'Account not found')
    if (opts.checkTakedown === true && account.status === 'takendown') {
      throw new AtfedError('AccountTakedown', 'Account has been taken down')
    }
    if (opts.checkDeactivated === true && account.status === 'deactivated') {
      throw new AtfedError('AccountDeactivated', 'Account is deactivated')
    }
    return { type: 'access', did: claims.sub, scope: claims.scope, account, token }
  }

  /** The token's claims: from the cache (expiry and scope checked now) or fully verified, then cached. */
  #accessClaims(token: string, scopes: readonly AccessScope[]): CachedAccessClaims {
    const { secret, serviceDid } = this.#deps
    const nowMs = this.#deps.now?.() ?? Date.now()
    const cached = this.#tokens.get(token, nowMs)
    if (cached !== undefined) {
      if (!scopes.includes(cached.scope)) throw new AtfedError('InvalidToken', 'Bad token scope')
      return cached
    }
    const claims = verifyAccessToken(token, { secret, serviceDid, scopes, nowMs })
    this.#tokens.add(token, claims)
    return claims
  }

  access(opts: AccessOptions = {}): (request: XrpcRequest) => Promise<AccessCredentials> {
    return (request) => this.verifyAccess(bearer(request), opts)
  }

  refresh(opts: { allowExpired?: boolean } = {}): (request: XrpcRequest) => RefreshCredentials {
    return (request) => {
      const token = bearer(request)
      const nowMs = this.#deps.now?.()
      const claims = verifyRefreshToken(token, {
        secret: this.#deps.secret,
        serviceDid: this.#deps.serviceDid,
        ...(opts.allowExpired === true ? { allowExpired: true } : {}),
        ...(nowMs === undefined ? {} : { nowMs }),
      })
      return { type: 'refresh', did: claims.sub, claims, token }
    }
  }

  /** True when `token` (a Basic credential) is `admin:<admin password>`. */
  isAdminBasic(token: string): boolean {
    const password = this.#deps.adminPassword
    if (password === null) return false
    const given = Buffer.from(token, 'base64')
    const expected = Buffer.from(`admin:${password}`, 'utf8')
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  admin(): (request: XrpcRequest) => AdminCredentials {
    return (request) => {
      const auth = parseAuthorization(request.req.headers.authorization)
      if (auth === null) throw authMissing()
      if (auth.scheme !== 'Basic' || !this.isAdminBasic(auth.token)) {
        throw new AtfedError('AuthenticationRequired', 'Authentication Required')
      }
      return { type: 'admin' }
    }
  }

  optionalAccessOrAdmin(): (request: XrpcRequest) => Promise<AccessCredentials | AdminCredentials | null> {
    return async (request) => {
      const auth = parseAuthorization(request.req.headers.authorization)
      if (auth === null) return null
      if (auth.scheme === 'Basic') return this.admin()(request)
      return this.verifyAccess(bearer(request), { allowTakendownScope: true })
    }
  }
}
