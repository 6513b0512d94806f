/**
 * PDS session tokens (legacy password login): HS256 JWTs keyed by the
 * server's secret, `typ: at+jwt` for access tokens and `typ: refresh+jwt` for
 * refresh tokens, claims `{scope, aud: service DID, sub: account DID, iat,
 * exp}` plus `jti` on refresh tokens (the row id that makes them revocable).
 * Clients treat these tokens as opaque, so only the `typ` separation and the
 * scope names are shared with the reference.
 *
 * Verification, in order (error names as the reference PDS; at the XRPC edge
 * `InvalidToken` and `ExpiredToken` are 400, `MissingTokenId` 401):
 * 1. structure (jwt-compact.ts) → `InvalidToken`;
 * 2. `alg` is exactly HS256; an ES256/ES256K token is a service JWT presented
 *    to a session route → `InvalidToken` saying so; anything else (`none`,
 *    RS256) → `InvalidToken`;
 * 3. the HMAC, compared in constant time → `InvalidToken`;
 * 4. `typ` is the expected one (an access token is not a refresh token and
 *    vice versa) → `InvalidToken`;
 * 5. `exp` present and not passed → `ExpiredToken` (no skew: we issued it);
 * 6. `aud` is our DID, `sub` a DID, no `lxm` or `cnf` claim → `InvalidToken`;
 * 7. `scope` is one the route accepts → `InvalidToken` ("Bad token scope");
 * 8. refresh only: a `jti` → `MissingTokenId`.
 * Whether a refresh token's row still exists is the caller's check.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto'
import { AtfedError } from '../errors.ts'
import { ACCESS_JWT_LIFETIME_S, REFRESH_JWT_LIFETIME_S, SESSION_JWT_SECRET_BYTES_MIN } from '../limits.ts'
import { isDid, type Did } from '../syntax/did.ts'
import { claim, formatCompactJwt, optionalNumber, splitCompactJwt, type CompactJwt } from './jwt-compact.ts'

export type AccessScope =
  | 'com.atproto.access'
  | 'com.atproto.appPass'
  | 'com.atproto.appPassPrivileged'
  | 'com.atproto.signupQueued'
  | 'com.atproto.takendown'
export const ACCESS_SCOPES: readonly AccessScope[] = [
  'com.atproto.access',
  'com.atproto.appPass',
  'com.atproto.appPassPrivileged',
  'com.atproto.signupQueued',
  'com.atproto.takendown',
]
export const REFRESH_SCOPE = 'com.atproto.refresh'

const ACCESS_TYP = 'at+jwt'
const REFRESH_TYP = 'refresh+jwt'
const HMAC_BYTES = 32
const JTI_LENGTH_MAX = 256

/** The server's HMAC key; build once from config with `createSessionSecret`. */
export type SessionSecret = { readonly key: KeyObject; readonly __brand: 'SessionSecret' }

export type AccessTokenClaims = { scope: AccessScope; aud: Did; sub: Did; iat: number; exp: number }
export type RefreshTokenClaims = { scope: typeof REFRESH_SCOPE; aud: Did; sub: Did; jti: string; iat: number; exp: number }

export function createSessionSecret(secret: string | Uint8Array): SessionSecret {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
  if (bytes.length < SESSION_JWT_SECRET_BYTES_MIN) {
    throw new AtfedError('InvalidJwtSecret', `session JWT secret must be at least ${SESSION_JWT_SECRET_BYTES_MIN} bytes`)
  }
  return { key: createSecretKey(bytes) } as SessionSecret
}

/** A fresh refresh-token id: 32 random bytes, base64url. */
export function newRefreshTokenId(): string {
  return randomBytes(32).toString('base64url')
}

function hmac(secret: SessionSecret, input: Uint8Array): Uint8Array {
  return createHmac('sha256', secret.key).update(input).digest()
}

type SessionBase = { did: Did; serviceDid: Did; secret: SessionSecret; nowMs?: number; lifetimeS?: number }

function sign(typ: string, claims: { [key: string]: string | number }, secret: SessionSecret): string {
  return formatCompactJwt({ typ, alg: 'HS256' }, claims, (input) => hmac(secret, input))
}

