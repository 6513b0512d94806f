/**
 * What each session kind may do, as the reference decides it
 * (auth-scope.ts ACCESS_FULL / ACCESS_PRIVILEGED, getServiceAuth.ts,
 * pipethrough.ts PRIVILEGED_METHODS / PROTECTED_METHODS):
 * - main-password-only methods (createAppPassword, getAccountInviteCodes,
 *   requestAccountDelete, importRepo, activate/deactivateAccount,
 *   requestPlcOperationSignature, signPlcOperation) refuse BOTH app-password
 *   kinds with 400 `InvalidToken`;
 * - getServiceAuth for a privileged lxm (chat.bsky.*, createAccount): a
 *   plain app password gets 400 `InvalidRequest`, a privileged one and the
 *   main password get a token; a protected lxm is refused for everyone;
 * - atproto-proxy of a chat method: a plain app password is refused (400
 *   `InvalidToken`) before any upstream is resolved, a privileged one gets
 *   past that check (the unknown service then answers 400 InvalidRequest);
 * - both app-password kinds may still do standard things: post, list app
 *   passwords, getSession (without email), checkAccountStatus.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startPlcForPds, startTestPds, xrpc, createTestAccount, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const PASSWORD = 'main-password-123'
const TIMEOUT = { timeout: 30_000 }

/** Main-password-only methods and a body each accepts from a main-password session. */
const FULL_ONLY: ReadonlyArray<{ nsid: string; method: 'GET' | 'POST'; body?: unknown }> = [
  { nsid: 'com.atproto.server.createAppPassword', method: 'POST', body: { name: 'nested' } },
  { nsid: 'com.atproto.server.getAccountInviteCodes', method: 'GET' },
  { nsid: 'com.atproto.server.requestAccountDelete', method: 'POST' },
  { nsid: 'com.atproto.server.activateAccount', method: 'POST' },
  { nsid: 'com.atproto.server.deactivateAccount', method: 'POST', body: {} },
  { nsid: 'com.atproto.identity.requestPlcOperationSignature', method: 'POST' },
  { nsid: 'com.atproto.identity.signPlcOperation', method: 'POST', body: { token: 'AAAAA-BBBBB' } },
]

