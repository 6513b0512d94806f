/**
 * The PLC and status side of a migration, each way a request can go wrong.
 * Old PDS (A): signPlcOperation needs the pending token (none → 400
 * InvalidRequest, wrong → 400 InvalidToken, expired → 400 ExpiredToken,
 * used → InvalidToken); the token is read through the --dev admin route
 * (admin only; absent without --dev); a signed op copies omitted fields and
 * replaces given ones. New PDS (B): submitPlcOperation refuses an op that
 * does not hand the DID to B and this account's key there (400
 * InvalidRequest, the directory untouched). deactivateAccount /
 * activateAccount on the account's own PDS emit #account, then #account,
 * #identity and a verifiable #sync.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { verifySyncEvent } from '../../core/repo/verify-commit-event.ts'
import type { Did } from '../../core/syntax/did.ts'
import { MigrationStore } from '../../pds/migration/store.ts'
import { collectFirehose } from '../helpers/firehose-collector.ts'
import { createOnB, signingKeyOf, startMigrationWorld, type MigrationWorld } from '../helpers/migration.ts'
import { startTestPds, xrpc } from '../helpers/pds.ts'

const ADMIN_A = `Basic ${Buffer.from('admin:admin-a').toString('base64')}`

describe('migration: PLC operations and account status', () => {
  let world: MigrationWorld
  let did: Did
  let tokenB: string

  before(async () => {
    world = await startMigrationWorld()
    did = world.alice.did
    tokenB = (await createOnB(world)).accessJwt
  })
  after(() => world.stop())

  async function plcToken(): Promise<string> {
    const { a, alice } = world
    const asked = await xrpc(a.publicUrl, 'com.atproto.identity.requestPlcOperationSignature', { token: alice.accessJwt, method: 'POST' })
    assert.equal(asked.status, 200, JSON.stringify(asked.body))
    const read = await xrpc(a.publicUrl, 'dev.atfed.admin.getPlcOperationToken', { params: { did }, auth: ADMIN_A })
    assert.equal(read.status, 200, JSON.stringify(read.body))
    assert.match(read.body.token, /^[A-Z2-7]{5}-[A-Z2-7]{5}$/)
    return read.body.token
  }

  const sign = (body: object) =>
    xrpc(world.a.publicUrl, 'com.atproto.identity.signPlcOperation', { token: world.alice.accessJwt, body })
  const submit = (operation: unknown) => xrpc(world.b.publicUrl, 'com.atproto.identity.submitPlcOperation', { token: tokenB, body: { operation } })
  const plcData = async () => (await (await fetch(`${world.plc.url}/${did}/data`)).json()) as Record<string, any>

  it('keeps the token behind admin auth, and the route off without --dev', async () => {
    await plcToken()
    const anon = await xrpc(world.a.publicUrl, 'dev.atfed.admin.getPlcOperationToken', { params: { did } })
    assert.equal(anon.status, 401)
    const prod = await startTestPds({ plc: world.plc, config: { dev: false, adminPassword: 'x' } })
    try {
      const reply = await xrpc(prod.url, 'dev.atfed.admin.getPlcOperationToken', { params: { did }, auth: `Basic ${Buffer.from('admin:x').toString('base64')}` })
      assert.equal(reply.status, 501)
    } finally {
      await prod.stop()
    }
  })

  it('signs only with the pending token, once', async () => {
    const none = await sign({})
    assert.deepEqual([none.status, none.body.error], [400, 'InvalidRequest'])
    const token = await plcToken()
    const wrong = await sign({ token: token === 'AAAAA-AAAAA' ? 'BBBBB-BBBBB' : 'AAAAA-AAAAA' })
    assert.deepEqual([wrong.status, wrong.body.error], [400, 'InvalidToken'])
    const good = await sign({ token: token.toLowerCase() })
    assert.equal(good.status, 200, JSON.stringify(good.body))
    const current = await plcData()
    const op = good.body.operation
    assert.deepEqual(
      [op.type, op.rotationKeys, op.verificationMethods, op.alsoKnownAs, op.services],
      ['plc_operation', current.rotationKeys, current.verificationMethods, current.alsoKnownAs, current.services],
    )
    const reused = await sign({ token })
    assert.deepEqual([reused.status, reused.body.error], [400, 'InvalidToken'])
  })

  it('expires tokens (ExpiredToken)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atfed-migration-store-'))
    const db = new Level<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
    try {
      let now = 1_000_000
      const store = new MigrationStore(db, { now: () => now })
      const { token } = await store.issuePlcToken(did)
      await store.checkPlcToken(did, token)
      now += 15 * 60 * 1000
      await assert.rejects(store.checkPlcToken(did, token), { name: 'ExpiredToken' })
      assert.equal(await store.peekPlcToken(did), null)
    } finally {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses to submit an op that does not hand the DID to this PDS and key', async () => {
    const { a, b } = world
    const keyB = (await signingKeyOf(b, did)).publicKey.didKey
    const keyA = (await signingKeyOf(a, did)).publicKey.didKey
    const pdsB = { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: b.publicUrl } }
    const rotationB = [b.ctx.rotationKey.publicKey.didKey]
    const cases: Array<[string, object, RegExp]> = [
      ['unchanged (still A)', {}, /rotation key/],
      ['B rotation key, A endpoint', { rotationKeys: rotationB }, /endpoint/],
      ['wrong service type', { rotationKeys: rotationB, services: { atproto_pds: { ...pdsB.atproto_pds, type: 'Other' } } }, /type/],
      ["A's signing key", { rotationKeys: rotationB, services: pdsB, verificationMethods: { atproto: keyA } }, /signing key/],
      ['another handle', { rotationKeys: rotationB, services: pdsB, verificationMethods: { atproto: keyB }, alsoKnownAs: ['at://mallory.test'] }, /handle/],
    ]
    const before = await plcData()
    for (const [what, changes, message] of cases) {
      const signed = await sign({ token: await plcToken(), ...changes })
      assert.equal(signed.status, 200, `${what}: ${JSON.stringify(signed.body)}`)
      const reply = await submit(signed.body.operation)
      assert.deepEqual([reply.status, reply.body.error], [400, 'InvalidRequest'], what)
      assert.match(reply.body.message, message, what)
    }
    const tombstone = await submit({ type: 'plc_tombstone', prev: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm', sig: 'x' })
    assert.deepEqual([tombstone.status, tombstone.body.error], [400, 'InvalidRequest'])
    assert.deepEqual(await plcData(), before)
  })

  it('deactivates (#account deactivated, writes refused) and re-activates (#account, #identity, #sync) on the same PDS', async () => {
    const { a, alice } = world
    const firehose = await collectFirehose(a.url)
    const call = (nsid: string, body?: object) => xrpc(a.publicUrl, nsid, { token: alice.accessJwt, method: 'POST', ...(body === undefined ? {} : { body }) })
    assert.equal((await call('com.atproto.server.deactivateAccount', {})).status, 200)
    assert.equal((await call('com.atproto.server.deactivateAccount', {})).status, 200)
    const write = await call('com.atproto.repo.createRecord', {
      repo: did, collection: 'app.bsky.feed.post', record: { text: 'x', createdAt: new Date().toISOString() },
    })
    assert.deepEqual([write.status, write.body.error], [401, 'AccountDeactivated'])
    const status = await xrpc(a.publicUrl, 'com.atproto.server.checkAccountStatus', { token: alice.accessJwt })
    assert.deepEqual([status.body.activated, status.body.validDid], [false, true])
    assert.equal((await call('com.atproto.server.activateAccount')).status, 200)
    const sync = await firehose.until((m) => m.t === '#sync' && m.did === did)
    firehose.close()
    assert.deepEqual(firehose.messages.map((m) => m.t), ['#account', '#account', '#identity', '#sync'])
    const [off, on] = firehose.messages
    assert.ok(off?.t === '#account' && !off.active && off.status === 'deactivated')
    assert.ok(on?.t === '#account' && on.active)
    assert.ok(sync.t === '#sync')
    verifySyncEvent(sync, { key: (await signingKeyOf(a, did)).publicKey })
    const again = await call('com.atproto.repo.createRecord', {
      repo: did, collection: 'app.bsky.feed.post', record: { text: 'back', createdAt: new Date().toISOString() },
    })
    assert.equal(again.status, 200, JSON.stringify(again.body))
  })
})
