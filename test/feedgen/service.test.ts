/**
 * The feed generator's edges: service-JWT auth on getFeedSkeleton (every bad
 * token is 401 by name, anonymous only for public feeds, both audience forms,
 * a rotated viewer key accepted through the refetch), request parameters
 * (UnknownFeed, limit and cursor bounds), malformed records skipped and
 * counted, a forged commit skipped by verification, and a restart that
 * resumes from the stored cursor without indexing anything twice.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import { startFeedgenHarness, SKELETON } from '../helpers/feedgen-harness.ts'
import type { FeedgenHarness } from '../helpers/feedgen-harness.ts'
import type { TestAccount } from '../helpers/feed-accounts.ts'
import { FeedStore } from '../../feedgen/indexer/store.ts'
import { signingKeyResolver } from '../../feedgen/auth.ts'
import type { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import type { Did } from '../../core/syntax/did.ts'

let h: FeedgenHarness
let viewer: TestAccount
let author: TestAccount

before(async () => {
  h = await startFeedgenHarness()
  viewer = await h.account('viewer')
  author = await h.account('author')
  await h.emit(viewer.follow(author.did).event, author.post('hello #atfed').event)
})
after(async () => {
  await h.close()
})

test('following without a token is 401 AuthRequired; public feeds serve anonymous requests', async () => {
  const anon = await h.skeleton('following')
  assert.equal(anon.status, 401)
  assert.equal(anon.body.error, 'AuthRequired')
  const kw = await h.skeleton('keyword')
  assert.equal(kw.status, 200)
  assert.equal(kw.body.feed?.length, 1)
  const ok = await h.skeleton('following', { token: h.token(viewer) })
  assert.equal(ok.status, 200)
  assert.equal(ok.body.feed?.length, 1)
})

test('bad service tokens are 401 with the right error name', async () => {
  const now = Math.floor(Date.now() / 1000)
  const mallory = generateKeypair('k256')
  const forged = createServiceJwt({ iss: viewer.did, aud: 'did:web:feed.test', lxm: SKELETON, keypair: mallory })
  const cases: Array<[string, string]> = [
    ['BadJwtSignature', forged],
    ['JwtExpired', h.token(viewer, { iat: now - 600, exp: now - 300 })],
    ['BadJwtAudience', h.token(viewer, { aud: 'did:web:other.test' })],
    ['BadJwtAudience', h.token(viewer, { aud: 'did:web:feed.test#atproto_labeler' })],
    ['BadJwtLexiconMethod', h.token(viewer, { lxm: 'app.bsky.feed.getTimeline' })],
    ['BadJwtLexiconMethod', h.token(viewer, { lxm: null })],
    ['BadJwt', 'not.a.jwt'],
    ['BadJwtIss', createServiceJwt({ iss: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', aud: 'did:web:feed.test', lxm: SKELETON, keypair: mallory })],
  ]
  for (const [name, token] of cases) {
    for (const feed of ['following', 'keyword']) {
      const r = await h.skeleton(feed, { token })
      assert.equal(r.status, 401, `${name} on ${feed}: ${JSON.stringify(r.body)}`)
      assert.equal(r.body.error, name, `${name} on ${feed}: ${JSON.stringify(r.body)}`)
    }
  }
})

test('both audience forms are accepted; a rotated viewer key verifies after one refetch', async () => {
  const fragment = await h.skeleton('following', { token: h.token(viewer, { aud: 'did:web:feed.test#bsky_fg' }) })
  assert.equal(fragment.status, 200)
  await h.skeleton('following', { token: h.token(viewer) }) // the old key is cached now
  await viewer.rotateSigningKey(h.plc.url)
  const rotated = await h.skeleton('following', { token: h.token(viewer) })
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body))
})

test('forced key refetches are throttled per issuer (a flood of forged tokens is not a flood of PLC requests)', async () => {
  let t = 0
  const calls: string[] = []
  const fake = {
    resolveDid: async (did: string) => (calls.push(`cached ${did}`), { signingKey: viewer.signingKey.publicKey, labeler: {} }),
    refresh: async (did: string) => (calls.push(`refetch ${did}`), { signingKey: viewer.signingKey.publicKey, labeler: {} }),
  } as unknown as IdentityResolver
  const resolve = signingKeyResolver(fake, { refetchMinMs: 5_000, now: () => t })
  const a = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did
  const b = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb' as Did
  for (const [did, at] of [[a, 0], [a, 1_000], [b, 1_000], [a, 4_999], [a, 5_000]] as const) {
    t = at
    await resolve(did, { forceRefresh: true, keyId: 'atproto' })
  }
  assert.deepEqual(calls, [`refetch ${a}`, `cached ${a}`, `refetch ${b}`, `cached ${a}`, `refetch ${a}`])
  await assert.rejects(resolve(a, { forceRefresh: false, keyId: 'atproto_label' }), { name: 'BadJwtIss' })
})

test('request parameters: UnknownFeed, limit bounds, malformed cursors', async () => {
  const unknown = await h.skeleton('x', { feed: 'at://did:web:feed.test/app.bsky.feed.generator/nope' })
  assert.deepEqual([unknown.status, unknown.body.error], [400, 'UnknownFeed'])
  const otherPublisher = await h.skeleton('x', { feed: 'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.generator/keyword' })
  assert.deepEqual([otherPublisher.status, otherPublisher.body.error], [400, 'UnknownFeed'])
  for (const limit of ['0', '101', 'abc', '-1', '1.5']) {
    const r = await h.skeleton('keyword', { limit })
    assert.deepEqual([r.status, r.body.error], [400, 'InvalidRequest'], `limit ${limit}`)
  }
  assert.equal((await h.skeleton('keyword', { limit: 100 })).status, 200)
  for (const cursor of ['garbage', '12::not-a-uri', '::at://did:plc:x/a.b.c/d', `1::at://${'a'.repeat(2000)}`, '9999999999999999::at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa']) {
    for (const feed of ['keyword', 'popular']) {
      const r = await h.skeleton(feed, { cursor })
      assert.deepEqual([r.status, r.body.error], [400, 'InvalidRequest'], `${feed} cursor ${cursor.slice(0, 40)}`)
    }
  }
  const missing = await fetch(`${h.feedgen.url}/xrpc/${SKELETON}`)
  assert.equal(missing.status, 400)
})

test('malformed records are skipped and counted; the rest of the commit is indexed', async () => {
  const before = h.feedgen.indexer.stats()
  const good = author.post('still fine #atfed')
  const events = [
    author.create('app.bsky.feed.post', { createdAt: new Date().toISOString() }).event, // no text
    author.create('app.bsky.feed.post', { text: 'x'.repeat(3001), createdAt: new Date().toISOString() }).event,
    author.create('app.bsky.feed.post', { text: 'bad date #atfed', createdAt: 'yesterday' }).event,
    author.create('app.bsky.feed.post', { text: 'too many langs', langs: ['en', 'de', 'fr', 'es'], createdAt: new Date().toISOString() }).event,
    author.create('app.bsky.feed.like', { subject: { uri: 'not-a-uri', cid: 'x' }, createdAt: new Date().toISOString() }).event,
    author.create('app.bsky.graph.follow', { subject: 'alice', createdAt: new Date().toISOString() }).event,
    author.create('app.bsky.feed.repost', { subject: 42, createdAt: new Date().toISOString() }).event,
    good.event,
  ]
  await h.emit(...events)
  const after = h.feedgen.indexer.stats()
  const delta = (c: string) => (after.malformed[c] ?? 0) - (before.malformed[c] ?? 0)
  assert.equal(delta('app.bsky.feed.post'), 4)
  assert.equal(delta('app.bsky.feed.like'), 1)
  assert.equal(delta('app.bsky.graph.follow'), 1)
  assert.equal(delta('app.bsky.feed.repost'), 1)
  assert.equal(after.indexed.post - before.indexed.post, 1)
  const kw = await h.skeleton('keyword')
  assert.ok(kw.body.feed?.some((i) => i.post === good.uri))
  assert.equal(h.feedgen.consumer?.stats().failed, null)
})

test('verification: a forged commit is skipped and its post never indexed', async () => {
  const mallory = generateKeypair('k256')
  const forged = author.create('app.bsky.feed.post', { text: 'forged #atfed', createdAt: new Date().toISOString() }, { signer: mallory })
  const real = author.post('real #atfed')
  await h.emit(forged.event, real.event)
  assert.equal(h.feedgen.consumer?.stats().skippedBy['BadCommitSignature'], 1)
  const uris = (await h.skeleton('keyword', { limit: 100 })).body.feed?.map((i) => i.post) ?? []
  assert.ok(!uris.includes(forged.uri))
  assert.ok(uris.includes(real.uri))
})

test('restart: resumes from the stored cursor; nothing is indexed twice', async () => {
  const counts = async () => ({ post: await h.feedgen.store.count('post'), term: await h.feedgen.store.count('term'), author: await h.feedgen.store.count('author') })
  const p = author.post('before restart #atfed')
  const lastBefore = await h.emit(p.event, viewer.like(p).event)
  const beforeCounts = await counts()
  const beforeLikes = await h.feedgen.store.count('like')
  await h.restart()
  assert.equal(await h.feedgen.store.cursor.get(), lastBefore)
  // Written while the feedgen was down, then the connection comes back.
  const q = author.post('after restart #atfed')
  await h.emit(q.event)
  const consumer = h.feedgen.consumer
  assert.equal(consumer?.stats().received, 1, 'replayed events the cursor had covered')
  assert.equal(h.source.cursors.at(-1), lastBefore)
  const afterCounts = await counts()
  assert.equal(afterCounts.post, beforeCounts.post + 1)
  assert.equal(await h.feedgen.store.count('like'), beforeLikes)
  assert.equal(h.feedgen.indexer.stats().unchanged, 0)
  const kw = (await h.skeleton('keyword', { limit: 100 })).body.feed?.map((i) => i.post) ?? []
  assert.equal(new Set(kw).size, kw.length)
  assert.ok(kw.includes(p.uri) && kw.includes(q.uri))
})

test('a cursor that lagged (crash between writes) replays events: the index does not change', async () => {
  const p = author.post('replayed #atfed')
  const like = viewer.like(p)
  const repost = viewer.repost(p)
  const first = await h.emit(p.event, like.event, repost.event, author.delete(p.uri), author.post('survivor #atfed').event)
  const names = ['post', 'like', 'repost', 'follow', 'term', 'author', 'liketime', 'follows'] as const
  const snapshot = async () => Promise.all(names.map((n) => h.feedgen.store.count(n)))
  const before = await snapshot()
  await h.restart(async (dir) => {
    const store = await FeedStore.open(dir)
    await store.cursor.set(first - 5) // as if the last five batches' cursor writes were lost
    await store.close()
  })
  await h.feedgen.consumer?.whenHandled(first)
  assert.equal(h.feedgen.consumer?.stats().received, 5)
  assert.deepEqual(await snapshot(), before)
  assert.ok(h.feedgen.indexer.stats().unchanged >= 3, JSON.stringify(h.feedgen.indexer.stats()))
})