describe('app-password privileges', () => {
  let plc: TestPlc
  let pds: TestPds
  let did: string
  let mainToken: string
  const tokens = { plain: '', privileged: '' }

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    const account = await createTestAccount(pds.publicUrl, 'carol.test', { password: PASSWORD, email: 'carol@example.com' })
    did = account.did
    mainToken = account.accessJwt
    for (const kind of ['plain', 'privileged'] as const) {
      const created = await xrpc(pds.publicUrl, 'com.atproto.server.createAppPassword', {
        token: mainToken,
        body: { name: kind, privileged: kind === 'privileged' },
      })
      assert.equal(created.status, 200, JSON.stringify(created.body))
      const login = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'carol.test', password: created.body.password } })
      assert.equal(login.status, 200)
      tokens[kind] = login.body.accessJwt
    }
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('main-password-only methods refuse both app-password kinds with 400 InvalidToken', TIMEOUT, async () => {
    for (const kind of ['plain', 'privileged'] as const) {
      for (const { nsid, method, body } of FULL_ONLY) {
        const reply = await xrpc(pds.publicUrl, nsid, { method, token: tokens[kind], ...(body === undefined ? {} : { body }) })
        assert.deepEqual([reply.status, reply.body?.error], [400, 'InvalidToken'], `${kind} ${nsid}`)
      }
      const importRepo = await fetch(`${pds.publicUrl}/xrpc/com.atproto.repo.importRepo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[kind]}`, 'content-type': 'application/vnd.ipld.car' },
        body: new Uint8Array([1, 2, 3]),
      })
      assert.deepEqual([importRepo.status, ((await importRepo.json()) as { error: string }).error], [400, 'InvalidToken'], `${kind} importRepo`)
    }
    // The same methods pass the scope check with the main password.
    const invites = await xrpc(pds.publicUrl, 'com.atproto.server.getAccountInviteCodes', { token: mainToken })
    assert.equal(invites.status, 200)
    const plcToken = await xrpc(pds.publicUrl, 'com.atproto.identity.requestPlcOperationSignature', { method: 'POST', token: mainToken })
    assert.equal(plcToken.status, 200)
    const badPlcToken = await xrpc(pds.publicUrl, 'com.atproto.identity.signPlcOperation', { token: mainToken, body: { token: 'AAAAA-BBBBB' } })
    assert.equal(badPlcToken.body.error, 'InvalidToken', 'past the scope check, the wrong PLC token is what fails')
    assert.match(badPlcToken.body.message, /token/i)
  })

  it('getServiceAuth: privileged lxm needs a privileged app password or the main password; protected lxm never', TIMEOUT, async () => {
    const aud = 'did:web:example.com'
    const ask = (token: string, lxm: string) => xrpc(pds.publicUrl, 'com.atproto.server.getServiceAuth', { token, params: { aud, lxm } })
    for (const lxm of ['chat.bsky.convo.getLog', 'com.atproto.server.createAccount']) {
      const plain = await ask(tokens.plain, lxm)
      assert.deepEqual([plain.status, plain.body.error], [400, 'InvalidRequest'], `plain ${lxm}`)
      assert.match(plain.body.message, /insufficient access/)
      assert.equal((await ask(tokens.privileged, lxm)).status, 200, `privileged ${lxm}`)
      assert.equal((await ask(mainToken, lxm)).status, 200, `main ${lxm}`)
    }
    assert.equal((await ask(tokens.plain, 'app.bsky.feed.getTimeline')).status, 200, 'a standard lxm is fine for a plain app password')
    for (const token of [tokens.plain, tokens.privileged, mainToken]) {
      const reply = await ask(token, 'com.atproto.server.createAppPassword')
      assert.deepEqual([reply.status, reply.body.error], [400, 'InvalidRequest'])
      assert.match(reply.body.message, /protected method/)
    }
  })

  it('proxying a chat method: refused for a plain app password, allowed past the check for a privileged one', TIMEOUT, async () => {
    const proxy = (token: string) =>
      fetch(`${pds.publicUrl}/xrpc/chat.bsky.convo.listConvos`, {
        headers: { authorization: `Bearer ${token}`, 'atproto-proxy': 'did:web:chat.invalid#bsky_chat' },
      })
    const plain = await proxy(tokens.plain)
    assert.deepEqual([plain.status, ((await plain.json()) as { error: string }).error], [400, 'InvalidToken'])
    const privileged = await proxy(tokens.privileged)
    const body = (await privileged.json()) as { error: string }
    assert.notEqual(body.error, 'InvalidToken', 'the privileged session passes the method check')
  })

  it('both app-password kinds may post, list app passwords, read their session and account status', TIMEOUT, async () => {
    for (const kind of ['plain', 'privileged'] as const) {
      const token = tokens[kind]
      const record = { $type: 'app.bsky.feed.post', text: `from ${kind}`, createdAt: new Date().toISOString() }
      const post = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', { token, body: { repo: did, collection: 'app.bsky.feed.post', record } })
      assert.equal(post.status, 200, kind)
      const listed = await xrpc(pds.publicUrl, 'com.atproto.server.listAppPasswords', { token })
      assert.deepEqual(listed.body.passwords.map((p: { name: string }) => p.name).sort(), ['plain', 'privileged'])
      const session = await xrpc(pds.publicUrl, 'com.atproto.server.getSession', { token })
      assert.equal(session.status, 200)
      assert.equal(session.body.email, undefined, `${kind}: no email for app-password sessions`)
      assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.checkAccountStatus', { token })).status, 200)
    }
  })
})
