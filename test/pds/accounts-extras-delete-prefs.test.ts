/**
 * Account deletion and preferences.
 * Deletion: requestAccountDelete (full session only; the token is logged in
 * dev mode), deleteAccount refusals by name (password, token, expiry), then
 * the deletion itself: `#account {active:false, status:"deleted"}`, repo
 * head and blocks gone, sessions and app passwords gone, handle free, sync
 * routes say RepoNotFound; admin.deleteAccount; a purge interrupted by a
 * crash is finished at the next start.
 * Preferences: round trip with @atproto/api, the app.bsky namespace rule,
 * personalDetailsPref hidden from and kept against app-password sessions,
 * the size cap (413 PayloadTooLarge).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { PDS_DELETE_TOKEN_TTL_MS, PDS_PREFERENCES_JSON_BYTES_MAX } from '../../core/limits.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { Did } from '../../core/syntax/did.ts'
import { accountExtras } from '../../pds/accounts/extras.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const ADMIN = `Basic ${Buffer.from('admin:admin-secret').toString('base64')}`
const PASSWORD = 'hunter2-password'

async function captureLog<T>(fn: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = []
  const original = console.log
  console.log = (...args: unknown[]) => void lines.push(args.map(String).join(' '))
  try {
    return { value: await fn(), lines }
  } finally {
    console.log = original
  }
}

async function blockCount(pds: TestPds, did: string): Promise<number> {
  let n = 0
  for await (const _ of pds.ctx.repos.iterateBlocks(did as Did)) n++
  return n
}

describe('account deletion', () => {
  let plc: TestPlc
  let pds: TestPds

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { adminPassword: 'admin-secret' } })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('deletes an account with password and emailed token', async () => {
    const carol = await createTestAccount(pds.publicUrl, 'carol.test', { email: 'carol@example.com' })
    for (let i = 0; i < 5; i++) {
      const res = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
        token: carol.accessJwt,
        body: { repo: carol.did, collection: 'app.bsky.feed.post', record: { text: `p${i}`, createdAt: new Date().toISOString() } },
      })
      assert.equal(res.status, 200)
    }
    const app = await xrpc(pds.publicUrl, 'com.atproto.server.createAppPassword', { token: carol.accessJwt, body: { name: 'app' } })
    assert.ok((await blockCount(pds, carol.did)) > 5)

    const { lines } = await captureLog(() => xrpc(pds.publicUrl, 'com.atproto.server.requestAccountDelete', { token: carol.accessJwt, method: 'POST' }))
    const stored = await (await accountExtras(pds.ctx)).deletion.getToken(carol.did as Did)
    assert.match(stored?.token ?? '', /^[A-Z2-7]{5}-[A-Z2-7]{5}$/)
    assert.ok(lines.some((line) => line.includes(stored!.token)), 'dev mode logs the token')
    const token = stored!.token

    const del = (body: Record<string, unknown>) => xrpc(pds.publicUrl, 'com.atproto.server.deleteAccount', { body: { did: carol.did, ...body } })
    const wrongPassword = await del({ password: 'wrong', token })
    assert.deepEqual([wrongPassword.status, wrongPassword.body.error], [401, 'AuthenticationRequired'])
    assert.equal((await del({ password: PASSWORD, token: 'AAAAA-BBBBB' })).body.error, 'InvalidToken')
    const unknown = await xrpc(pds.publicUrl, 'com.atproto.server.deleteAccount', { body: { did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', password: PASSWORD, token } })
    assert.equal(unknown.body.error, 'InvalidRequest')

    const before = pds.ctx.events.lastSeq()
    const ok = await del({ password: PASSWORD, token: token.toLowerCase() })
    assert.equal(ok.status, 200, JSON.stringify(ok.body))

    const events = []
    for await (const entry of pds.ctx.events.read(before)) {
      const frame = parseFrame(entry.frameBytes)
      if (frame.kind === 'message') events.push(frame.message)
    }
    assert.deepEqual(events.map((e) => [e.t, 'did' in e ? e.did : null, 'active' in e ? e.active : null, 'status' in e ? e.status : null]), [
      ['#account', carol.did, false, 'deleted'],
    ])
    assert.equal(pds.ctx.repos.getHead(carol.did as Did), null)
    assert.equal(await blockCount(pds, carol.did), 0)
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.sync.getRepo', { params: { did: carol.did } })).body.error, 'RepoNotFound')
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did: carol.did } })).body.error, 'RepoNotFound')
    const refresh = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { method: 'POST', token: carol.refreshJwt })
    assert.equal(refresh.status, 400)
    const appLogin = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: carol.did, password: app.body.password } })
    assert.equal(appLogin.status, 401)
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.getSession', { token: carol.accessJwt })).body.error, 'AccountNotFound')
    // The handle and email are free again.
    const again = await createTestAccount(pds.publicUrl, 'carol.test', { email: 'carol@example.com' })
    assert.notEqual(again.did, carol.did)
    assert.equal((await del({ password: PASSWORD, token })).body.error, 'InvalidRequest')
  })

  it('refuses an expired token and app-password sessions', async () => {
    const dave = await createTestAccount(pds.publicUrl, 'dave.test')
    const { deletion } = await accountExtras(pds.ctx)
    await deletion.putToken(dave.did as Did, { token: 'OLDOL-DTOKE', requestedAtMs: Date.now() - PDS_DELETE_TOKEN_TTL_MS - 1 })
    const res = await xrpc(pds.publicUrl, 'com.atproto.server.deleteAccount', { body: { did: dave.did, password: PASSWORD, token: 'OLDOL-DTOKE' } })
    assert.deepEqual([res.status, res.body.error], [400, 'ExpiredToken'])
    const app = await xrpc(pds.publicUrl, 'com.atproto.server.createAppPassword', { token: dave.accessJwt, body: { name: 'app' } })
    const appSession = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: dave.did, password: app.body.password } })
    const refused = await xrpc(pds.publicUrl, 'com.atproto.server.requestAccountDelete', { token: appSession.body.accessJwt, method: 'POST' })
    assert.deepEqual([refused.status, refused.body.error], [400, 'InvalidToken'])
  })

  it('admin.deleteAccount; an interrupted purge finishes at the next start', async () => {
    const erin = await createTestAccount(pds.publicUrl, 'erin.test')
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.admin.deleteAccount', { auth: ADMIN, body: { did: erin.did } })).status, 200)
    assert.equal(pds.ctx.repos.getHead(erin.did as Did), null)

    // Simulate a crash between the deletion batch and the purge: rows gone, mark set, blocks left.
    const frank = await createTestAccount(pds.publicUrl, 'frank.test')
    const account = (await pds.ctx.accounts.get(frank.did as Did))!
    const { deletion } = await accountExtras(pds.ctx)
    await pds.ctx.db.batch([...pds.ctx.accounts.deleteOps(account), ...deletion.pendingPutOps(frank.did as Did)], { sync: true })
    assert.ok((await blockCount(pds, frank.did)) > 0)
    pds = await pds.restart()
    const marks = async () => {
      let n = 0
      for await (const _ of (await accountExtras(pds.ctx)).deletion.pendingDids()) n++
      return n
    }
    for (let i = 0; i < 250 && (await marks()) > 0; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(await marks(), 0, 'the start-up sweep finished the purge')
    assert.equal(pds.ctx.repos.getHead(frank.did as Did), null)
    assert.equal(await blockCount(pds, frank.did), 0)
  })
})

describe('preferences', () => {
  let plc: TestPlc
  let pds: TestPds
  let agent: AtpAgent

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    agent = new AtpAgent({ service: pds.publicUrl })
    await agent.createAccount({ handle: 'gina.test', password: PASSWORD })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const adult = { $type: 'app.bsky.actor.defs#adultContentPref', enabled: true }
  const personal = { $type: 'app.bsky.actor.defs#personalDetailsPref', birthDate: '1990-01-01T00:00:00.000Z' }

  it('round-trips with @atproto/api and replaces the whole set', async () => {
    assert.deepEqual((await agent.app.bsky.actor.getPreferences()).data.preferences, [])
    await agent.app.bsky.actor.putPreferences({ preferences: [adult, personal] })
    assert.deepEqual((await agent.app.bsky.actor.getPreferences()).data.preferences, [adult, personal])
    const prefs = await agent.getPreferences()
    assert.equal(prefs.moderationPrefs.adultContentEnabled, true)
    await agent.app.bsky.actor.putPreferences({ preferences: [personal] })
    assert.deepEqual((await agent.app.bsky.actor.getPreferences()).data.preferences, [personal])
  })

  it('hides and keeps personal details from app-password sessions', async () => {
    const created = await agent.com.atproto.server.createAppPassword({ name: 'app' })
    const app = new AtpAgent({ service: pds.publicUrl })
    await app.login({ identifier: 'gina.test', password: created.data.password })
    assert.deepEqual((await app.app.bsky.actor.getPreferences()).data.preferences, [])
    await assert.rejects(app.app.bsky.actor.putPreferences({ preferences: [personal] }), (err: { error?: string }) => err.error === 'InvalidRequest')
    await app.app.bsky.actor.putPreferences({ preferences: [adult] })
    const seen = (await agent.app.bsky.actor.getPreferences()).data.preferences
    assert.deepEqual(seen, [personal, adult])
  })

  it('refuses other namespaces, missing $type and oversized sets by name', async () => {
    const token = agent.session?.accessJwt as string
    const put = (preferences: unknown) => xrpc(pds.publicUrl, 'app.bsky.actor.putPreferences', { token, body: { preferences } })
    const other = await put([{ $type: 'com.example.pref', x: 1 }])
    assert.deepEqual([other.status, other.body.error], [400, 'InvalidRequest'])
    const untyped = await put([{ enabled: true }])
    assert.deepEqual([untyped.status, untyped.body.error], [400, 'InvalidRequest'])
    const big = await put([{ $type: 'app.bsky.custom.pref', blob: 'x'.repeat(PDS_PREFERENCES_JSON_BYTES_MAX) }])
    assert.deepEqual([big.status, big.body.error], [413, 'PayloadTooLarge'])
    const fits = await put([{ $type: 'app.bsky.custom.pref', blob: 'x'.repeat(PDS_PREFERENCES_JSON_BYTES_MAX - 200) }])
    assert.equal(fits.status, 200, JSON.stringify(fits.body))
    const declared = await put([{ $type: 'app.bsky.actor.defs#declaredAgePref', isOverAge13: true }, adult])
    assert.equal(declared.status, 200, JSON.stringify(declared.body))
    const got = await xrpc(pds.publicUrl, 'app.bsky.actor.getPreferences', { token })
    assert.deepEqual(got.body.preferences, [adult], 'declaredAgePref is read-only: dropped')
  })
})
