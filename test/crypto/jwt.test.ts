/**
 * Service JWTs: ours verify, and tokens hand-built with @atproto/crypto
 * keypairs (the reference's keys and signer) verify; our signatures verify
 * under @atproto/crypto. Then the negative space, each by its error name:
 * alg none / HS256 / RS256 / the other curve's alg, wrong aud, expired,
 * missing exp, wrong or missing lxm, forged signature, malformed base64url,
 * token types, and the key-refetch rule. A seeded property: no single
 * character change of a valid token verifies.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { P256Keypair, Secp256k1Keypair, verifySignature as atprotoVerify } from '@atproto/crypto'
import { AtfedError } from '../../core/errors.ts'
import { generateKeypair, type Keypair } from '../../core/crypto/keypair.ts'
import { CURVES, type KeyType, type PublicKey } from '../../core/crypto/key-types.ts'
import { createServiceJwt, verifyServiceJwt, type VerifyServiceJwtOptions } from '../../core/crypto/jwt.ts'
import { derToCompact } from '../../core/crypto/jwt-signature.ts'
import { JWT_CLOCK_SKEW_S, JWT_LENGTH_MAX, SERVICE_JWT_LIFETIME_MAX_S } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'

const ISS = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const AUD = 'did:web:feed.example.com'
const LXM = 'app.bsky.feed.getFeedSkeleton'
const NOW_S = 1_800_000_000
const NOW_MS = NOW_S * 1000

const ours: Record<KeyType, Keypair> = { k256: generateKeypair('k256'), p256: generateKeypair('p256') }

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url')

type Calls = Array<{ did: string; forceRefresh: boolean; keyId: string }>

/** A resolver answering `keys[0]` first and `keys[1]` (or `keys[0]`) on a forced refresh. */
function resolverFor(...keys: Array<PublicKey | string>) {
  const calls: Calls = []
  const resolveSigningKey: VerifyServiceJwtOptions['resolveSigningKey'] = async (did, { forceRefresh, keyId }) => {
    calls.push({ did, forceRefresh, keyId })
    return forceRefresh ? (keys[1] ?? keys[0]!) : keys[0]!
  }
  return { calls, resolveSigningKey }
}

function opts(key: PublicKey | string, extra: Partial<VerifyServiceJwtOptions> = {}): VerifyServiceJwtOptions {
  return { audience: AUD, lxm: LXM, nowMs: NOW_MS, ...resolverFor(key), ...extra }
}

function ourToken(type: KeyType = 'k256', claims: Partial<Parameters<typeof createServiceJwt>[0]> = {}): string {
  return createServiceJwt({ iss: ISS, aud: AUD, lxm: LXM, iat: NOW_S, exp: NOW_S + 60, keypair: ours[type], ...claims })
}

/** A JWS built by hand from raw header/payload JSON and a signer. */
async function handBuilt(header: object, payload: object, sign: (input: Uint8Array) => Promise<Uint8Array> | Uint8Array): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  return `${input}.${b64url(await sign(Buffer.from(input)))}`
}

const basePayload = { iss: ISS, aud: AUD, exp: NOW_S + 60, iat: NOW_S, lxm: LXM }

async function rejects(token: string, options: VerifyServiceJwtOptions, name: string): Promise<void> {
  await assert.rejects(verifyServiceJwt(token, options), (err: Error) => {
    assert.ok(err instanceof AtfedError, String(err))
    assert.equal(err.name, name, err.message)
    return true
  })
}

test('ours round-trip on both curves; the claims come back; the signature verifies under @atproto/crypto', async () => {
  for (const type of ['k256', 'p256'] as const) {
    const token = ourToken(type, { jti: 'abc' })
    const [h, p, s] = token.split('.') as [string, string, string]
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { typ: 'JWT', alg: CURVES[type].jwtAlg })
    assert.deepEqual(Object.keys(JSON.parse(Buffer.from(p, 'base64url').toString())), ['iat', 'iss', 'aud', 'exp', 'lxm', 'jti'])
    const { calls, resolveSigningKey } = resolverFor(ours[type].publicKey)
    const verified = await verifyServiceJwt(token, { audience: [AUD, `${AUD}#bsky_fg`], lxm: LXM, nowMs: NOW_MS, resolveSigningKey })
    assert.deepEqual(verified, { iat: NOW_S, iss: ISS, aud: AUD, exp: NOW_S + 60, lxm: LXM, jti: 'abc', issDid: ISS, keyId: 'atproto' })
    assert.deepEqual(calls, [{ did: ISS, forceRefresh: false, keyId: 'atproto' }])
    assert.equal(await atprotoVerify(ours[type].publicKey.didKey, Buffer.from(`${h}.${p}`), Buffer.from(s, 'base64url')), true)
  }
})