function times(opts: SessionBase, defaultLifetimeS: number): { iat: number; exp: number } {
  const iat = Math.floor((opts.nowMs ?? Date.now()) / 1000)
  return { iat, exp: iat + (opts.lifetimeS ?? defaultLifetimeS) }
}

export function createAccessToken(opts: SessionBase & { scope?: AccessScope }): { token: string; claims: AccessTokenClaims } {
  const claims: AccessTokenClaims = {
    scope: opts.scope ?? 'com.atproto.access',
    aud: opts.serviceDid,
    sub: opts.did,
    ...times(opts, ACCESS_JWT_LIFETIME_S),
  }
  return { token: sign(ACCESS_TYP, claims, opts.secret), claims }
}

export function createRefreshToken(opts: SessionBase & { jti?: string }): { token: string; claims: RefreshTokenClaims } {
  const claims: RefreshTokenClaims = {
    scope: REFRESH_SCOPE,
    aud: opts.serviceDid,
    sub: opts.did,
    jti: opts.jti ?? newRefreshTokenId(),
    ...times(opts, REFRESH_JWT_LIFETIME_S),
  }
  return { token: sign(REFRESH_TYP, claims, opts.secret), claims }
}

function invalid(message: string): AtfedError {
  return new AtfedError('InvalidToken', message)
}

type VerifyBase = { secret: SessionSecret; serviceDid: Did; nowMs?: number }

/** Steps 1–6 of the module header; returns the payload and the checked common claims. */
function verifySession(
  token: string,
  typ: string,
  opts: VerifyBase & { allowExpired?: boolean },
): { jwt: CompactJwt; sub: Did; iat: number; exp: number } {
  const jwt = splitCompactJwt(token, 'InvalidToken')
  const alg = claim(jwt.header, 'alg')
  if (alg === 'ES256' || alg === 'ES256K') throw invalid('service tokens are not accepted here')
  if (alg !== 'HS256') throw invalid('Token could not be verified')
  const expected = hmac(opts.secret, jwt.signingInput)
  if (jwt.signature.length !== HMAC_BYTES || !timingSafeEqual(jwt.signature, expected)) {
    throw invalid('Token could not be verified')
  }
  if (claim(jwt.header, 'typ') !== typ) throw invalid('Invalid token type')
  const { payload } = jwt
  const exp = claim(payload, 'exp')
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalid('Malformed token')
  const iat = optionalNumber(payload, 'iat', 'InvalidToken') ?? 0
  if (opts.allowExpired !== true && (opts.nowMs ?? Date.now()) / 1000 >= exp) {
    throw new AtfedError('ExpiredToken', 'Token has expired')
  }
  if (claim(payload, 'aud') !== opts.serviceDid) throw invalid('Token audience is not this service')
  const sub = claim(payload, 'sub')
  if (!isDid(sub)) throw invalid('Malformed token')
  if (claim(payload, 'lxm') !== undefined || claim(payload, 'cnf') !== undefined) throw invalid('Malformed token')
  return { jwt, sub, iat, exp }
}

/** Verify an access token for a route that accepts `scopes`. */
export function verifyAccessToken(
  token: string,
  opts: VerifyBase & { scopes: readonly AccessScope[] },
): AccessTokenClaims {
  const { jwt, sub, iat, exp } = verifySession(token, ACCESS_TYP, opts)
  const scope = claim(jwt.payload, 'scope')
  if (typeof scope !== 'string' || !opts.scopes.includes(scope as AccessScope)) throw invalid('Bad token scope')
  return { scope: scope as AccessScope, aud: opts.serviceDid, sub, iat, exp }
}

/** Verify a refresh token; `allowExpired` for deleteSession (revoking an expired token). */
export function verifyRefreshToken(token: string, opts: VerifyBase & { allowExpired?: boolean }): RefreshTokenClaims {
  const { jwt, sub, iat, exp } = verifySession(token, REFRESH_TYP, opts)
  if (claim(jwt.payload, 'scope') !== REFRESH_SCOPE) throw invalid('Bad token scope')
  const jti = claim(jwt.payload, 'jti')
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > JTI_LENGTH_MAX) {
    throw new AtfedError('MissingTokenId', 'Unexpected missing refresh token id')
  }
  return { scope: REFRESH_SCOPE, aud: opts.serviceDid, sub, jti, iat, exp }
}
