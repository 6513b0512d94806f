/**
 * Admin account methods: takedown (login, writes and refresh refused, sync
 * routes hide the repo, `#account` takendown sequenced, subject status
 * with its ref) and untakedown, admin deactivation, account views and the
 * listing, password and handle changes, unknown accounts and unsupported
 * subjects by name, and `atfed admin takedown / untakedown / accounts` as
 * child processes.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { parseFrame } from '../../core/stream/event-parse.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const ADMIN = `Basic ${Buffer.from('admin:admin-secret').toString('base64')}`
const PASSWORD = 'hunter2-password'
const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

async function atfed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { env: { ...process.env, ATFED_ADMIN_PASSWORD: 'admin-secret' } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('admin account methods', () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: Awaited<ReturnType<typeof createTestAccount>>
  const repoRef = (did: string) => ({ $type: 'com.atproto.admin.defs#repoRef', did })
  const setStatus = (body: Record<string, unknown>) => xrpc(pds.publicUrl, 'com.atproto.admin.updateSubjectStatus', { auth: ADMIN, body })
  const login = (identifier: string, password = PASSWORD) =>
    xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier, password } })
  const post = (token: string) =>
    xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
      token,
      body: { repo: alice.did, collection: 'app.bsky.feed.post', record: { text: 'hi', createdAt: new Date().toISOString() } },
    })
  const accountEvents = async (after: number) => {
    const out = []
    for await (const entry of pds.ctx.events.read(after)) {
      const frame = parseFrame(entry.frameBytes)
      if (frame.kind === 'message' && frame.message.t === '#account') out.push(frame.message)
    }
    return out
  }

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { adminPassword: 'admin-secret' } })
    alice = await createTestAccount(pds.publicUrl, 'alice.test', { email: 'alice@example.com' })
    await createTestAccount(pds.publicUrl, 'bob.test')
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('takes an account down: no login, no writes, no refresh, repo hidden, #account sequenced', async () => {
    const before = pds.ctx.events.lastSeq()
    assert.equal((await post(alice.accessJwt)).status, 200)
    const res = await setStatus({ subject: repoRef(alice.did), takedown: { applied: true, ref: 'TICKET-1' } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.takedown, { applied: true, ref: 'TICKET-1' })
    assert.deepEqual([(await login('alice.test')).status, (await login('alice.test')).body.error], [401, 'AccountTakedown'])
    const write = await post(alice.accessJwt)
    assert.deepEqual([write.status, write.body.error], [401, 'AccountTakedown'])
    const refresh = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { method: 'POST', token: alice.refreshJwt })
    assert.ok(refresh.status === 400 || refresh.status === 401, JSON.stringify(refresh.body))
    for (const nsid of ['com.atproto.sync.getRepo', 'com.atproto.sync.getLatestCommit', 'com.atproto.sync.getRecord']) {
      const got = await xrpc(pds.publicUrl, nsid, { params: { did: alice.did, collection: 'app.bsky.feed.post', rkey: '3jzfcijpj2z2a' } })
      assert.equal(got.body.error, 'RepoTakendown', nsid)
    }
    const status = await xrpc(pds.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did: alice.did } })
    assert.deepEqual(status.body, { did: alice.did, active: false, status: 'takendown' })
    const subject = await xrpc(pds.publicUrl, 'com.atproto.admin.getSubjectStatus', { auth: ADMIN, params: { did: alice.did } })
    assert.deepEqual(subject.body, { subject: repoRef(alice.did), takedown: { applied: true, ref: 'TICKET-1' }, deactivated: { applied: false } })
    const events = await accountEvents(before)
    assert.deepEqual(events.map((e) => [e.did, e.active, e.status]), [[alice.did, false, 'takendown']])
  })

  it('lifts the takedown: login and writes work again, #account active', async () => {
    const before = pds.ctx.events.lastSeq()
    assert.equal((await setStatus({ subject: repoRef(alice.did), takedown: { applied: false } })).status, 200)
    const again = await login('alice.test')
    assert.equal(again.status, 200)
    assert.equal((await post(again.body.accessJwt)).status, 200)
    const events = await accountEvents(before)
    assert.deepEqual(events.map((e) => [e.active, e.status ?? null]), [[true, null]])
    alice = { ...alice, accessJwt: again.body.accessJwt, refreshJwt: again.body.refreshJwt }
  })

  it('deactivates and reactivates an account', async () => {
    assert.equal((await setStatus({ subject: repoRef(alice.did), deactivated: { applied: true } })).status, 200)
    assert.equal((await post(alice.accessJwt)).body.error, 'AccountDeactivated')
    const subject = await xrpc(pds.publicUrl, 'com.atproto.admin.getSubjectStatus', { auth: ADMIN, params: { did: alice.did } })
    assert.deepEqual(subject.body.deactivated, { applied: true })
    // A takedown on top, then lifted: still deactivated.
    await setStatus({ subject: repoRef(alice.did), takedown: { applied: true } })
    await setStatus({ subject: repoRef(alice.did), takedown: { applied: false } })
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did: alice.did } })).body.status, 'deactivated')
    await setStatus({ subject: repoRef(alice.did), deactivated: { applied: false } })
    const fresh = await login('alice.test')
    assert.equal((await post(fresh.body.accessJwt)).status, 200)
    alice = { ...alice, accessJwt: fresh.body.accessJwt, refreshJwt: fresh.body.refreshJwt }
  })

  it('shows account views and lists every account', async () => {
    const info = await xrpc(pds.publicUrl, 'com.atproto.admin.getAccountInfo', { auth: ADMIN, params: { did: alice.did } })
    assert.equal(info.body.handle, 'alice.test')
    assert.equal(info.body.email, 'alice@example.com')
    assert.deepEqual(info.body.invites, [])
    assert.match(info.body.indexedAt, /^\d{4}-\d\d-\d\dT/)
    const url = new URL('/xrpc/com.atproto.admin.getAccountInfos', pds.publicUrl)
    for (const did of [alice.did, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa']) url.searchParams.append('dids', did)
    const infos = (await (await fetch(url, { headers: { authorization: ADMIN } })).json()) as { infos: Array<{ did: string }> }
    assert.deepEqual(infos.infos.map((i) => i.did), [alice.did])
    const byEmail = await xrpc(pds.publicUrl, 'com.atproto.admin.searchAccounts', { auth: ADMIN, params: { email: 'ALICE@example.com' } })
    assert.deepEqual(byEmail.body.accounts.map((a: { did: string }) => a.did), [alice.did])
    const page = await xrpc(pds.publicUrl, 'com.atproto.admin.searchAccounts', { auth: ADMIN, params: { limit: '1' } })
    assert.equal(page.body.accounts.length, 1)
    const rest = await xrpc(pds.publicUrl, 'com.atproto.admin.searchAccounts', { auth: ADMIN, params: { limit: '1', cursor: page.body.cursor } })
    assert.equal(rest.body.accounts.length, 1)
    assert.notEqual(rest.body.accounts[0].did, page.body.accounts[0].did)
  })

  it('changes an account password (sessions revoked) and handle', async () => {
    const res = await xrpc(pds.publicUrl, 'com.atproto.admin.updateAccountPassword', { auth: ADMIN, body: { did: alice.did, password: 'brand-new-password' } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal((await login('alice.test')).status, 401)
    const fresh = await login('alice.test', 'brand-new-password')
    assert.equal(fresh.status, 200)
    const refresh = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { method: 'POST', token: alice.refreshJwt })
    assert.equal(refresh.body.error, 'ExpiredToken')
    const handle = await xrpc(pds.publicUrl, 'com.atproto.admin.updateAccountHandle', { auth: ADMIN, body: { did: alice.did, handle: 'alicia.test' } })
    assert.equal(handle.status, 200, JSON.stringify(handle.body))
    const resolved = await xrpc(pds.publicUrl, 'com.atproto.identity.resolveHandle', { params: { handle: 'alicia.test' } })
    assert.equal(resolved.body.did, alice.did)
    const short = await xrpc(pds.publicUrl, 'com.atproto.admin.updateAccountPassword', { auth: ADMIN, body: { did: alice.did, password: 'x'.repeat(257) } })
    assert.equal(short.body.error, 'InvalidPassword')
  })

  it('answers unknown accounts and unsupported subjects by name', async () => {
    const ghost = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
    for (const [nsid, opts] of [
      ['com.atproto.admin.getAccountInfo', { params: { did: ghost } }],
      ['com.atproto.admin.getSubjectStatus', { params: { did: ghost } }],
      ['com.atproto.admin.updateSubjectStatus', { body: { subject: repoRef(ghost), takedown: { applied: true } } }],
      ['com.atproto.admin.deleteAccount', { body: { did: ghost } }],
      ['com.atproto.admin.updateAccountPassword', { body: { did: ghost, password: 'whatever-pass' } }],
    ] as const) {
      const res = await xrpc(pds.publicUrl, nsid, { auth: ADMIN, ...opts })
      assert.deepEqual([res.status, res.body.error], [400, 'NotFound'], nsid)
    }
    const record = await setStatus({
      subject: { $type: 'com.atproto.repo.strongRef', uri: `at://${alice.did}/app.bsky.feed.post/3jzfcijpj2z2a`, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' },
      takedown: { applied: true },
    })
    assert.deepEqual([record.status, record.body.error], [400, 'InvalidRequest'])
    const noAuth = await xrpc(pds.publicUrl, 'com.atproto.admin.getAccountInfo', { params: { did: alice.did } })
    assert.equal(noAuth.status, 401)
    const userToken = await xrpc(pds.publicUrl, 'com.atproto.admin.getAccountInfo', { token: alice.accessJwt, params: { did: alice.did } })
    assert.equal(userToken.status, 401)
  })

  it('atfed admin takedown / untakedown / accounts', async () => {
    const conn = ['--pds', pds.publicUrl]
    const down = await atfed(['admin', 'takedown', alice.did, '--ref', 'cli', ...conn])
    assert.equal(down.code, 0, down.stderr)
    assert.equal((await login('alicia.test', 'brand-new-password')).body.error, 'AccountTakedown')
    const up = await atfed(['admin', 'untakedown', alice.did, ...conn])
    assert.equal(up.code, 0, up.stderr)
    assert.equal((await login('alicia.test', 'brand-new-password')).status, 200)
    const listed = await atfed(['admin', 'accounts', '--limit', '1', ...conn])
    assert.equal(listed.code, 0, listed.stderr)
    const handles = listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { handle: string }).handle)
    assert.deepEqual(handles.sort(), ['alicia.test', 'bob.test'])
    const ghost = await atfed(['admin', 'takedown', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', ...conn])
    assert.equal(ghost.code, 1)
    assert.match(ghost.stderr, /NotFound: /)
  })
})