test('tokens hand-built with @atproto/crypto keypairs verify (did:key strings from their keypair)', async () => {
  for (const theirs of [await Secp256k1Keypair.create(), await P256Keypair.create()]) {
    const token = await handBuilt({ typ: 'JWT', alg: theirs.jwtAlg }, { ...basePayload, jti: 'ff00' }, (m) => theirs.sign(m))
    const verified = await verifyServiceJwt(token, opts(theirs.did()))
    assert.equal(verified.iss, ISS)
    // Their format without typ and iat (older reference issuers) is fine too.
    const minimal = await handBuilt({ alg: theirs.jwtAlg }, { iss: ISS, aud: AUD, exp: NOW_S + 60, lxm: LXM }, (m) => theirs.sign(m))
    assert.equal((await verifyServiceJwt(minimal, opts(theirs.did()))).aud, AUD)
  }
})

test('defaults: exp = iat + 60, a 32-hex-char jti, jti null omitted, lxm optional', () => {
  const token = createServiceJwt({ iss: `${ISS}#atproto_labeler`, aud: `${AUD}#bsky_fg`, keypair: ours.k256, jti: null })
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
  assert.equal(payload.exp - payload.iat, 60)
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 5)
  assert.equal('jti' in payload || 'lxm' in payload, false)
  const withJti = JSON.parse(Buffer.from(ourToken().split('.')[1]!, 'base64url').toString())
  assert.match(withJti.jti, /^[0-9a-f]{32}$/)
  for (const bad of [{ iss: 'alice' }, { aud: 'https://x' }, { lxm: 'not an nsid' }, { exp: NOW_S + SERVICE_JWT_LIFETIME_MAX_S + 1 }, { exp: NOW_S }]) {
    assert.throws(() => ourToken('k256', bad), { name: 'InvalidRequest' }, JSON.stringify(bad))
  }
  assert.doesNotThrow(() => ourToken('k256', { exp: NOW_S + SERVICE_JWT_LIFETIME_MAX_S }))
})

test('high-S and strict DER signatures are accepted (reference leniency for JWTs); sloppy DER is not', async () => {
  const token = ourToken('p256')
  const [h, p, s] = token.split('.') as [string, string, string]
  const sig = Buffer.from(s, 'base64url')
  const order = CURVES.p256.order
  const highS = Buffer.concat([sig.subarray(0, 32), Buffer.from((order - BigInt('0x' + sig.subarray(32).toString('hex'))).toString(16).padStart(64, '0'), 'hex')])
  await verifyServiceJwt(`${h}.${p}.${b64url(highS)}`, opts(ours.p256.publicKey))
  const der = toDer(sig)
  await verifyServiceJwt(`${h}.${p}.${b64url(der)}`, opts(ours.p256.publicKey))
  assert.deepEqual(derToCompact(der), new Uint8Array(sig))
  const padded = Buffer.from(der)
  padded[1]! += 1
  await rejects(`${h}.${p}.${b64url(Buffer.concat([padded, Buffer.of(0)]))}`, opts(ours.p256.publicKey), 'BadJwtSignature')
  assert.equal(derToCompact(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01])), null, 'non-minimal zero')
  assert.equal(derToCompact(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01])), null, 'negative r')
})

/** Independent minimal DER encoder for the test. */
function toDer(compact: Uint8Array): Buffer {
  const int = (bytes: Uint8Array) => {
    let b = Buffer.from(bytes)
    while (b.length > 1 && b[0] === 0) b = b.subarray(1)
    if (b[0]! & 0x80) b = Buffer.concat([Buffer.of(0), b])
    return Buffer.concat([Buffer.of(0x02, b.length), b])
  }
  const body = Buffer.concat([int(compact.subarray(0, 32)), int(compact.subarray(32))])
  return Buffer.concat([Buffer.of(0x30, body.length), body])
}

