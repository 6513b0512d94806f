/**
 * Service auth at both ends of a migration.
 * getServiceAuth on A: the default token verifies with the account's key,
 * lasts 60 s and carries what was asked; `exp` in the past, over an hour,
 * or over a minute without `lxm` → 400 BadExpiration; protected methods,
 * app-password sessions asking for createAccount, and taken-down sessions
 * asking for anything but createAccount → 400 InvalidRequest.
 * createAccount with an existing DID on B: no token → 401
 * AuthenticationRequired; forged, expired, wrong-aud, wrong-lxm, session
 * token, or another DID's token → 401 by name; a good token creates the
 * account deactivated, with its own new signing key and no firehose event.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createServiceJwt, verifyServiceJwt } from '../../core/crypto/jwt.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createAccessToken } from '../../core/crypto/session-jwt.ts'
import type { Did } from '../../core/syntax/did.ts'
import { collectFirehose } from '../helpers/firehose-collector.ts'
import { createWithDid, getServiceAuth, signingKeyOf, startMigrationWorld, type MigrationWorld } from '../helpers/migration.ts'
import { createTestAccount, xrpc } from '../helpers/pds.ts'

const CREATE = 'com.atproto.server.createAccount'

describe('migration: service auth', () => {
  let world: MigrationWorld
  let bServiceDid: Did

  before(async () => {
    world = await startMigrationWorld()
    bServiceDid = world.b.ctx.serviceDid
  })
  after(() => world.stop())

  describe('getServiceAuth', () => {
    it('mints a token signed by the account key: 60 s by default, aud/lxm as asked', async () => {
      const { a, alice } = world
      const reply = await getServiceAuth(a, alice.accessJwt, { aud: bServiceDid, lxm: CREATE })
      assert.equal(reply.status, 200)
      const key = (await signingKeyOf(a, alice.did)).publicKey
      const claims = await verifyServiceJwt(reply.body.token, { audience: bServiceDid, lxm: CREATE, resolveSigningKey: async () => key })
      assert.equal(claims.iss, alice.did)
      assert.equal(claims.exp - (claims.iat as number), 60)
      const bare = await getServiceAuth(a, alice.accessJwt, { aud: `${bServiceDid}#atproto_pds` })
      const noLxm = await verifyServiceJwt(bare.body.token, { audience: `${bServiceDid}#atproto_pds`, lxm: null, resolveSigningKey: async () => key })
      assert.equal(noLxm.lxm, undefined)
    })

    it('honours exp within the limits and refuses it outside them (BadExpiration)', async () => {
      const { a, alice } = world
      const now = Math.floor(Date.now() / 1000)
      const ok = await getServiceAuth(a, alice.accessJwt, { aud: bServiceDid, lxm: CREATE, exp: String(now + 1800) })
      assert.equal(ok.status, 200)
      const key = (await signingKeyOf(a, alice.did)).publicKey
      const claims = await verifyServiceJwt(ok.body.token, { audience: bServiceDid, lxm: CREATE, resolveSigningKey: async () => key })
      assert.equal(claims.exp, now + 1800)
      const cases: Array<Record<string, string>> = [
        { aud: bServiceDid, lxm: CREATE, exp: String(now - 10) },
        { aud: bServiceDid, lxm: CREATE, exp: String(now + 3600 + 30) },
        { aud: bServiceDid, exp: String(now + 120) },
      ]
      for (const params of cases) {
        const reply = await getServiceAuth(a, alice.accessJwt, params)
        assert.equal(reply.status, 400, JSON.stringify(params))
        assert.equal(reply.body.error, 'BadExpiration')
      }
    })

    it('refuses protected methods, bad audiences, and missing auth', async () => {
      const { a, alice } = world
      for (const lxm of ['com.atproto.server.activateAccount', 'com.atproto.identity.signPlcOperation', 'com.atproto.server.getSession']) {
        const reply = await getServiceAuth(a, alice.accessJwt, { aud: bServiceDid, lxm })
        assert.deepEqual([reply.status, reply.body.error], [400, 'InvalidRequest'], lxm)
      }
      const badAud = await getServiceAuth(a, alice.accessJwt, { aud: 'not-a-did' })
      assert.deepEqual([badAud.status, badAud.body.error], [400, 'InvalidRequest'])
      const anon = await xrpc(a.publicUrl, 'com.atproto.server.getServiceAuth', { params: { aud: bServiceDid } })
      assert.deepEqual([anon.status, anon.body.error], [401, 'AuthMissing'])
    })

    it('keeps privileged methods from app passwords and lets taken-down sessions only migrate', async () => {
      const { a, alice } = world
      const session = (scope: 'com.atproto.appPass' | 'com.atproto.takendown') =>
        createAccessToken({ did: alice.did, serviceDid: a.ctx.serviceDid, secret: a.ctx.sessionSecret, scope }).token
      const appPass = session('com.atproto.appPass')
      assert.equal((await getServiceAuth(a, appPass, { aud: bServiceDid, lxm: CREATE })).body.error, 'InvalidRequest')
      assert.equal((await getServiceAuth(a, appPass, { aud: bServiceDid, lxm: 'chat.bsky.convo.getLog' })).body.error, 'InvalidRequest')
      assert.equal((await getServiceAuth(a, appPass, { aud: bServiceDid, lxm: 'com.atproto.repo.uploadBlob' })).status, 200)
      const takendown = session('com.atproto.takendown')
      assert.equal((await getServiceAuth(a, takendown, { aud: bServiceDid, lxm: CREATE })).status, 200)
      assert.equal((await getServiceAuth(a, takendown, { aud: bServiceDid, lxm: 'com.atproto.repo.uploadBlob' })).body.error, 'InvalidRequest')
    })
  })

  describe('createAccount with an existing DID', () => {
    async function tokenFor(params: Record<string, string>): Promise<string> {
      const reply = await getServiceAuth(world.a, world.alice.accessJwt, params)
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      return reply.body.token
    }

    it('refuses without a token, with a forged, expired, misaddressed or foreign one (401 by name)', async () => {
      const { a, b, alice } = world
      const body = { did: alice.did, handle: 'alice-b.test' }
      const key = await signingKeyOf(a, alice.did)
      const now = Math.floor(Date.now() / 1000)
      const forged = createServiceJwt({ iss: alice.did, aud: bServiceDid, lxm: CREATE, keypair: generateKeypair('k256') })
      const expired = createServiceJwt({ iss: alice.did, aud: bServiceDid, lxm: CREATE, keypair: key, iat: now - 600, exp: now - 300 })
      const bob = await createTestAccount(a.publicUrl, 'bob.test')
      const bobs = await getServiceAuth(a, bob.accessJwt, { aud: bServiceDid, lxm: CREATE })
      const session = createAccessToken({ did: alice.did, serviceDid: b.ctx.serviceDid, secret: b.ctx.sessionSecret }).token
      const cases: Array<[string | undefined, string]> = [
        [undefined, 'AuthenticationRequired'],
        [`Basic ${Buffer.from('admin:admin-b').toString('base64')}`, 'AuthenticationRequired'],
        [`Bearer ${forged}`, 'BadJwtSignature'],
        [`Bearer ${expired}`, 'JwtExpired'],
        [`Bearer ${await tokenFor({ aud: a.ctx.serviceDid, lxm: CREATE })}`, 'BadJwtAudience'],
        [`Bearer ${await tokenFor({ aud: bServiceDid, lxm: 'com.atproto.repo.uploadBlob' })}`, 'BadJwtLexiconMethod'],
        [`Bearer ${bobs.body.token}`, 'AuthenticationRequired'],
        [`Bearer ${session}`, 'BadJwt'],
      ]
      for (const [authorization, name] of cases) {
        const reply = await createWithDid(b, body, authorization)
        assert.deepEqual([reply.status, reply.body.error], [401, name], `${name}: ${JSON.stringify(reply.body)}`)
      }
      assert.equal(await b.ctx.accounts.get(alice.did), null)
    })

    it('creates the account deactivated, with a new key of its own, announcing nothing', async () => {
      const { a, b, alice } = world
      const firehose = await collectFirehose(b.url)
      const token = await tokenFor({ aud: bServiceDid, lxm: CREATE })
      const reply = await createWithDid(b, { did: alice.did, handle: 'alice-b.test', email: 'alice@b.example' }, `Bearer ${token}`)
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      assert.equal(reply.body.did, alice.did)
      assert.equal(reply.body.didDoc.id, alice.did)
      const session = await xrpc(b.publicUrl, 'com.atproto.server.getSession', { token: reply.body.accessJwt })
      assert.deepEqual([session.body.active, session.body.status], [false, 'deactivated'])
      const keyB = (await signingKeyOf(b, alice.did)).publicKey.didKey
      assert.notEqual(keyB, (await signingKeyOf(a, alice.did)).publicKey.didKey)
      const creds = await xrpc(b.publicUrl, 'com.atproto.identity.getRecommendedDidCredentials', { token: reply.body.accessJwt })
      assert.deepEqual(creds.body, {
        rotationKeys: [b.ctx.rotationKey.publicKey.didKey],
        alsoKnownAs: ['at://alice-b.test'],
        verificationMethods: { atproto: keyB },
        services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: b.publicUrl } },
      })
      const status = await xrpc(b.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did: alice.did } })
      assert.deepEqual([status.body.active, status.body.status], [false, 'deactivated'])
      const again = await createWithDid(b, { did: alice.did, handle: 'alice-c.test' }, `Bearer ${await tokenFor({ aud: bServiceDid, lxm: CREATE })}`)
      assert.deepEqual([again.status, again.body.error], [400, 'InvalidRequest'])
      await new Promise((resolve) => setTimeout(resolve, 100))
      firehose.close()
      assert.deepEqual(firehose.messages, [])
    })
  })
})
