/**
 * Accounts, handles and the public sync/identity surface, by error name:
 * createAccount input rules, resolveHandle, updateHandle (PLC document
 * updated, `#identity` sequenced, old handle freed), the well-known routes
 * (atproto-did by Host header, did.json, _health), getLatestCommit,
 * getRepoStatus, listRepos paging, repo availability, JSON 404s, CORS.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { host } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

describe('PDS accounts, identity and sync', () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: Awaited<ReturnType<typeof createTestAccount>>

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { adminPassword: 'admin-secret' } })
    alice = await createTestAccount(pds.publicUrl, 'alice.test', { email: 'alice@example.com' })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const createAccount = (body: Record<string, unknown>) =>
    xrpc(pds.publicUrl, 'com.atproto.server.createAccount', { body: { password: 'pw-long-enough', ...body } })

  it('refuses bad signups by name', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ handle: 'carol.example.org' }, 400, 'UnsupportedDomain'],
      [{ handle: 'ab.test' }, 400, 'InvalidHandle'],
      [{ handle: 'a-very-long-handle-name.test' }, 400, 'InvalidHandle'],
      [{ handle: 'dots.in.local.test' }, 400, 'InvalidHandle'],
      [{ handle: 'admin.test' }, 400, 'HandleNotAvailable'],
      [{ handle: 'alice.test' }, 400, 'HandleNotAvailable'],
      [{ handle: 'ALICE.test' }, 400, 'HandleNotAvailable'],
      [{ handle: 'carol.test', email: 'ALICE@example.com' }, 400, 'InvalidRequest'],
      [{ handle: 'carol.test', email: 'not-an-email' }, 400, 'InvalidRequest'],
      [{ handle: 'carol.test', password: '' }, 400, 'InvalidRequest'],
      [{ handle: 'carol.test', password: 'x'.repeat(257) }, 400, 'InvalidPassword'],
      [{ handle: 'carol.test', plcOp: {} }, 400, 'InvalidRequest'],
      [{ handle: 'carol.test', recoveryKey: 'not-a-key' }, 400, 'InvalidRequest'],
      [{ handle: 'carol.test', did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }, 401, 'AuthenticationRequired'], // migration in needs a service token
      [{ handle: 'not a handle' }, 400, 'InvalidRequest'],
    ]
    for (const [body, status, error] of cases) {
      const res = await createAccount(body)
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 80))
      assert.equal(res.body.error, error, JSON.stringify(body).slice(0, 80))
    }
  })

  it('refuses signups without an invite when invites are required', async () => {
    const gated = await startTestPds({ plc, config: { inviteRequired: true } })
    try {
      const described = await xrpc(gated.publicUrl, 'com.atproto.server.describeServer')
      assert.equal(described.body.inviteCodeRequired, true)
      for (const inviteCode of [undefined, 'some-code']) {
        const res = await xrpc(gated.publicUrl, 'com.atproto.server.createAccount', { body: { handle: 'dan.test', password: 'pw-long-enough', inviteCode } })
        assert.equal(res.body.error, 'InvalidInviteCode')
      }
    } finally {
      await gated.stop()
    }
  })

  it('resolves hosted handles locally', async () => {
    const res = await xrpc(pds.publicUrl, 'com.atproto.identity.resolveHandle', { params: { handle: 'Alice.Test' } })
    assert.deepEqual(res.body, { did: alice.did })
    const missing = await xrpc(pds.publicUrl, 'com.atproto.identity.resolveHandle', { params: { handle: 'nobody.test' } })
    assert.equal(missing.status, 400)
    assert.equal(missing.body.error, 'HandleNotFound')
    const wk = await getWithHost(`${pds.url}/.well-known/atproto-did`, 'alice.test')
    assert.deepEqual(wk, { status: 200, body: alice.did })
    assert.equal((await getWithHost(`${pds.url}/.well-known/atproto-did`, 'nobody.test')).status, 404)
  })

  it('changes a handle: PLC document, account, #identity; the old handle is free again', async () => {
    const before = pds.ctx.events.lastSeq()
    const taken = await createTestAccount(pds.publicUrl, 'erin.test')
    const clash = await xrpc(pds.publicUrl, 'com.atproto.identity.updateHandle', { token: alice.accessJwt, body: { handle: 'erin.test' } })
    assert.equal(clash.body.error, 'HandleNotAvailable')
    const short = await xrpc(pds.publicUrl, 'com.atproto.identity.updateHandle', { token: alice.accessJwt, body: { handle: 'al.test' } })
    assert.equal(short.body.error, 'InvalidHandle')
    const res = await xrpc(pds.publicUrl, 'com.atproto.identity.updateHandle', { token: alice.accessJwt, body: { handle: 'alice2.test' } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const doc = (await (await fetch(`${plc.url}/${alice.did}`)).json()) as { alsoKnownAs: string[] }
    assert.deepEqual(doc.alsoKnownAs, ['at://alice2.test'])
    const session = await xrpc(pds.publicUrl, 'com.atproto.server.getSession', { token: alice.accessJwt })
    assert.equal(session.body.handle, 'alice2.test')
    const frames = []
    for await (const entry of pds.ctx.events.read(before)) frames.push(parseFrame(entry.frameBytes))
    const last = frames.at(-1)
    assert.ok(last?.kind === 'message' && last.message.t === '#identity')
    assert.equal(last.message.did, alice.did)
    assert.equal(last.message.handle, 'alice2.test')
    const reused = await createTestAccount(pds.publicUrl, 'alice.test')
    assert.notEqual(reused.did, alice.did)
    assert.notEqual(taken.did, alice.did)
    const described = await xrpc(pds.publicUrl, 'com.atproto.repo.describeRepo', { params: { repo: 'alice2.test' } })
    assert.equal(described.body.handleIsCorrect, true)
  })

  it('serves the sync queries and repo availability rules', async () => {
    const latest = await xrpc(pds.publicUrl, 'com.atproto.sync.getLatestCommit', { params: { did: alice.did } })
    const head = pds.ctx.repos.getHead(alice.did as Did)
    assert.deepEqual(latest.body, { cid: head?.commitCid.toString(), rev: head?.rev })
    const status = await xrpc(pds.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did: alice.did } })
    assert.deepEqual(status.body, { did: alice.did, active: true, rev: head?.rev })
    const unknown = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
    for (const nsid of ['getLatestCommit', 'getRepoStatus', 'getRepo']) {
      const res = await xrpc(pds.publicUrl, `com.atproto.sync.${nsid}`, { params: { did: unknown } })
      assert.equal(res.status, 400, nsid)
      assert.equal(res.body.error, 'RepoNotFound', nsid)
    }
    const seen: string[] = []
    let cursor: string | undefined
    for (let i = 0; i < 10; i++) {
      const page = await xrpc(pds.publicUrl, 'com.atproto.sync.listRepos', { params: { limit: '1', ...(cursor ? { cursor } : {}) } })
      seen.push(...page.body.repos.map((r: { did: string; head: string; active: boolean }) => r.did))
      cursor = page.body.cursor
      if (cursor === undefined) break
    }
    const all = await xrpc(pds.publicUrl, 'com.atproto.sync.listRepos')
    assert.deepEqual(seen, all.body.repos.map((r: { did: string }) => r.did))
    assert.ok(seen.includes(alice.did))
    assert.deepEqual([...seen].sort(), seen)

    const account = await pds.ctx.accounts.get(alice.did as Did)
    assert.ok(account)
    await pds.ctx.db.batch(pds.ctx.accounts.putOps({ ...account, status: 'deactivated' }))
    try {
      const anon = await xrpc(pds.publicUrl, 'com.atproto.sync.getRepo', { params: { did: alice.did } })
      assert.equal(anon.body.error, 'RepoDeactivated')
      const self = await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${alice.did}`, { headers: { authorization: `Bearer ${alice.accessJwt}` } })
      assert.equal(self.status, 200)
      await self.arrayBuffer()
      const admin = await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${alice.did}`, {
        headers: { authorization: `Basic ${Buffer.from('admin:admin-secret').toString('base64')}` },
      })
      assert.equal(admin.status, 200)
      await admin.arrayBuffer()
    } finally {
      await pds.ctx.db.batch(pds.ctx.accounts.putOps(account))
    }
  })

  it('serves the basic routes, JSON 404s and CORS', async () => {
    const health = await xrpc(pds.publicUrl, '_health')
    assert.match(health.body.version, /^atfed-pds\//)
    const did = await (await fetch(`${pds.publicUrl}/.well-known/did.json`)).json()
    assert.deepEqual(did, {
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: pds.ctx.serviceDid,
      service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pds.publicUrl }],
    })
    const missing = await xrpc(pds.publicUrl, 'com.example.nothing')
    assert.equal(missing.status, 501)
    assert.equal(missing.body.error, 'MethodNotImplemented')
    const notFound = await fetch(`${pds.publicUrl}/nothing/here`)
    assert.equal(notFound.status, 404)
    assert.equal(((await notFound.json()) as { error: string }).error, 'NotFound')
    const preflight = await fetch(`${pds.publicUrl}/xrpc/com.atproto.server.createSession`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*')
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type,authorization')
    const wrongVerb = await xrpc(pds.publicUrl, 'com.atproto.server.describeServer', { method: 'POST' })
    assert.equal(wrongVerb.status, 400)
    assert.equal(wrongVerb.body.error, 'InvalidRequest')
  })
})
