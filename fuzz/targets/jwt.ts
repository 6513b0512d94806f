/**
 * Fuzz target: JWT verification as the PDS and the feed generator do it, on
 * the same token text (the bytes as latin1, so every byte is a character):
 * - `verifyServiceJwt` (core/crypto/jwt.ts): ES256/ES256K service auth, with
 *   the issuer's key served by a fixed resolver;
 * - `verifyAccessToken` / `verifyRefreshToken` (core/crypto/session-jwt.ts):
 *   the PDS's HS256 session tokens.
 * Each must REJECT with a documented name (BadJwt*, JwtExpired, UntrustedIss;
 * InvalidToken, ExpiredToken, MissingTokenId) or accept; accepting any token
 * other than the ones we minted as seeds is a forgery and a crash. The
 * service verifier's rejection is rethrown as the outcome (so regression
 * fixtures can name it); a session-verifier error of another name is a crash.
 * Besides byte edits, mutants change one claim or header value and re-encode
 * that segment, which reaches the claim checks that come before the signature.
 */
import { isAtfedError, AtfedError } from '../../core/errors.ts'
import { createServiceJwt, verifyServiceJwt } from '../../core/crypto/jwt.ts'
import { ACCESS_SCOPES, createAccessToken, createRefreshToken, createSessionSecret, verifyAccessToken, verifyRefreshToken } from '../../core/crypto/session-jwt.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { tokens } from '../engine/target.ts'
import { mutateJson } from '../engine/mutate.ts'
import type { Rng } from '../engine/rng.ts'
import { SEED_DID, seedKeypair } from '../seeds/repo.ts'

const SERVICE_ERRORS = ['BadJwt', 'BadJwtType', 'BadJwtIss', 'JwtExpired', 'BadJwtAudience', 'BadJwtLexiconMethod', 'BadJwtSignature', 'UntrustedIss']
const SESSION_ERRORS = ['InvalidToken', 'ExpiredToken', 'MissingTokenId']
const NOW_MS = Date.parse('2026-11-22T08:00:00.000Z')
const NOW_S = NOW_MS / 1000
const SERVICE_DID = parseDid('did:web:pds.example.com')
const LXM = 'app.bsky.feed.getFeedSkeleton'
const secret = createSessionSecret('fuzzing-secret-fuzzing-secret-32b')
const k256 = seedKeypair('k256')
const p256 = seedKeypair('p256')
const P256_DID = parseDid('did:plc:p256p256p256p256p256p256')

function mint(): string[] {
  const base = { aud: SERVICE_DID, iat: NOW_S - 10, exp: NOW_S + 50 }
  return [
    createServiceJwt({ ...base, iss: SEED_DID, lxm: LXM, keypair: k256, jti: 'abc' }),
    createServiceJwt({ ...base, iss: `${SEED_DID}#atproto_labeler`, lxm: LXM, keypair: k256, jti: null }),
    createServiceJwt({ ...base, iss: P256_DID, lxm: LXM, keypair: p256 }),
    createServiceJwt({ ...base, iss: SEED_DID, lxm: null, keypair: k256 }),
    createAccessToken({ did: SEED_DID, serviceDid: SERVICE_DID, secret, nowMs: NOW_MS - 1000 }).token,
    createAccessToken({ did: SEED_DID, serviceDid: SERVICE_DID, secret, nowMs: NOW_MS - 1000, scope: 'com.atproto.appPass' }).token,
    createRefreshToken({ did: SEED_DID, serviceDid: SERVICE_DID, secret, nowMs: NOW_MS - 1000, jti: 'row-1' }).token,
  ]
}

const minted = mint()
const mintedSet = new Set(minted)

async function resolveSigningKey(did: string): Promise<string> {
  if (did === SEED_DID) return k256.publicKey.didKey
  if (did === P256_DID) return p256.publicKey.didKey
  throw new AtfedError('DidNotFound', `no such DID ${did}`)
}

/** Runs one verifier: null when it accepted, its documented rejection otherwise; anything else propagates. */
async function attempt(names: readonly string[], verify: () => unknown): Promise<AtfedError | null> {
  try {
    await verify()
    return null
  } catch (err) {
    if (isAtfedError(err) && names.includes(err.name)) return err
    throw err
  }
}

/** Structure-aware edit: change one value of the header or the payload JSON and re-encode it (the signature stays). */
function editClaims(input: Uint8Array, rng: Rng): Uint8Array {
  const parts = Buffer.from(input).toString('latin1').split('.')
  if (parts.length !== 3) return input
  const i = rng.below(2)
  const json = new Uint8Array(Buffer.from(parts[i]!, 'base64url'))
  parts[i] = Buffer.from(mutateJson(json, rng)).toString('base64url')
  return new Uint8Array(Buffer.from(parts.join('.'), 'latin1'))
}

export const target: FuzzTarget = {
  name: 'jwt',
  expectedErrors: SERVICE_ERRORS,
  coverageDirs: ['core/crypto/', 'core/syntax/'],
  maxBytes: 4096,
  customEdit: editClaims,
  seeds: () => minted.map((t) => new Uint8Array(Buffer.from(t, 'latin1'))),
  dictionary: tokens('eyJ', 'In0', 'IiwiY', '.', '==', 'ES256', 'ES256K', 'HS256', 'none', 'at+jwt', 'refresh+jwt', '"alg"', '"typ"', '"kid"', '"crit"', '"lxm"', '"iss"', '"aud"', '"exp"', '"iat"', '"jti"'),
  async run(bytes) {
    const token = Buffer.from(bytes).toString('latin1')
    const service = await attempt(SERVICE_ERRORS, () => verifyServiceJwt(token, { audience: [SERVICE_DID, `${SERVICE_DID}#bsky_fg`], lxm: LXM, resolveSigningKey, nowMs: NOW_MS }))
    const access = await attempt(SESSION_ERRORS, () => verifyAccessToken(token, { secret, serviceDid: SERVICE_DID, scopes: ACCESS_SCOPES, nowMs: NOW_MS }))
    const refresh = await attempt(SESSION_ERRORS, () => verifyRefreshToken(token, { secret, serviceDid: SERVICE_DID, nowMs: NOW_MS }))
    const accepted = service === null || access === null || refresh === null
    if (accepted && !mintedSet.has(token)) throw new Error('a token we did not mint was accepted (forgery)')
    if (service !== null) throw service // the service verifier's documented rejection is the outcome
  },
}
