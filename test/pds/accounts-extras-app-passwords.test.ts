/**
 * App passwords end to end with @atproto/api: create (format, returned
 * once), log in with one and post, the session's scope, what an
 * app-password session may not do (createAppPassword, requestAccountDelete,
 * getAccountInviteCodes → InvalidToken), list and revoke (which kills the
 * sessions opened with it), privileged scope, and the limits by error name.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { PDS_APP_PASSWORD_NAME_LENGTH_MAX, PDS_APP_PASSWORDS_PER_ACCOUNT_MAX } from '../../core/limits.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const PASSWORD = 'main-password-123'
const APP_PASSWORD_SHAPE = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/

function scopeOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8')) as { scope: string }
  return payload.scope
}

type XrpcErr = { status?: number; error?: string }
const rejectsWith = (status: number, error: string) => (err: XrpcErr) => err.status === status && err.error === error

describe('app passwords', () => {
  let plc: TestPlc
  let pds: TestPds
  let main: AtpAgent

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    main = new AtpAgent({ service: pds.publicUrl })
    await main.createAccount({ handle: 'alice.test', password: PASSWORD, email: 'alice@example.com' })
    await new AtpAgent({ service: pds.publicUrl }).createAccount({ handle: 'bob.test', password: PASSWORD })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('creates one, logs in with it and posts; full-access routes refuse the session', async () => {
    const created = await main.com.atproto.server.createAppPassword({ name: 'my client' })
    assert.match(created.data.password, APP_PASSWORD_SHAPE)
    assert.equal(created.data.name, 'my client')
    assert.equal(created.data.privileged, false)

    const app = new AtpAgent({ service: pds.publicUrl })
    const login = await app.login({ identifier: 'alice.test', password: created.data.password })
    assert.equal(scopeOf(login.data.accessJwt), 'com.atproto.appPass')
    assert.equal(login.data.email, undefined, 'no email for app-password sessions')
    const post = await app.post({ text: 'via app password', createdAt: new Date().toISOString() })
    assert.match(post.uri, /app\.bsky\.feed\.post/)

    await assert.rejects(app.com.atproto.server.createAppPassword({ name: 'nested' }), rejectsWith(400, 'InvalidToken'))
    await assert.rejects(app.com.atproto.server.requestAccountDelete(), rejectsWith(400, 'InvalidToken'))
    await assert.rejects(app.com.atproto.server.getAccountInviteCodes(), rejectsWith(400, 'InvalidToken'))
    const listed = await app.com.atproto.server.listAppPasswords()
    assert.deepEqual(listed.data.passwords.map((p) => p.name), ['my client'])
    assert.equal('password' in (listed.data.passwords[0] as object), false, 'the password is shown once only')
  })

  it('revoking kills the sessions opened with it and further logins', async () => {
    const created = await main.com.atproto.server.createAppPassword({ name: 'short lived' })
    const app = new AtpAgent({ service: pds.publicUrl })
    const login = await app.login({ identifier: 'alice.test', password: created.data.password })
    const other = await main.com.atproto.server.createAppPassword({ name: 'survivor' })
    const kept = new AtpAgent({ service: pds.publicUrl })
    await kept.login({ identifier: 'alice.test', password: other.data.password })

    await main.com.atproto.server.revokeAppPassword({ name: 'short lived' })
    const refresh = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { method: 'POST', token: login.data.refreshJwt })
    assert.equal(refresh.status, 400)
    assert.equal(refresh.body.error, 'ExpiredToken')
    await assert.rejects(
      new AtpAgent({ service: pds.publicUrl }).login({ identifier: 'alice.test', password: created.data.password }),
      rejectsWith(401, 'AuthenticationRequired'),
    )
    const names = (await main.com.atproto.server.listAppPasswords()).data.passwords.map((p) => p.name)
    assert.equal(names.includes('short lived'), false)
    // The other app password's session is untouched.
    const refreshKept = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { method: 'POST', token: kept.session?.refreshJwt as string })
    assert.equal(refreshKept.status, 200)
    assert.equal(scopeOf(refreshKept.body.accessJwt), 'com.atproto.appPass')
  })

  it('a privileged app password gets the privileged scope; passwords are per account', async () => {
    const created = await main.com.atproto.server.createAppPassword({ name: 'trusted', privileged: true })
    assert.equal(created.data.privileged, true)
    const login = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'alice.test', password: created.data.password } })
    assert.equal(scopeOf(login.body.accessJwt), 'com.atproto.appPassPrivileged')
    const wrongAccount = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'bob.test', password: created.data.password } })
    assert.equal(wrongAccount.status, 401)
    const wrongShape = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'alice.test', password: 'aaaa-bbbb-cccc' } })
    assert.equal(wrongShape.status, 401)
  })

  it('refuses duplicate and oversized names and more than the cap, by name', async () => {
    const token = main.session?.accessJwt as string
    const create = (name: unknown) => xrpc(pds.publicUrl, 'com.atproto.server.createAppPassword', { token, body: { name } })
    const dup = await create('my client')
    assert.equal(dup.status, 400)
    assert.equal(dup.body.error, 'InvalidRequest')
    const long = await create('x'.repeat(PDS_APP_PASSWORD_NAME_LENGTH_MAX + 1))
    assert.equal(long.body.error, 'InvalidRequest')
    assert.equal((await create('x'.repeat(PDS_APP_PASSWORD_NAME_LENGTH_MAX))).status, 200)
    const have = (await main.com.atproto.server.listAppPasswords()).data.passwords.length
    for (let i = have; i < PDS_APP_PASSWORDS_PER_ACCOUNT_MAX; i++) assert.equal((await create(`n${i}`)).status, 200)
    const over = await create('one too many')
    assert.equal(over.status, 400)
    assert.equal(over.body.error, 'InvalidRequest')
    assert.match(over.body.message, /at most/)
  })
})