test('alg confusion: none, HS256 keyed with the public key, RS256 → BadJwt; the other curve\'s alg → BadJwtSignature', async () => {
  const key = ours.k256.publicKey
  const noneToken = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(basePayload))}.`
  await rejects(noneToken, opts(key), 'BadJwt')
  const hs = await handBuilt({ alg: 'HS256', typ: 'JWT' }, basePayload, (m) => createHmac('sha256', key.compressed).update(m).digest())
  await rejects(hs, opts(key), 'BadJwt')
  const hsDidKey = await handBuilt({ alg: 'HS256' }, basePayload, (m) => createHmac('sha256', key.didKey).update(m).digest())
  await rejects(hsDidKey, opts(key.didKey), 'BadJwt')
  await rejects(await handBuilt({ alg: 'RS256' }, basePayload, () => new Uint8Array(256)), opts(key), 'BadJwt')
  await rejects(await handBuilt({ typ: 'JWT' }, basePayload, () => new Uint8Array(64)), opts(key), 'BadJwt')
  // A k256 signature labelled ES256: refused without verifying under the wrong curve (and the refetch is tried).
  const wrongAlg = await handBuilt({ typ: 'JWT', alg: 'ES256' }, basePayload, (m) => ours.k256.sign(m))
  const r = resolverFor(key)
  await rejects(wrongAlg, { ...opts(key), ...r }, 'BadJwtSignature')
  assert.deepEqual(r.calls.map((c) => c.forceRefresh), [false, true])
  // A p256 key asked to check an ES256K token.
  await rejects(ourToken('k256'), opts(ours.p256.publicKey), 'BadJwtSignature')
})

test('claims: aud, exp (with its skew edge), lxm, iss, iat, lifetime, typ, crit — each by name', async () => {
  const key = ours.k256.publicKey
  const sign = (payload: object, header: object = { typ: 'JWT', alg: 'ES256K' }) => handBuilt(header, payload, (m) => ours.k256.sign(m))
  await rejects(ourToken('k256', { aud: 'did:web:other.example.com' }), opts(key), 'BadJwtAudience')
  await rejects(ourToken('k256', { aud: `${AUD}#bsky_fg` }), opts(key), 'BadJwtAudience')
  await verifyServiceJwt(ourToken('k256', { aud: 'did:web:other.example.com' }), opts(key, { audience: null }))
  const expired = ourToken('k256', { iat: NOW_S - 200, exp: NOW_S - 100 })
  await rejects(expired, opts(key), 'JwtExpired')
  const edge = ourToken('k256', { iat: NOW_S - 100, exp: NOW_S - JWT_CLOCK_SKEW_S })
  await verifyServiceJwt(edge, opts(key))
  await rejects(edge, opts(key, { nowMs: NOW_MS + 1 }), 'JwtExpired')
  await rejects(await sign({ iss: ISS, aud: AUD, lxm: LXM }), opts(key), 'BadJwt')
  await rejects(await sign({ ...basePayload, exp: String(NOW_S + 60) }), opts(key), 'BadJwt')
  await rejects(ourToken('k256', { lxm: 'com.atproto.repo.uploadBlob' }), opts(key), 'BadJwtLexiconMethod')
  await rejects(ourToken('k256', { lxm: null }), opts(key), 'BadJwtLexiconMethod')
  await verifyServiceJwt(ourToken('k256', { lxm: null }), opts(key, { lxm: null }))
  await rejects(await sign({ ...basePayload, iss: 'alice.example.com' }), opts(key), 'BadJwtIss')
  await rejects(await sign({ ...basePayload, iss: 42 }), opts(key), 'BadJwtIss')
  await rejects(await sign({ ...basePayload, iat: NOW_S + JWT_CLOCK_SKEW_S + 1 }), opts(key), 'BadJwt')
  await rejects(await sign({ ...basePayload, exp: NOW_S + SERVICE_JWT_LIFETIME_MAX_S + JWT_CLOCK_SKEW_S + 1 }), opts(key), 'BadJwt')
  await rejects(await sign({ ...basePayload, aud: [AUD] }), opts(key), 'BadJwt')
  await rejects(await sign({ ...basePayload, lxm: 7 }), opts(key), 'BadJwt')
  for (const typ of ['at+jwt', 'refresh+jwt', 'dpop+jwt', 'AT+JWT']) {
    await rejects(await sign(basePayload, { typ, alg: 'ES256K' }), opts(key), 'BadJwtType')
  }
  await rejects(await sign(basePayload, { alg: 'ES256K', crit: ['exp'] }), opts(key), 'BadJwt')
})

test('structure: segments, canonical base64url, JSON objects, length cap', async () => {
  const key = ours.k256.publicKey
  const token = ourToken()
  const [h, p, s] = token.split('.') as [string, string, string]
  for (const bad of [
    `${h}.${p}`, `${token}.x`, `${h}.${p}.${s}=`, `${h}=.${p}.${s}`, `${h}.${p}.${s.slice(0, -1)}+`,
    `${h}.${p}.${s}\n`, `${b64url('[1]')}.${p}.${s}`, `${b64url('nope')}.${p}.${s}`, `${h}.${b64url('null')}.${s}`,
    `${h}.${p}.${s.slice(0, -2)}${s.at(-2)}${nonCanonicalLast(s)}`,
    `${b64url(JSON.stringify({ alg: 'ES256K', pad: 'x'.repeat(JWT_LENGTH_MAX) }))}.${p}.${s}`,
  ]) {
    await rejects(bad, opts(key), 'BadJwt')
  }
  await rejects(`${h}.${p}.${b64url(new Uint8Array(63))}`, opts(key), 'BadJwtSignature')
})

