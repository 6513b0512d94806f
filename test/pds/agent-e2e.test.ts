/**
 * End to end with the official client (`@atproto/api` AtpAgent) against a
 * real PDS and PLC on 127.0.0.1: signup, post, like, list, get, delete,
 * login by handle/DID/email, refresh (explicit and triggered by an expired
 * access token), and a getRepo CAR that @atproto/repo verifies with the
 * account's signing key.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { verifyRepoCar } from '@atproto/repo'
import { createAccessToken } from '../../core/crypto/session-jwt.ts'
import type { Did } from '../../core/syntax/did.ts'
import { startPlcForPds, startTestPds, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const PASSWORD = 'correct horse battery'

describe('PDS with @atproto/api', () => {
  let plc: TestPlc
  let pds: TestPds
  let agent: AtpAgent
  let did: string

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    agent = new AtpAgent({ service: pds.publicUrl })
    const res = await agent.createAccount({ handle: 'alice.test', password: PASSWORD, email: 'Alice@Example.com' })
    did = res.data.did
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('signs up with a did:plc registered at the directory, pointing at this PDS', async () => {
    assert.match(did, /^did:plc:[a-z2-7]{24}$/)
    assert.equal(agent.session?.handle, 'alice.test')
    const doc = (await (await fetch(`${plc.url}/${did}`)).json()) as { alsoKnownAs: string[]; service: Array<{ serviceEndpoint: string }> }
    assert.deepEqual(doc.alsoKnownAs, ['at://alice.test'])
    assert.equal(doc.service[0]?.serviceEndpoint, pds.publicUrl)
    const session = await agent.com.atproto.server.getSession()
    assert.equal(session.data.did, did)
    assert.equal(session.data.email, 'alice@example.com')
    assert.equal(session.data.active, true)
  })

  it('posts, likes, lists, reads and deletes records', async () => {
    const post = await agent.post({ text: 'hello from atfed', createdAt: new Date().toISOString() })
    assert.match(post.uri, new RegExp(`^at://${did}/app\\.bsky\\.feed\\.post/`))
    const like = await agent.like(post.uri, post.cid)
    const posts = await agent.com.atproto.repo.listRecords({ repo: did, collection: 'app.bsky.feed.post' })
    assert.equal(posts.data.records.length, 1)
    assert.equal((posts.data.records[0]?.value as { text: string }).text, 'hello from atfed')
    const rkey = post.uri.split('/').pop() as string
    const got = await agent.com.atproto.repo.getRecord({ repo: 'alice.test', collection: 'app.bsky.feed.post', rkey })
    assert.equal(got.data.cid, post.cid)
    const likes = await agent.com.atproto.repo.listRecords({ repo: did, collection: 'app.bsky.feed.like' })
    assert.equal((likes.data.records[0]?.value as { subject: { uri: string } }).subject.uri, post.uri)
    await agent.deleteLike(like.uri)
    await agent.deletePost(post.uri)
    const after = await agent.com.atproto.repo.listRecords({ repo: did, collection: 'app.bsky.feed.post' })
    assert.equal(after.data.records.length, 0)
    await assert.rejects(
      agent.com.atproto.repo.getRecord({ repo: did, collection: 'app.bsky.feed.post', rkey }),
      (err: { error?: string; status?: number }) => err.error === 'RecordNotFound' && err.status === 400,
    )
  })

  it('logs in by handle, DID and email', async () => {
    for (const identifier of ['alice.test', did, 'alice@example.com', 'ALICE.TEST']) {
      const other = new AtpAgent({ service: pds.publicUrl })
      const res = await other.login({ identifier, password: PASSWORD })
      assert.equal(res.data.did, did, identifier)
    }
    const other = new AtpAgent({ service: pds.publicUrl })
    await assert.rejects(other.login({ identifier: 'alice.test', password: 'wrong' }), (err: { status?: number; error?: string }) => {
      return err.status === 401 && err.error === 'AuthenticationRequired'
    })
  })

  it('refreshes explicitly and when the access token has expired', async () => {
    const before = agent.session?.refreshJwt
    await agent.sessionManager.refreshSession()
    assert.notEqual(agent.session?.refreshJwt, before)
    // An expired access token: the agent sees 400 ExpiredToken, refreshes, retries.
    const expired = createAccessToken({
      did: did as Did,
      serviceDid: pds.ctx.serviceDid,
      secret: pds.ctx.sessionSecret,
      nowMs: Date.now() - 3 * 60 * 60 * 1000,
    }).token
    const session = agent.sessionManager.session
    assert.ok(session)
    session.accessJwt = expired
    const refreshBefore = session.refreshJwt
    const res = await agent.com.atproto.server.getSession()
    assert.equal(res.data.did, did)
    assert.notEqual(agent.session?.refreshJwt, refreshBefore)
    assert.notEqual(agent.session?.accessJwt, expired)
  })

  it('serves a repo CAR that @atproto/repo verifies', async () => {
    for (let i = 0; i < 5; i++) await agent.post({ text: `post ${i}`, createdAt: new Date().toISOString() })
    await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: 'app.bsky.actor.profile',
      rkey: 'self',
      record: { $type: 'app.bsky.actor.profile', displayName: 'Alice' },
    })
    const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${did}`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.car')
    const car = new Uint8Array(await res.arrayBuffer())
    const account = await pds.ctx.accounts.get(did as Did)
    assert.ok(account)
    const key = pds.ctx.signingKeys.get(account).publicKey.didKey
    const verified = await verifyRepoCar(car, did, key)
    assert.equal(verified.creates.length, 6)
    const latest = await agent.com.atproto.sync.getLatestCommit({ did })
    assert.equal(verified.commit.rev, latest.data.rev)
  })
})
