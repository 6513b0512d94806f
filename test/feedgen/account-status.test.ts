/**
 * Account status end to end: real signed #commit and #account frames of
 * DIDs in our PLC, through a scripted relay, into the feed generator. An
 * account that goes inactive (taken down, deactivated, suspended) disappears
 * from every feed — its posts, and other accounts' reposts of them — and
 * comes back on `active: true`; a deleted account's rows are removed and it
 * stays hidden. Paging past hidden items keeps the cursor stable. A viewer
 * who is taken down still gets a feed (the status hides authors, not
 * readers), and likes it gave stop counting in the popular ranking. The
 * indexer counts every status change.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { AccountStatus, UnsequencedEvent } from '../../core/stream/events.ts'
import { datetimeFromDate } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import { startFeedgenHarness } from '../helpers/feedgen-harness.ts'
import type { FeedgenHarness } from '../helpers/feedgen-harness.ts'
import type { TestAccount } from '../helpers/feed-accounts.ts'

let h: FeedgenHarness

before(async () => {
  h = await startFeedgenHarness()
})
after(async () => {
  await h.close()
})

const posts = (body: { feed?: Array<{ post: string }> }): string[] => (body.feed ?? []).map((i) => i.post)

function accountEvent(did: Did, active: boolean, status: AccountStatus | null = null): UnsequencedEvent {
  return { t: '#account', did, time: datetimeFromDate(new Date()), active, status }
}

async function allFeeds(viewer: TestAccount): Promise<{ keyword: string[]; popular: string[]; following: string[] }> {
  const [k, p, f] = await Promise.all([h.skeleton('keyword', { limit: 100 }), h.skeleton('popular', { limit: 100 }), h.skeleton('following', { limit: 100, token: h.token(viewer) })])
  for (const r of [k, p, f]) assert.equal(r.status, 200, JSON.stringify(r.body))
  return { keyword: posts(k.body), popular: posts(p.body), following: posts(f.body) }
}

test('inactive accounts vanish from every feed and come back on reactivation; a deletion removes their rows', { timeout: 30_000 }, async () => {
  const viewer = await h.account('viewer')
  const [author, other] = [await h.account('author'), await h.account('other')]
  const p = author.post('hidden soon #atfed')
  const q = other.post('stays #atfed')
  const repost = other.repost(p)
  await h.emit(viewer.follow(author.did).event, viewer.follow(other.did).event, p.event, q.event, viewer.like(p).event, viewer.like(q).event, repost.event)
  const shown = await allFeeds(viewer)
  assert.deepEqual([shown.keyword.includes(p.uri), shown.popular.includes(p.uri), shown.following.filter((u) => u === p.uri).length], [true, true, 2])

  for (const status of ['takendown', 'deactivated', 'suspended'] as const) {
    await h.emit(accountEvent(author.did, false, status))
    const hidden = await allFeeds(viewer)
    assert.deepEqual(hidden, { keyword: [q.uri], popular: [q.uri], following: [q.uri] }, status)
    await h.emit(accountEvent(author.did, true))
    const back = await allFeeds(viewer)
    assert.deepEqual(back, shown, `${status} then active`)
  }
  // A viewer who is taken down still reads (the status hides authors only).
  await h.emit(accountEvent(viewer.did, false, 'takendown'))
  assert.deepEqual((await allFeeds(viewer)).following, shown.following)
  await h.emit(accountEvent(viewer.did, true))

  const rowsBefore = await h.feedgen.store.count('post')
  await h.emit(accountEvent(author.did, false, 'deleted'))
  assert.deepEqual(await allFeeds(viewer), { keyword: [q.uri], popular: [q.uri], following: [q.uri] })
  assert.equal(await h.feedgen.store.count('post'), rowsBefore - 1)
  const stats = h.feedgen.indexer.stats()
  assert.deepEqual([stats.accountsHidden, stats.accountsShown, stats.accountsPurged], [5, 4, 1])
})

test('paging past an inactive account: every visible post once, in order, whatever the page size', { timeout: 30_000 }, async () => {
  const viewer = await h.account('pager')
  const [quiet, loud] = [await h.account('quiet'), await h.account('loud')]
  const events: UnsequencedEvent[] = [viewer.follow(quiet.did).event, viewer.follow(loud.did).event]
  const visible: string[] = []
  const start = Date.now() - 100_000
  for (let i = 0; i < 24; i++) {
    // Runs of hidden posts between visible ones, some with equal times.
    const who = i % 4 === 0 ? quiet : loud
    const w = who.post(`paging ${i} #atfed`, {}, { time: new Date(start + Math.floor(i / 2) * 1000) })
    events.push(w.event)
    if (who === quiet) visible.push(w.uri)
  }
  await h.emit(...events, accountEvent(loud.did, false, 'takendown'))
  const expected = (await h.skeleton('keyword', { limit: 100 })).body.feed!.map((i) => i.post).filter((u) => u.includes(quiet.did) || u.includes(loud.did))
  assert.deepEqual([...expected].sort(), [...visible].sort())
  assert.deepEqual(
    (await h.skeleton('following', { limit: 100, token: h.token(viewer) })).body.feed!.map((i) => i.post),
    expected.filter((u) => visible.includes(u)),
  )
  for (const feed of ['keyword', 'following']) {
    for (const limit of [1, 2, 5]) {
      const walked: string[] = []
      let cursor: string | undefined
      for (let pages = 0; pages < 100; pages++) {
        const r = await h.skeleton(feed, { limit, ...(cursor === undefined ? {} : { cursor }), ...(feed === 'following' ? { token: h.token(viewer) } : {}) })
        assert.equal(r.status, 200)
        walked.push(...posts(r.body))
        cursor = r.body.cursor
        if (cursor === undefined) break
      }
      assert.deepEqual(walked.filter((u) => u.includes(quiet.did)), expected.filter((u) => u.includes(quiet.did)), `${feed} limit ${limit}`)
      assert.ok(!walked.some((u) => u.includes(loud.did)), `${feed} limit ${limit} showed a hidden post`)
    }
  }
})

test('a replayed #account event changes nothing; the status survives a restart', { timeout: 30_000 }, async () => {
  const viewer = await h.account('replayer')
  const author = await h.account('replayed')
  const p = author.post('replay status #atfed')
  await h.emit(viewer.follow(author.did).event, p.event)
  const seq = await h.emit(accountEvent(author.did, false, 'takendown'))
  await h.restart(async () => {})
  assert.ok(!posts((await h.skeleton('keyword', { limit: 100 })).body).includes(p.uri))
  await h.restart(async (dir) => {
    const { FeedStore } = await import('../../feedgen/indexer/store.ts')
    const store = await FeedStore.open(dir)
    await store.cursor.set(seq - 1) // the #account event comes again
    await store.close()
  })
  await h.feedgen.consumer?.whenHandled(seq)
  assert.equal(h.feedgen.consumer?.stats().received, 1)
  assert.ok(!posts((await h.skeleton('keyword', { limit: 100 })).body).includes(p.uri))
  await h.emit(accountEvent(author.did, true))
  assert.ok(posts((await h.skeleton('keyword', { limit: 100 })).body).includes(p.uri))
})

test('likes given by an inactive account do not count in the popular ranking until it is active again', { timeout: 30_000 }, async () => {
  const [writer, x, y, z] = [await h.account('writer'), await h.account('liker-x'), await h.account('liker-y'), await h.account('liker-z')]
  const a = writer.post('liked by two')
  const b = writer.post('liked by one')
  await h.emit(a.event, b.event, x.like(a).event, y.like(a).event, z.like(b).event)
  const order = async (): Promise<string[]> => posts((await h.skeleton('popular', { limit: 100 })).body).filter((u) => u === a.uri || u === b.uri)
  assert.deepEqual(await order(), [a.uri, b.uri])
  await h.emit(accountEvent(x.did, false, 'takendown'), accountEvent(y.did, false, 'deactivated'))
  assert.deepEqual(await order(), [b.uri])
  await h.emit(accountEvent(x.did, true))
  const oneEach = await order()
  assert.deepEqual([...oneEach].sort(), [a.uri, b.uri].sort()) // one like each now: ties by uri
  await h.emit(accountEvent(y.did, true))
  assert.deepEqual(await order(), [a.uri, b.uri])
})
