/**
 * Sessions and credentials, by error name and status:
 * missing auth → 401 AuthMissing; forged, `alg: none`, wrong-audience,
 * refresh-as-access, service (ES256K) tokens and the Basic scheme on a
 * session route → 400 InvalidToken; expired → 400 ExpiredToken; refresh
 * rotation within the grace window returns the same successor, after the
 * grace (or after deleteSession) the old token is 400 ExpiredToken; admin
 * Basic auth; wrong logins → 401 AuthenticationRequired.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import { createAccessToken, createSessionSecret } from '../../core/crypto/session-jwt.ts'
import type { Did } from '../../core/syntax/did.ts'
import { encodeBase64Url } from '../../core/crypto/jwt-compact.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

function segment(obj: object): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify(obj)))
}

function claimsOf(token: string): { jti?: string } {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'))
}

describe('PDS auth', () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: Awaited<ReturnType<typeof createTestAccount>>
  let clockOffsetMs = 0
  const now = () => Date.now() + clockOffsetMs

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, now, config: { adminPassword: 'admin-secret' } })
    alice = await createTestAccount(pds.publicUrl, 'alice.test', { email: 'alice@example.com' })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const getSession = (headers: { token?: string; auth?: string }) => xrpc(pds.publicUrl, 'com.atproto.server.getSession', headers)

  it('accepts the access token it issued', async () => {
    const res = await getSession({ token: alice.accessJwt })
    assert.equal(res.status, 200)
    assert.equal(res.body.did, alice.did)
    assert.equal(res.headers.get('cache-control'), 'private')
  })

  it('refuses missing, malformed and foreign credentials by name', async () => {
    const cases: Array<[string, { token?: string; auth?: string }, number, string]> = [
      ['no header', {}, 401, 'AuthMissing'],
      ['garbage', { token: 'not-a-jwt' }, 400, 'InvalidToken'],
      ['basic on a session route', { auth: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` }, 400, 'InvalidToken'],
      ['unknown scheme', { auth: 'Token abc' }, 400, 'InvalidToken'],
      ['refresh token as access', { token: alice.refreshJwt }, 400, 'InvalidToken'],
    ]
    const forged = createAccessToken({ did: alice.did as Did, serviceDid: pds.ctx.serviceDid, secret: createSessionSecret('another-secret-of-enough-length') })
    cases.push(['forged (other secret)', { token: forged.token }, 400, 'InvalidToken'])
    const [header, payload] = alice.accessJwt.split('.')
    cases.push(['alg none', { token: `${segment({ typ: 'at+jwt', alg: 'none' })}.${payload}.` }, 400, 'InvalidToken'])
    cases.push(['alg none, original header body', { token: `${header}.${payload}.` }, 400, 'InvalidToken'])
    const wrongAud = createAccessToken({ did: alice.did as Did, serviceDid: 'did:web:elsewhere.example' as Did, secret: pds.ctx.sessionSecret })
    cases.push(['wrong audience', { token: wrongAud.token }, 400, 'InvalidToken'])
    const expired = createAccessToken({ did: alice.did as Did, serviceDid: pds.ctx.serviceDid, secret: pds.ctx.sessionSecret, nowMs: now() - 3 * 3600_000 })
    cases.push(['expired', { token: expired.token }, 400, 'ExpiredToken'])
    const serviceJwt = createServiceJwt({ iss: alice.did as Did, aud: pds.ctx.serviceDid, lxm: 'com.atproto.server.getSession', keypair: generateKeypair('k256') })
    cases.push(['service JWT on a session route', { token: serviceJwt }, 400, 'InvalidToken'])
    for (const [name, headers, status, error] of cases) {
      const res = await getSession(headers)
      assert.equal(res.status, status, name)
      assert.equal(res.body.error, error, name)
    }
  })

  it('refuses wrong logins with 401 AuthenticationRequired, after the same checks', async () => {
    for (const body of [
      { identifier: 'alice.test', password: 'nope' },
      { identifier: 'nobody.test', password: 'hunter2-password' },
      { identifier: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', password: 'hunter2-password' },
      { identifier: 'alice.test', password: 'x'.repeat(600) },
    ]) {
      const res = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body })
      assert.equal(res.status, 401, JSON.stringify(body).slice(0, 60))
      assert.equal(res.body.error, 'AuthenticationRequired')
    }
    const ok = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'Alice@Example.com', password: 'hunter2-password' } })
    assert.equal(ok.status, 200)
    assert.equal(ok.body.email, 'alice@example.com')
    assert.equal(ok.body.active, true)
  })

  it('rotates refresh tokens: same successor within the grace window, revoked after it', async () => {
    const login = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'alice.test', password: 'hunter2-password' } })
    const original = login.body.refreshJwt as string
    const first = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: original, method: 'POST' })
    assert.equal(first.status, 200)
    assert.equal((await getSession({ token: first.body.accessJwt })).status, 200)
    const retry = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: original, method: 'POST' })
    assert.equal(retry.status, 200)
    assert.equal(claimsOf(retry.body.refreshJwt).jti, claimsOf(first.body.refreshJwt).jti)
    assert.notEqual(claimsOf(first.body.refreshJwt).jti, claimsOf(original).jti)
    clockOffsetMs += 2 * 3600_000 + 1000 // past the 2 h grace
    try {
      const late = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: original, method: 'POST' })
      assert.equal(late.status, 400)
      assert.equal(late.body.error, 'ExpiredToken')
      const successor = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: first.body.refreshJwt, method: 'POST' })
      assert.equal(successor.status, 200)
    } finally {
      clockOffsetMs = 0
    }
  })

  it('deleteSession revokes the refresh token; an access token does not refresh', async () => {
    const login = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: alice.did, password: 'hunter2-password' } })
    const notRefresh = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: login.body.accessJwt, method: 'POST' })
    assert.equal(notRefresh.status, 400)
    assert.equal(notRefresh.body.error, 'InvalidToken')
    const del = await xrpc(pds.publicUrl, 'com.atproto.server.deleteSession', { token: login.body.refreshJwt, method: 'POST' })
    assert.equal(del.status, 200)
    const reuse = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: login.body.refreshJwt, method: 'POST' })
    assert.equal(reuse.status, 400)
    assert.equal(reuse.body.error, 'ExpiredToken')
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { method: 'POST' })).body.error, 'AuthMissing')
  })

  it('checks admin Basic auth', async () => {
    const ok = await pds.ctx.auth.admin()({ req: { headers: { authorization: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` } } } as never)
    assert.deepEqual(ok, { type: 'admin' })
    for (const [authorization, name] of [
      [undefined, 'AuthMissing'],
      [`Basic ${Buffer.from('admin:wrong').toString('base64')}`, 'AuthenticationRequired'],
      [`Basic ${Buffer.from('root:admin-secret').toString('base64')}`, 'AuthenticationRequired'],
      [`Bearer ${alice.accessJwt}`, 'AuthenticationRequired'],
    ] as const) {
      assert.throws(() => pds.ctx.auth.admin()({ req: { headers: { authorization } } } as never), { name })
    }
  })
})