/** A last base64url char with the same 2 significant bits (64-byte sig: 86 chars, 4 unused bits) but non-zero padding bits. */
function nonCanonicalLast(sig: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const index = alphabet.indexOf(sig.at(-1)!)
  return alphabet[index | 1]!
}

test('forged signature → BadJwtSignature; the key is refetched once, and a rotated key succeeds', async () => {
  const oldKey = ours.k256.publicKey
  const newPair = generateKeypair('k256')
  const rotated = ourToken('k256', { keypair: newPair } as never)
  const r = resolverFor(oldKey, newPair.publicKey)
  const verified = await verifyServiceJwt(rotated, { ...opts(oldKey), ...r })
  assert.equal(verified.iss, ISS)
  assert.deepEqual(r.calls.map((c) => c.forceRefresh), [false, true])
  // Both keys wrong: exactly one refetch, then the failure.
  const stranger = generateKeypair('k256').publicKey
  const r2 = resolverFor(stranger, generateKeypair('k256').publicKey)
  await rejects(rotated, { ...opts(stranger), ...r2 }, 'BadJwtSignature')
  assert.equal(r2.calls.length, 2)
  // A bit flipped in the signature.
  const [h, p, s] = ourToken().split('.') as [string, string, string]
  const sig = Buffer.from(s, 'base64url')
  sig[10]! ^= 1
  await rejects(`${h}.${p}.${b64url(sig)}`, opts(oldKey), 'BadJwtSignature')
  // A valid signature moved onto a different payload.
  const other = b64url(JSON.stringify({ ...basePayload, iss: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }))
  await rejects(`${h}.${other}.${s}`, opts(oldKey), 'BadJwtSignature')
})

test('key ids: did#atproto_labeler and kid #atproto_label pick the label key; resolver failures', async () => {
  const key = ours.k256.publicKey
  const labeler = resolverFor(key)
  await verifyServiceJwt(ourToken('k256', { iss: `${ISS}#atproto_labeler` }), { ...opts(key), ...labeler })
  assert.equal(labeler.calls[0]!.keyId, 'atproto_label')
  const kid = resolverFor(key)
  const kidToken = await handBuilt({ typ: 'JWT', alg: 'ES256K', kid: '#atproto_label' }, basePayload, (m) => ours.k256.sign(m))
  assert.equal((await verifyServiceJwt(kidToken, { ...opts(key), ...kid })).keyId, 'atproto_label')
  await rejects(await handBuilt({ alg: 'ES256K', kid: 'atproto' }, basePayload, (m) => ours.k256.sign(m)), opts(key), 'BadJwt')
  const failing = (err: Error) => ({ resolveSigningKey: async () => { throw err } })
  await rejects(ourToken(), { ...opts(key), ...failing(new AtfedError('DidNotFound', 'gone')) }, 'BadJwtIss')
  await rejects(ourToken(), { ...opts(key), ...failing(new AtfedError('UntrustedIss', 'no')) }, 'UntrustedIss')
  await assert.rejects(verifyServiceJwt(ourToken(), { ...opts(key), ...failing(new TypeError('bug')) }), TypeError)
  await rejects(ourToken(), opts('did:key:zNotAKey'), 'BadJwtSignature')
})

test('property (seeded): no single-character change of a valid token verifies', async () => {
  const key = ours.p256.publicKey
  const token = ourToken('p256')
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ '
  const rng = makeRng(0x5eed)
  const names = new Set<string>()
  for (let i = 0; i < 300; i++) {
    const at = rng.int(token.length)
    const ch = rng.pick([...alphabet])
    if (token[at] === ch) continue
    const mutated = token.slice(0, at) + ch + token.slice(at + 1)
    await assert.rejects(verifyServiceJwt(mutated, opts(key)), (err: Error) => {
      assert.ok(err instanceof AtfedError && /^(BadJwt|JwtExpired)/.test(err.name), `${err.name} at ${at}`)
      names.add(err.name)
      return true
    })
  }
  assert.ok(names.has('BadJwt') && names.has('BadJwtSignature'), [...names].join(','))
})
