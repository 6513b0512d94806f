/**
 * pds/auth/token-cache.ts and its use in auth/verifier.ts: the cache itself
 * (bounded, least recently used dropped first, expired entries dropped),
 * then a PDS where every token below was used once first (so it is in the
 * cache): it still expires on the clock (400 ExpiredToken), a route's scope
 * is still checked (an app-password token on a full-scope route: 400
 * InvalidToken), and the account is checked on every request — deactivated
 * (401 AccountDeactivated), taken down (401 AccountTakedown) and deleted
 * (403 AccountNotFound) all refuse the cached token at once, and lifting
 * the takedown lets it work again. A forged token that differs from a cached
 * one is still refused.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Did } from '../../core/syntax/did.ts'
import { AccessTokenCache } from '../../pds/auth/token-cache.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const ADMIN = `Basic ${Buffer.from('admin:admin-secret').toString('base64')}`
const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did

describe('AccessTokenCache', () => {
  it('keeps at most max tokens, dropping the least recently used; drops expired ones', () => {
    const cache = new AccessTokenCache(2)
    const claims = (exp: number) => ({ sub: DID, scope: 'com.atproto.access' as const, exp })
    cache.add('a', claims(100))
    cache.add('b', claims(100))
    assert.ok(cache.get('a', 0)) // a is now the most recent
    cache.add('c', claims(100))
    assert.equal(cache.size, 2)
    assert.equal(cache.get('b', 0), undefined)
    assert.deepEqual(cache.get('a', 0), claims(100))
    assert.equal(cache.get('c', 100_000), undefined) // exp 100 s: expired at 100,000 ms
    assert.equal(cache.size, 1)
  })
})

describe('PDS access tokens from the cache', () => {
  let plc: TestPlc
  let pds: TestPds
  let clockOffsetMs = 0
  const now = () => Date.now() + clockOffsetMs

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, now, config: { adminPassword: 'admin-secret' } })
  })
  after(async () => {
    await pds?.stop()
    await plc?.stop()
  })

  const getSession = (token: string) => xrpc(pds.publicUrl, 'com.atproto.server.getSession', { token })
  const post = (did: string, token: string) =>
    xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
      token,
      body: { repo: did, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: 'hi', createdAt: new Date().toISOString() } },
    })
  const statusOf = (res: { status: number; body: any }) => [res.status, res.body?.error]

  it('expires a cached token on the clock', { timeout: 20_000 }, async () => {
    const alice = await createTestAccount(pds.publicUrl, 'tc-alice.test')
    assert.equal((await getSession(alice.accessJwt)).status, 200)
    assert.equal((await getSession(alice.accessJwt)).status, 200)
    clockOffsetMs = 3 * 60 * 60 * 1000 // past the access token's lifetime
    try {
      assert.deepEqual(statusOf(await getSession(alice.accessJwt)), [400, 'ExpiredToken'])
    } finally {
      clockOffsetMs = 0
    }
  })

  it('checks the route scope for a cached app-password token', { timeout: 20_000 }, async () => {
    const bob = await createTestAccount(pds.publicUrl, 'tc-bob.test', { password: 'bob-password-1' })
    const created = await xrpc(pds.publicUrl, 'com.atproto.server.createAppPassword', { token: bob.accessJwt, body: { name: 'app' } })
    assert.equal(created.status, 200)
    const login = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'tc-bob.test', password: created.body.password } })
    const appToken = login.body.accessJwt as string
    assert.equal((await getSession(appToken)).status, 200) // cached now
    const full = await xrpc(pds.publicUrl, 'com.atproto.server.createAppPassword', { token: appToken, body: { name: 'other' } })
    assert.deepEqual(statusOf(full), [400, 'InvalidToken'])
    assert.equal(full.body.message, 'Bad token scope')
    assert.equal((await post(bob.did, appToken)).status, 200)
  })

  it('checks the account on every request: deactivated, taken down, deleted', { timeout: 30_000 }, async () => {
    const carol = await createTestAccount(pds.publicUrl, 'tc-carol.test')
    assert.equal((await post(carol.did, carol.accessJwt)).status, 200) // cached now
    const deactivated = await xrpc(pds.publicUrl, 'com.atproto.server.deactivateAccount', { token: carol.accessJwt, body: {} })
    assert.equal(deactivated.status, 200)
    assert.deepEqual(statusOf(await post(carol.did, carol.accessJwt)), [401, 'AccountDeactivated'])
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.activateAccount', { token: carol.accessJwt, method: 'POST' })).status, 200)
    assert.equal((await post(carol.did, carol.accessJwt)).status, 200)

    const repo = { $type: 'com.atproto.admin.defs#repoRef', did: carol.did }
    const takedown = (applied: boolean) => xrpc(pds.publicUrl, 'com.atproto.admin.updateSubjectStatus', { auth: ADMIN, body: { subject: repo, takedown: { applied } } })
    assert.equal((await takedown(true)).status, 200)
    assert.deepEqual(statusOf(await post(carol.did, carol.accessJwt)), [401, 'AccountTakedown'])
    assert.equal((await takedown(false)).status, 200)
    assert.equal((await post(carol.did, carol.accessJwt)).status, 200)

    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.admin.deleteAccount', { auth: ADMIN, body: { did: carol.did } })).status, 200)
    assert.deepEqual(statusOf(await getSession(carol.accessJwt)), [403, 'AccountNotFound'])
    assert.deepEqual(statusOf(await post(carol.did, carol.accessJwt)), [403, 'AccountNotFound'])
  })

  it('refuses a token that differs from a cached one in its signature', { timeout: 20_000 }, async () => {
    const dave = await createTestAccount(pds.publicUrl, 'tc-dave.test')
    assert.equal((await getSession(dave.accessJwt)).status, 200)
    const [header, payload, signature] = dave.accessJwt.split('.') as [string, string, string]
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === 'A' ? 'B' : 'A'}${signature.at(-1)}`
    assert.deepEqual(statusOf(await getSession(`${header}.${payload}.${flipped}`)), [400, 'InvalidToken'])
  })
})
