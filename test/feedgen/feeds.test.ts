/**
 * The feed generator end to end on loopback: real signed #commit events of
 * DIDs in our PLC, through a scripted relay, verified and indexed, read back
 * over getFeedSkeleton. Keyword feed (appears, stable paging, delete
 * removes), popular feed (likes move a post up, an unlike and a post delete
 * count), following feed (differs by viewer, reposts with their reason,
 * unfollow), the did:web document and describeFeedGenerator.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startFeedgenHarness } from '../helpers/feedgen-harness.ts'
import type { FeedgenHarness } from '../helpers/feedgen-harness.ts'
import type { TestAccount } from '../helpers/feed-accounts.ts'

let h: FeedgenHarness
let alice: TestAccount
let bob: TestAccount
let carol: TestAccount

before(async () => {
  h = await startFeedgenHarness()
  ;[alice, bob, carol] = [await h.account('alice'), await h.account('bob'), await h.account('carol')]
})
after(async () => {
  await h.close()
})

const posts = (body: { feed?: Array<{ post: string }> }): string[] => (body.feed ?? []).map((i) => i.post)

test('did.json serves the #bsky_fg service; describeFeedGenerator lists the feeds', async () => {
  const doc = await (await fetch(`${h.feedgen.url}/.well-known/did.json`)).json()
  assert.deepEqual(doc, {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: 'did:web:feed.test',
    service: [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: 'http://feed.test' }],
  })
  const described = await (await fetch(`${h.feedgen.url}/xrpc/app.bsky.feed.describeFeedGenerator`)).json()
  assert.deepEqual(described, {
    did: 'did:web:feed.test',
    feeds: ['keyword', 'popular', 'following'].map((n) => ({ uri: `at://did:web:feed.test/app.bsky.feed.generator/${n}` })),
  })
})

test('keyword feed: a matching post appears (text hashtag or facet tag), others do not, a delete removes it', async () => {
  const tagged = alice.post('shipping a feed today #atfed')
  const faceted = bob.post('no hashtag in the text', {
    facets: [{ index: { byteStart: 0, byteEnd: 2 }, features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'ATFED' }] }],
  })
  const plainWord = carol.post('atfed without the hash does not match a #hashtag keyword')
  await h.emit(tagged.event, faceted.event, plainWord.event)
  let page = await h.skeleton('keyword')
  assert.equal(page.status, 200)
  assert.deepEqual(posts(page.body), [faceted.uri, tagged.uri])
  assert.equal(page.body.cursor, undefined, 'a short page has no cursor')

  await h.emit(alice.delete(tagged.uri))
  page = await h.skeleton('keyword')
  assert.deepEqual(posts(page.body), [faceted.uri])
})

test('keyword feed: paging with the cursor is stable and complete, newest first', async () => {
  const base = Date.parse('2030-01-01T00:00:00.000Z') // sorts after the other tests' posts
  const written = []
  for (let i = 0; i < 7; i++) {
    // Two posts share each timestamp: ties are broken by uri, never dropped or repeated.
    const time = new Date(base - Math.floor(i / 2) * 1000)
    written.push((i % 2 === 0 ? alice : bob).post(`page ${i} #atfed`, {}, { time }))
  }
  await h.emit(...written.map((w) => w.event))
  const seen: string[] = []
  let cursor: string | undefined
  for (let pages = 0; pages < 10; pages++) {
    const page = await h.skeleton('keyword', { limit: 3, ...(cursor === undefined ? {} : { cursor }) })
    assert.equal(page.status, 200)
    seen.push(...posts(page.body))
    cursor = page.body.cursor
    if (cursor === undefined) break
    assert.match(cursor, /^\d+::at:\/\//)
  }
  const mine = new Set(written.map((w) => w.uri))
  const firstSeven = seen.slice(0, 7)
  assert.equal(new Set(seen).size, seen.length, 'an item repeated across pages')
  assert.deepEqual(new Set(firstSeven), mine)
})

test('popular feed: likes move a post up; an unlike and a post delete are counted', async () => {
  const p1 = carol.post('first contender')
  const p2 = carol.post('second contender')
  const likeA1 = alice.like(p1)
  const likeA2 = alice.like(p2)
  const likeB2 = bob.like(p2)
  await h.emit(p1.event, p2.event, likeA1.event, likeA2.event, likeB2.event)
  let page = await h.skeleton('popular')
  assert.deepEqual(posts(page.body).slice(0, 2), [p2.uri, p1.uri])

  const likeB1 = bob.like(p1)
  const likeC1 = carol.like(p1)
  await h.emit(likeB1.event, likeC1.event)
  page = await h.skeleton('popular')
  assert.deepEqual(posts(page.body).slice(0, 2), [p1.uri, p2.uri])

  // Two unlikes: p1 drops to 1 like, below p2's 2.
  await h.emit(bob.delete(likeB1.uri), carol.delete(likeC1.uri))
  page = await h.skeleton('popular')
  assert.deepEqual(posts(page.body).slice(0, 2), [p2.uri, p1.uri])

  await h.emit(carol.delete(p2.uri))
  page = await h.skeleton('popular')
  assert.ok(!posts(page.body).includes(p2.uri), 'a deleted post is still ranked')
  assert.equal(posts(page.body)[0], p1.uri)

  // Paging by (likes, uri): limit 1 walks the ranking without repeats.
  const walked: string[] = []
  let cursor: string | undefined
  do {
    const r = await h.skeleton('popular', { limit: 1, ...(cursor === undefined ? {} : { cursor }) })
    walked.push(...posts(r.body))
    cursor = r.body.cursor
  } while (cursor !== undefined && walked.length < 50)
  assert.equal(new Set(walked).size, walked.length)
  assert.deepEqual(walked, posts((await h.skeleton('popular', { limit: 100 })).body))
})

test('following feed: differs by viewer, shows reposts with their reason, honours unfollow', async () => {
  const viewer1 = await h.account('viewer1')
  const viewer2 = await h.account('viewer2')
  const dave = await h.account('dave')
  const erin = await h.account('erin')
  const followDave = viewer1.follow(dave.did)
  const daveOld = dave.post('dave one', {}, { time: new Date(Date.now() - 60_000) })
  const erinPost = erin.post('erin one', {}, { time: new Date(Date.now() - 30_000) })
  const repost = dave.repost(erinPost)
  await h.emit(followDave.event, viewer2.follow(erin.did).event, daveOld.event, erinPost.event, repost.event)

  const one = await h.skeleton('following', { token: h.token(viewer1) })
  assert.equal(one.status, 200, JSON.stringify(one.body))
  assert.deepEqual(one.body.feed, [
    { post: erinPost.uri, reason: { $type: 'app.bsky.feed.defs#skeletonReasonRepost', repost: repost.uri } },
    { post: daveOld.uri },
  ])
  const two = await h.skeleton('following', { token: h.token(viewer2) })
  assert.deepEqual(two.body.feed, [{ post: erinPost.uri }])

  await h.emit(viewer1.delete(followDave.uri))
  const after = await h.skeleton('following', { token: h.token(viewer1) })
  assert.deepEqual(after.body.feed, [])
})
