/**
 * createAccount with an existing DID, proved by a PLC ROTATION key
 * (pds/migration/rotation-key-auth.ts): two PDSes on one PLC; alice is
 * created on A with a user-held recovery key first in her rotationKeys.
 * B accepts a createAccount service JWT signed by that key (the account
 * comes up deactivated with a fresh signing key), also when a hostile PDS
 * has removed the `#atproto` key from the document; it refuses the same token
 * shape signed by a key that is not a current rotation key (including one
 * that WAS, before a PLC update removed it), issued for another DID,
 * addressed to another service, for another method, or expired — each by
 * its error name, and in each case no account is created on B.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import { generateKeypair, type Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const LXM = 'com.atproto.server.createAccount'

describe('createAccount proved by a PLC rotation key', () => {
  let plc: TestPlc
  let a: TestPds
  let b: TestPds
  let userKey: Keypair
  let did: Did
  let bobDid: Did

  before(async () => {
    plc = await startPlcForPds()
    a = await startTestPds({ plc })
    b = await startTestPds({ plc, config: { adminPassword: 'admin-b' } })
    userKey = generateKeypair('k256')
    const created = await xrpc(a.publicUrl, 'com.atproto.server.createAccount', {
      body: { handle: 'alice.test', password: 'alice-password', recoveryKey: userKey.publicKey.didKey },
    })
    assert.equal(created.status, 200, JSON.stringify(created.body))
    did = created.body.did
    const bob = await xrpc(a.publicUrl, 'com.atproto.server.createAccount', { body: { handle: 'bob.test', password: 'bob-password' } })
    bobDid = bob.body.did
  })
  after(async () => {
    await a.stop()
    await b.stop()
    await plc.stop()
  })

  function token(keypair: Keypair, claims: { iss?: string; aud?: string; lxm?: string; iat?: number; exp?: number } = {}): string {
    const iat = claims.iat ?? Math.floor(Date.now() / 1000)
    return createServiceJwt({ iss: claims.iss ?? did, aud: claims.aud ?? b.ctx.serviceDid, lxm: claims.lxm ?? LXM, iat, exp: claims.exp ?? iat + 60, keypair })
  }

  function createOnB(forDid: Did, jwt: string, handle = 'alice-b.test') {
    return xrpc(b.publicUrl, 'com.atproto.server.createAccount', {
      body: { did: forDid, handle, password: 'new-password' },
      auth: `Bearer ${jwt}`,
    })
  }

  async function assertNothingOnB(forDid: Did): Promise<void> {
    assert.equal(await b.ctx.accounts.get(forDid), null)
  }

  it('refuses a token signed by a key that is no rotation key: BadJwtSignature', async () => {
    const reply = await createOnB(did, token(generateKeypair('k256')))
    assert.equal(reply.status, 401)
    assert.equal(reply.body.error, 'BadJwtSignature')
    await assertNothingOnB(did)
  })

  it('refuses a rotation-key token for another DID (iss is not the DID being created)', async () => {
    const reply = await createOnB(bobDid, token(userKey), 'bob-b.test')
    assert.equal(reply.status, 401)
    await assertNothingOnB(bobDid)
  })

  it('refuses a rotation-key token for another audience, method, or past its expiry, by name', async () => {
    const iat = Math.floor(Date.now() / 1000) - 600
    const cases: Array<[string, string]> = [
      [token(userKey, { aud: 'did:web:elsewhere.test' }), 'BadJwtAudience'],
      [token(userKey, { lxm: 'com.atproto.repo.uploadBlob' }), 'BadJwtLexiconMethod'],
      [token(userKey, { iat, exp: iat + 60 }), 'JwtExpired'],
    ]
    for (const [jwt, name] of cases) {
      const reply = await createOnB(did, jwt)
      assert.equal(reply.status, 401, name)
      assert.equal(reply.body.error, name)
    }
    await assertNothingOnB(did)
  })

  it('accepts a token signed by the DID’s first rotation key: the account is created deactivated with a new key', async () => {
    const reply = await createOnB(did, token(userKey))
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    assert.equal(reply.body.did, did)
    const account = await b.ctx.accounts.get(did)
    assert.equal(account?.status, 'deactivated')
    const data = await new PlcClient(plc.url).getDocumentData(did)
    assert.notEqual(b.ctx.signingKeys.get(account!).publicKey.didKey, data.verificationMethods['atproto'])
    const status = await xrpc(b.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did } })
    assert.equal(status.body.active, false)
  })

  it('accepts it even when the DID document has no #atproto key left (removed by a hostile PDS)', async () => {
    const erinKey = generateKeypair('k256')
    const erin = await xrpc(a.publicUrl, 'com.atproto.server.createAccount', {
      body: { handle: 'erin.test', password: 'erin-password', recoveryKey: erinKey.publicKey.didKey },
    })
    const erinDid = erin.body.did as Did
    const last = await a.ctx.plc.getLastOp(erinDid)
    assert.ok(last.type === 'plc_operation')
    await a.ctx.plc.submitOp(erinDid, createUpdateOp(last, { signer: a.ctx.rotationKey, verificationMethods: { atproto: null } }).op)
    const reply = await createOnB(erinDid, token(erinKey, { iss: erinDid }), 'erin-b.test')
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    assert.equal((await b.ctx.accounts.get(erinDid))?.status, 'deactivated')
  })

  it('refuses a key that WAS a rotation key once a PLC update removed it (the current state counts)', async () => {
    const formerKey = generateKeypair('k256')
    const carol = await xrpc(a.publicUrl, 'com.atproto.server.createAccount', {
      body: { handle: 'carol.test', password: 'carol-password', recoveryKey: formerKey.publicKey.didKey },
    })
    const carolDid = carol.body.did as Did
    const last = await a.ctx.plc.getLastOp(carolDid)
    assert.ok(last.type === 'plc_operation')
    const update = createUpdateOp(last, { signer: a.ctx.rotationKey, rotationKeys: [a.ctx.rotationKey.publicKey.didKey] })
    await a.ctx.plc.submitOp(carolDid, update.op)
    const reply = await createOnB(carolDid, token(formerKey, { iss: carolDid }), 'carol-b.test')
    assert.equal(reply.status, 401)
    assert.equal(reply.body.error, 'BadJwtSignature')
    await assertNothingOnB(carolDid)
  })
})
