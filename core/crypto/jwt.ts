/**
 * Inter-service ("service auth") JWTs: ES256 / ES256K compact JWS signed with
 * an account's repo key (`#atproto`) or a labeler's `#atproto_label` key.
 *
 * `createServiceJwt` signs `{typ:'JWT', alg}` + `{iat, iss, aud, exp, lxm?, jti}`
 * (the reference's claim order) with our low-S keypairs.
 *
 * `verifyServiceJwt` checks, in this order, cheapest first, with the
 * reference's error names (all 401 at the XRPC edge):
 * 1. structure and base64url/JSON strictness (jwt-compact.ts) → `BadJwt`;
 * 2. header: `alg` is exactly ES256 or ES256K (so `none`, HS256, RS256 are
 *    refused before any key is fetched) → `BadJwt`; no `crit`; `typ` is not a
 *    session/OAuth type (`at+jwt`, `refresh+jwt`, `dpop+jwt`) → `BadJwtType`;
 * 3. claims: `iss` (DID or `did#service`) → `BadJwtIss`; `aud` string, `exp`
 *    number, optional `iat` number, `lxm`/`jti`/`nonce` strings → `BadJwt`;
 * 4. time: `exp` passed (beyond JWT_CLOCK_SKEW_S) → `JwtExpired`; `iat` in the
 *    future, or `exp` more than SERVICE_JWT_LIFETIME_MAX_S ahead → `BadJwt`;
 * 5. `aud` is one of ours → `BadJwtAudience` (a bare DID and `did#service` are
 *    distinct strings: callers list every form they accept);
 * 6. `lxm` equals the method being called; a token without `lxm` fails too
 *    (the reference rule) → `BadJwtLexiconMethod`;
 * 7. signature: the issuer's key must be the curve `alg` names, and the
 *    signature must verify (high-S and strict DER accepted, as the reference
 *    does for JWTs). On failure the key is fetched again with
 *    `forceRefresh: true` (key rotation after a migration) and, if it changed,
 *    tried once more → `BadJwtSignature`.
 * No `jti` replay cache (the reference has none; lifetimes are short).
 */
import { randomBytes } from 'node:crypto'
import { AtfedError } from '../errors.ts'
import { JWT_CLOCK_SKEW_S, SERVICE_JWT_LIFETIME_DEFAULT_S, SERVICE_JWT_LIFETIME_MAX_S } from '../limits.ts'
import { isDid, type Did } from '../syntax/did.ts'
import { isNsid } from '../syntax/nsid.ts'
import { claim, formatCompactJwt, optionalNumber, optionalString, splitCompactJwt } from './jwt-compact.ts'
import { verifyJwtSignature, type SigningKeyResolver } from './jwt-verify-key.ts'
import { jwtAlgForKeyType, keyTypeForJwtAlg } from './key-types.ts'
import type { Keypair } from './keypair.ts'

export type { SigningKeyResolver } from './jwt-verify-key.ts'

export type ServiceJwtClaims = {
  readonly iss: string
  readonly aud: string
  readonly exp: number
  readonly iat?: number
  readonly lxm?: string
  readonly jti?: string
}

export type VerifiedServiceJwt = ServiceJwtClaims & {
  /** The DID part of `iss`. */
  readonly issDid: Did
  /** Verification-method id the key was taken from (`atproto`, `atproto_label`). */
  readonly keyId: string
}

const FRAGMENT = /^[A-Za-z0-9._~-]{1,64}$/
const FORBIDDEN_TYP = new Set(['at+jwt', 'refresh+jwt', 'dpop+jwt'])

function bad(name: string, message: string): AtfedError {
  return new AtfedError(name, message)
}

/** `did` or `did#fragment`, split; null when it is neither. */
export function parseDidReference(ref: string): { did: Did; fragment: string | undefined } | null {
  const hash = ref.indexOf('#')
  const did = hash < 0 ? ref : ref.slice(0, hash)
  const fragment = hash < 0 ? undefined : ref.slice(hash + 1)
  if (!isDid(did)) return null
  if (fragment !== undefined && !FRAGMENT.test(fragment)) return null
  return { did, fragment }
}

export type CreateServiceJwtOptions = {
  /** The account (or service) DID the request is made for; `did#service` allowed. */
  iss: string
  /** The receiving service: its DID, or `did#serviceId`. */
  aud: string
  /** The NSID being called; omit only for tokens that are not tied to one method. */
  lxm?: string | null
  /** Unix seconds; default `iat` + SERVICE_JWT_LIFETIME_DEFAULT_S. */
  exp?: number
  /** Unix seconds; default now. */
  iat?: number
  /** Default 16 random bytes as hex; `null` leaves the claim out. */
  jti?: string | null
  keypair: Keypair
}

/** Sign a service JWT. Bad parameters are the caller's: `InvalidRequest`. */
export function createServiceJwt(opts: CreateServiceJwtOptions): string {
  if (parseDidReference(opts.iss) === null) throw bad('InvalidRequest', 'service jwt iss must be a DID or did#service')
  if (parseDidReference(opts.aud) === null) throw bad('InvalidRequest', 'service jwt aud must be a DID or did#service')
  const lxm = opts.lxm ?? undefined
  if (lxm !== undefined && !isNsid(lxm)) throw bad('InvalidRequest', 'service jwt lxm must be an NSID')
  const iat = opts.iat ?? Math.floor(Date.now() / 1000)
  const exp = opts.exp ?? iat + SERVICE_JWT_LIFETIME_DEFAULT_S
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) throw bad('InvalidRequest', 'iat and exp must be integers')
  if (exp <= iat || exp - iat > SERVICE_JWT_LIFETIME_MAX_S) {
    throw bad('InvalidRequest', `service jwt lifetime must be 1..${SERVICE_JWT_LIFETIME_MAX_S} s`)
  }
  const jti = opts.jti === undefined ? randomBytes(16).toString('hex') : (opts.jti ?? undefined)
  const header = { typ: 'JWT', alg: jwtAlgForKeyType(opts.keypair.type) }
  const payload: { [key: string]: string | number } = { iat, iss: opts.iss, aud: opts.aud, exp }
  if (lxm !== undefined) payload['lxm'] = lxm
  if (jti !== undefined) payload['jti'] = jti
  return formatCompactJwt(header, payload, (input) => opts.keypair.sign(input))
}

