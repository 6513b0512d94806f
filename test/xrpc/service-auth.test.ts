/**
 * The service-JWT auth hook on a real router (the feed-generator pattern):
 * a token for this method and audience passes and its issuer reaches the
 * handler; missing, expired, wrong-method, wrong-audience and forged tokens
 * are 401 with their names; optional auth serves logged-out requests. Plus
 * the Authorization header parser.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import express from 'express'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import { bearerToken, parseAuthorization, serviceAuth } from '../../core/xrpc/auth-header.ts'
import { createXrpcRouter } from '../../core/xrpc/server.ts'
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.ts'

const FEEDGEN = 'did:web:feed.example.com'
const VIEWER = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const SKELETON = 'app.bsky.feed.getFeedSkeleton'
const viewerKey = generateKeypair('k256')

let server: TestHttpServer
before(async () => {
  const resolveSigningKey = async (did: string) => {
    if (did !== VIEWER) throw new Error('unexpected DID')
    return viewerKey.publicKey
  }
  const router = createXrpcRouter()
  router.query(SKELETON, ({ auth }) => ({ encoding: 'application/json', body: { viewer: auth?.iss ?? null } }), {
    auth: serviceAuth({ audience: [FEEDGEN, `${FEEDGEN}#bsky_fg`], resolveSigningKey, optional: true }),
  })
  router.query('app.bsky.feed.describeFeedGenerator', ({ auth }) => ({ encoding: 'application/json', body: { viewer: auth.iss } }), {
    auth: serviceAuth({ audience: [FEEDGEN], resolveSigningKey }),
  })
  const app = express()
  app.use(router.middleware)
  server = await startHttpServer(app)
})
after(async () => {
  await server.close()
})

function token(claims: Partial<Parameters<typeof createServiceJwt>[0]> = {}): string {
  return createServiceJwt({ iss: VIEWER, aud: FEEDGEN, lxm: SKELETON, keypair: viewerKey, ...claims })
}

async function get(nsid: string, authorization?: string) {
  const res = await fetch(`${server.origin}/xrpc/${nsid}`, { headers: authorization === undefined ? {} : { authorization } })
  return { status: res.status, json: (await res.json()) as any }
}

test('a valid token reaches the handler as its issuer; both aud forms accepted', async () => {
  assert.deepEqual(await get(SKELETON, `Bearer ${token()}`), { status: 200, json: { viewer: VIEWER } })
  assert.deepEqual((await get(SKELETON, `bearer ${token({ aud: `${FEEDGEN}#bsky_fg` })}`)).json, { viewer: VIEWER })
})

test('optional auth: no header, or another scheme, is a logged-out request', async () => {
  assert.deepEqual(await get(SKELETON), { status: 200, json: { viewer: null } })
  assert.deepEqual((await get(SKELETON, 'Basic YWRtaW46eA==')).json, { viewer: null })
})

test('rejections are 401 with the reference names; a malformed header is 400 InvalidToken', async () => {
  const iat = Math.floor(Date.now() / 1000) - 600
  const cases: Array<[string | undefined, string, number, string]> = [
    [undefined, 'app.bsky.feed.describeFeedGenerator', 401, 'MissingJwt'],
    [`Bearer ${token()}`, 'app.bsky.feed.describeFeedGenerator', 401, 'BadJwtLexiconMethod'],
    [`Bearer ${token({ iat, exp: iat + 60 })}`, SKELETON, 401, 'JwtExpired'],
    [`Bearer ${token({ aud: 'did:web:other.example' })}`, SKELETON, 401, 'BadJwtAudience'],
    [`Bearer ${token({ keypair: generateKeypair('k256') })}`, SKELETON, 401, 'BadJwtSignature'],
    [`Bearer ${token().replace(/\.[^.]+$/, '.')}`, SKELETON, 401, 'BadJwtSignature'],
    [`Bearer ${token()}x.y`, SKELETON, 401, 'BadJwt'],
    ['Bearer', SKELETON, 400, 'InvalidToken'],
    [`Token ${token()}`, SKELETON, 400, 'InvalidToken'],
  ]
  for (const [authorization, nsid, status, error] of cases) {
    const r = await get(nsid, authorization)
    assert.equal(r.status, status, `${error}: ${JSON.stringify(r.json)}`)
    assert.equal(r.json.error, error)
  }
})

test('parseAuthorization: two parts, case-insensitive scheme, known schemes only', () => {
  assert.equal(parseAuthorization(undefined), null)
  assert.deepEqual(parseAuthorization('DPOP abc'), { scheme: 'DPoP', token: 'abc' })
  assert.deepEqual(parseAuthorization('basic abc'), { scheme: 'Basic', token: 'abc' })
  for (const bad of ['Bearer', 'Bearer a b', 'Bearer ', 'Digest x', ' Bearer x']) {
    assert.throws(() => parseAuthorization(bad), { name: 'InvalidToken' }, bad)
  }
  assert.equal(bearerToken({ authorization: 'Bearer t' }), 't')
  assert.equal(bearerToken({ authorization: 'Basic t' }), null)
  assert.equal(bearerToken({}), null)
})
