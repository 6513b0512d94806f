/**
 * PDS session tokens (HS256): round trips with the reference's header and
 * claims, an independently computed HMAC, and the negative space by name:
 * expired, wrong scope, tampered, token-type confusion (refresh as access,
 * access as refresh, a service JWT on a session route), alg none, wrong
 * secret, wrong audience, missing jti — plus the statuses those names get at
 * the XRPC edge.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { AtfedError } from '../../core/errors.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import {
  createAccessToken,
  createRefreshToken,
  createSessionSecret,
  verifyAccessToken,
  verifyRefreshToken,
  type AccessScope,
} from '../../core/crypto/session-jwt.ts'
import { toXrpcError } from '../../core/xrpc/errors.ts'
import { ACCESS_JWT_LIFETIME_S, REFRESH_JWT_LIFETIME_S } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'

const SECRET_TEXT = '3f1c2d9a8b7e6f5a4c3b2a1908f7e6d5'
const secret = createSessionSecret(SECRET_TEXT)
const PDS = 'did:web:pds.example.com' as Did
const USER = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz' as Did
const NOW_MS = 1_800_000_000_000
const NOW_S = NOW_MS / 1000
const FULL: readonly AccessScope[] = ['com.atproto.access']
const STANDARD: readonly AccessScope[] = ['com.atproto.access', 'com.atproto.appPass', 'com.atproto.appPassPrivileged']

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url')
const decode = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString())

function hs256(header: object, payload: object, key: string | Uint8Array = SECRET_TEXT): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  return `${input}.${b64url(createHmac('sha256', key).update(input).digest())}`
}

const accessOpts = { secret, serviceDid: PDS, scopes: STANDARD, nowMs: NOW_MS }
const refreshOpts = { secret, serviceDid: PDS, nowMs: NOW_MS }
const accessClaims = { scope: 'com.atproto.access', aud: PDS, sub: USER, iat: NOW_S, exp: NOW_S + 7200 }

function throwsName(fn: () => unknown, name: string, message?: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof AtfedError, String(err))
    assert.equal(err.name, name, err.message)
    if (message !== undefined) assert.match(err.message, message)
    return true
  })
}

test('access and refresh tokens: header, claims and lifetimes as the reference; round trip', () => {
  const access = createAccessToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS, scope: 'com.atproto.appPass' })
  const [h, p] = access.token.split('.') as [string, string]
  assert.deepEqual(decode(h), { typ: 'at+jwt', alg: 'HS256' })
  assert.deepEqual(decode(p), { scope: 'com.atproto.appPass', aud: PDS, sub: USER, iat: NOW_S, exp: NOW_S + ACCESS_JWT_LIFETIME_S })
  assert.deepEqual(verifyAccessToken(access.token, accessOpts), access.claims)
  const refresh = createRefreshToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS })
  assert.deepEqual(decode(refresh.token.split('.')[0]!), { typ: 'refresh+jwt', alg: 'HS256' })
  assert.equal(refresh.claims.exp - refresh.claims.iat, REFRESH_JWT_LIFETIME_S)
  assert.match(refresh.claims.jti, /^[A-Za-z0-9_-]{43}$/)
  assert.deepEqual(verifyRefreshToken(refresh.token, refreshOpts), refresh.claims)
  assert.notEqual(createRefreshToken({ did: USER, serviceDid: PDS, secret }).claims.jti, refresh.claims.jti)
})

test('an independently built HS256 token verifies (the HMAC key is the secret\'s UTF-8 bytes)', () => {
  const token = hs256({ typ: 'at+jwt', alg: 'HS256' }, accessClaims)
  assert.equal(verifyAccessToken(token, accessOpts).sub, USER)
  assert.equal(verifyAccessToken(token, { ...accessOpts, secret: createSessionSecret(Buffer.from(SECRET_TEXT)) }).sub, USER)
})

test('expired → ExpiredToken (at exp exactly); refresh may allow expired for deleteSession', () => {
  const access = createAccessToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS })
  const atExp = NOW_MS + ACCESS_JWT_LIFETIME_S * 1000
  assert.equal(verifyAccessToken(access.token, { ...accessOpts, nowMs: atExp - 1 }).sub, USER)
  throwsName(() => verifyAccessToken(access.token, { ...accessOpts, nowMs: atExp }), 'ExpiredToken', /Token has expired/)
  const refresh = createRefreshToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS, lifetimeS: 10 })
  throwsName(() => verifyRefreshToken(refresh.token, { ...refreshOpts, nowMs: NOW_MS + 10_000 }), 'ExpiredToken')
  assert.equal(verifyRefreshToken(refresh.token, { ...refreshOpts, nowMs: NOW_MS + 10_000, allowExpired: true }).sub, USER)
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, { ...accessClaims, exp: undefined }), accessOpts), 'InvalidToken')
})

test('scopes: an app password on a full-access route, unknown scopes, the refresh scope → InvalidToken', () => {
  const app = createAccessToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS, scope: 'com.atproto.appPass' })
  throwsName(() => verifyAccessToken(app.token, { ...accessOpts, scopes: FULL }), 'InvalidToken', /Bad token scope/)
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, { ...accessClaims, scope: 'admin' }), accessOpts), 'InvalidToken', /scope/)
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, { ...accessClaims, scope: 'com.atproto.refresh' }), accessOpts), 'InvalidToken', /scope/)
  const takendown = createAccessToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS, scope: 'com.atproto.takendown' })
  throwsName(() => verifyAccessToken(takendown.token, accessOpts), 'InvalidToken')
  assert.equal(verifyAccessToken(takendown.token, { ...accessOpts, scopes: ['com.atproto.takendown'] }).scope, 'com.atproto.takendown')
})

test('tampering: payload edited, signature flipped, another secret, alg none → InvalidToken', () => {
  const { token } = createAccessToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS, scope: 'com.atproto.appPass' })
  const [h, , s] = token.split('.') as [string, string, string]
  const elevated = b64url(JSON.stringify({ ...accessClaims }))
  throwsName(() => verifyAccessToken(`${h}.${elevated}.${s}`, accessOpts), 'InvalidToken', /could not be verified/)
  const sig = Buffer.from(s, 'base64url')
  sig[0]! ^= 0x80
  throwsName(() => verifyAccessToken(`${token.split('.').slice(0, 2).join('.')}.${b64url(sig)}`, accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, accessClaims, 'another-secret-of-enough-length'), accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken(`${b64url(JSON.stringify({ typ: 'at+jwt', alg: 'none' }))}.${b64url(JSON.stringify(accessClaims))}.`, accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS512' }, accessClaims), accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken(`${token}x`, accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken('', accessOpts), 'InvalidToken')
})

test('type confusion: refresh as access, access as refresh, a service JWT on a session route', () => {
  const refresh = createRefreshToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS })
  throwsName(() => verifyAccessToken(refresh.token, accessOpts), 'InvalidToken', /Invalid token type/)
  const access = createAccessToken({ did: USER, serviceDid: PDS, secret, nowMs: NOW_MS })
  throwsName(() => verifyRefreshToken(access.token, refreshOpts), 'InvalidToken', /Invalid token type/)
  const service = createServiceJwt({ iss: USER, aud: PDS, lxm: 'com.atproto.server.getSession', keypair: generateKeypair('k256') })
  throwsName(() => verifyAccessToken(service, accessOpts), 'InvalidToken', /service tokens are not accepted here/)
  // Correctly signed with our secret but carrying lxm or cnf: still not a session token.
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, { ...accessClaims, lxm: 'a.b.c' }), accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, { ...accessClaims, cnf: { jkt: 'x' } }), accessOpts), 'InvalidToken')
  throwsName(() => verifyAccessToken(hs256({ alg: 'HS256' }, accessClaims), accessOpts), 'InvalidToken', /type/)
})

test('audience, subject and jti checks', () => {
  const other = createAccessToken({ did: USER, serviceDid: 'did:web:other.example.com' as Did, secret, nowMs: NOW_MS })
  throwsName(() => verifyAccessToken(other.token, accessOpts), 'InvalidToken', /audience/)
  throwsName(() => verifyAccessToken(hs256({ typ: 'at+jwt', alg: 'HS256' }, { ...accessClaims, sub: 'alice' }), accessOpts), 'InvalidToken')
  const noJti = hs256({ typ: 'refresh+jwt', alg: 'HS256' }, { scope: 'com.atproto.refresh', aud: PDS, sub: USER, iat: NOW_S, exp: NOW_S + 60 })
  throwsName(() => verifyRefreshToken(noJti, refreshOpts), 'MissingTokenId')
  throwsName(() => createSessionSecret('short'), 'InvalidJwtSecret')
})

test('at the XRPC edge: session errors are 400 (refresh trigger), MissingTokenId and service-JWT errors 401', () => {
  const status = (name: string) => toXrpcError(new AtfedError(name, 'm')).status
  assert.equal(status('ExpiredToken'), 400)
  assert.equal(status('InvalidToken'), 400)
  assert.equal(status('MissingTokenId'), 401)
  assert.equal(status('AuthMissing'), 401)
  for (const name of ['BadJwt', 'BadJwtType', 'BadJwtIss', 'BadJwtAudience', 'BadJwtLexiconMethod', 'BadJwtSignature', 'JwtExpired']) {
    assert.equal(status(name), 401, name)
  }
})