export type VerifyServiceJwtOptions = {
  /** Accepted `aud` values (e.g. `[did, did + '#bsky_fg']`); `null` skips the check. */
  audience: string | readonly string[] | null
  /** The NSID of the method being called; `null` skips the check. */
  lxm: string | null
  resolveSigningKey: SigningKeyResolver
  /** Clock, for tests. Default `Date.now()`. */
  nowMs?: number
}

function checkHeader(header: { readonly [key: string]: unknown }): { alg: 'ES256' | 'ES256K'; kid?: string } {
  const alg = claim(header, 'alg')
  if (typeof alg !== 'string') throw bad('BadJwt', 'jwt header has no alg')
  if (keyTypeForJwtAlg(alg) === undefined) throw bad('BadJwt', `unsupported jwt alg "${alg.slice(0, 16)}"`)
  if (claim(header, 'crit') !== undefined) throw bad('BadJwt', 'jwt "crit" header is not supported')
  const typ = optionalString(header, 'typ', 'BadJwt')
  if (typ !== undefined && FORBIDDEN_TYP.has(typ.toLowerCase())) throw bad('BadJwtType', `invalid jwt type "${typ}"`)
  const kid = optionalString(header, 'kid', 'BadJwt')
  return { alg: alg as 'ES256' | 'ES256K', ...(kid === undefined ? {} : { kid }) }
}

function readClaims(payload: { readonly [key: string]: unknown }): ServiceJwtClaims {
  const iss = claim(payload, 'iss')
  const aud = claim(payload, 'aud')
  const exp = claim(payload, 'exp')
  if (typeof iss !== 'string') throw bad('BadJwtIss', 'jwt iss must be a string')
  if (typeof aud !== 'string') throw bad('BadJwt', 'jwt aud must be a string')
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw bad('BadJwt', 'jwt exp is required and must be a number')
  const iat = optionalNumber(payload, 'iat', 'BadJwt')
  const lxm = optionalString(payload, 'lxm', 'BadJwt')
  const jti = optionalString(payload, 'jti', 'BadJwt')
  optionalString(payload, 'nonce', 'BadJwt')
  return { iss, aud, exp, ...(iat === undefined ? {} : { iat }), ...(lxm === undefined ? {} : { lxm }), ...(jti === undefined ? {} : { jti }) }
}

function checkTimes(claims: ServiceJwtClaims, nowS: number): void {
  if (nowS > claims.exp + JWT_CLOCK_SKEW_S) throw bad('JwtExpired', 'jwt expired')
  if (claims.iat !== undefined && claims.iat > nowS + JWT_CLOCK_SKEW_S) throw bad('BadJwt', 'jwt issued in the future')
  if (claims.exp > nowS + SERVICE_JWT_LIFETIME_MAX_S + JWT_CLOCK_SKEW_S) {
    throw bad('BadJwt', `jwt expires more than ${SERVICE_JWT_LIFETIME_MAX_S} s ahead`)
  }
}

function keyIdFor(kid: string | undefined, issFragment: string | undefined): string {
  if (kid !== undefined) {
    if (!kid.startsWith('#') || !FRAGMENT.test(kid.slice(1))) throw bad('BadJwt', 'jwt kid must be "#<verification method id>"')
    return kid.slice(1)
  }
  return issFragment === 'atproto_labeler' ? 'atproto_label' : 'atproto'
}

/** Verify a service JWT fully; see the module header for every check and its error name. */
export async function verifyServiceJwt(token: string, opts: VerifyServiceJwtOptions): Promise<VerifiedServiceJwt> {
  const jwt = splitCompactJwt(token, 'BadJwt')
  const { alg, kid } = checkHeader(jwt.header)
  const claims = readClaims(jwt.payload)
  const iss = parseDidReference(claims.iss)
  if (iss === null) throw bad('BadJwtIss', 'jwt iss must be a DID or did#service')
  checkTimes(claims, (opts.nowMs ?? Date.now()) / 1000)
  if (opts.audience !== null) {
    const accepted = typeof opts.audience === 'string' ? [opts.audience] : opts.audience
    if (!accepted.includes(claims.aud)) throw bad('BadJwtAudience', 'jwt audience does not match service did')
  }
  if (opts.lxm !== null && claims.lxm !== opts.lxm) {
    const message = claims.lxm === undefined ? 'missing jwt lexicon method ("lxm")' : 'bad jwt lexicon method ("lxm")'
    throw bad('BadJwtLexiconMethod', `${message}; must match ${opts.lxm}`)
  }
  const keyId = keyIdFor(kid, iss.fragment)
  await verifyJwtSignature(jwt, { alg, did: iss.did, keyId, resolveSigningKey: opts.resolveSigningKey })
  return { ...claims, issDid: iss.did, keyId }
}
