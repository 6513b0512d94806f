/**
 * The following feed's k-way merge against a model, on seeded random
 * indexes: accounts with posts and reposts at colliding times, a viewer
 * following a random subset, some accounts inactive. Walking the feed with
 * random page sizes gives exactly the model (a full sort by time then uri of
 * the followed active accounts' items, minus reposts of inactive accounts'
 * posts), each item once. The same holds on a store written before the
 * `authorlast` bounds existed (built on open), with the author heads cached,
 * and after new posts (the indexer invalidates the heads). Plus fillPage's
 * scan budget and AuthorHeads' race rule and bound.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeCbor } from '../../core/data/cbor.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { FEEDGEN_AUTHOR_HEADS_MAX, FEEDGEN_HIDDEN_SCAN_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { ConsumerEvent } from '../../feedgen/consumer/events.ts'
import { fillPage } from '../../feedgen/feeds/fill-page.ts'
import { feed as following } from '../../feedgen/feeds/following.ts'
import { AuthorHeads } from '../../feedgen/indexer/author-heads.ts'
import { FeedIndexer } from '../../feedgen/indexer/indexer.ts'
import { FeedStore } from '../../feedgen/indexer/store.ts'
import { tempDir } from '../helpers/plc.ts'
import { makeRng } from '../helpers/prng.ts'
import type { Rng } from '../helpers/prng.ts'

const T0 = Date.parse('2025-01-01T00:00:00.000Z')
const LATER = '2026-01-01T00:00:00.000Z'
type Item = { time: number; uri: string; post: string; repost: string | null }

const did = (i: number): Did => `did:plc:m${String(i).padStart(23, '0')}` as Did
let seq = 0

function commit(author: Did, collection: string, rkey: string, record: LexMap): ConsumerEvent {
  const op = { action: 'create', uri: `at://${author}/${collection}/${rkey}`, collection, rkey, cid: cidForCbor(encodeCbor(record)), record }
  return { type: 'commit', seq: ++seq, did: author, rev: '3l000000000aa' as never, time: LATER as never, ops: [op as never], verified: false }
}

/** Random index; returns the events and the model's expected items for `viewer`. */
function world(rng: Rng): { events: ConsumerEvent[]; viewer: Did; expected: Item[] } {
  const accounts = Array.from({ length: 120 }, (_, i) => did(i))
  const viewer = did(999)
  const events: ConsumerEvent[] = []
  const followed = accounts.filter(() => rng.next() < 0.6)
  followed.forEach((d, i) => events.push(commit(viewer, 'app.bsky.graph.follow', `f${i}`, { $type: 'app.bsky.graph.follow', subject: d, createdAt: LATER })))
  const inactive = new Set(accounts.filter(() => rng.next() < 0.2))
  const posts: Array<{ uri: string; cid: string; author: Did }> = []
  const items: Item[] = []
  for (let i = 0; i < 900; i++) {
    const author = accounts[rng.int(1 + rng.int(accounts.length))]! // skewed: a few accounts have far more than a cached head
    const createdAt = new Date(T0 + rng.int(60) * 1000).toISOString() // many equal times
    if (posts.length === 0 || rng.next() < 0.75) {
      const e = commit(author, 'app.bsky.feed.post', `p${i}`, { $type: 'app.bsky.feed.post', text: `t ${i}`, createdAt })
      const uri = `at://${author}/app.bsky.feed.post/p${i}`
      posts.push({ uri, cid: (e as unknown as { ops: Array<{ cid: { toString(): string } }> }).ops[0]!.cid.toString(), author })
      items.push({ time: Date.parse(createdAt), uri, post: uri, repost: null })
      events.push(e)
    } else {
      const subject = rng.pick(posts)
      const uri = `at://${author}/app.bsky.feed.repost/r${i}`
      events.push(commit(author, 'app.bsky.feed.repost', `r${i}`, { $type: 'app.bsky.feed.repost', subject: { uri: subject.uri, cid: subject.cid }, createdAt }))
      items.push({ time: Date.parse(createdAt), uri, post: subject.uri, repost: uri })
    }
  }
  for (const d of inactive) events.push({ type: 'account', seq: ++seq, did: d, time: LATER as never, active: false, status: 'takendown' })
  const authorOf = (uri: string): Did => uri.split('/')[2] as Did
  const expected = items
    .filter((it) => followed.includes(authorOf(it.uri)) && !inactive.has(authorOf(it.uri)) && !inactive.has(authorOf(it.post)))
    .sort((a, b) => (a.time !== b.time ? b.time - a.time : a.uri < b.uri ? 1 : -1))
  return { events, viewer, expected }
}

async function walk(store: FeedStore, viewer: Did, rng: Rng): Promise<Item[]> {
  const out: Item[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 1_000; pages++) {
    const limit = 1 + rng.int(12)
    const page = await following.handler({ db: store, viewer, limit, cursor, params: {} as never, memo: null as never })
    assert.ok(page.feed.length <= limit)
    for (const s of page.feed) out.push({ time: 0, uri: s.reason?.repost ?? s.post, post: s.post, repost: s.reason?.repost ?? null })
    if (page.cursor === undefined) return out
    cursor = page.cursor
  }
  throw new Error('the walk did not end')
}

const authorCounts = (items: Item[]): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const it of items) counts.set(it.uri.split('/')[2]!, (counts.get(it.uri.split('/')[2]!) ?? 0) + 1)
  return counts
}
/** A followed, active account with more items than a cached head holds (or null). */
const followedHeavy = (items: Item[]): Did | null => ([...authorCounts(items)].find(([, n]) => n > 20)?.[0] as Did | undefined) ?? null
const followedLight = (items: Item[]): Did | null => ([...authorCounts(items)].find(([, n]) => n < 5)?.[0] as Did | undefined) ?? null

const shape = (items: Item[]): string[] => items.map((i) => `${i.post} ${i.repost ?? '-'}`)

test('seeded: paging the following feed gives the model, each item once, with bounds fresh and rebuilt', { timeout: 30_000 }, async () => {
  const dir = tempDir('atfed-merge-')
  try {
    for (let s = 1; s <= 4; s++) {
      const rng = makeRng(s)
      const { events, viewer, expected } = world(rng)
      const path = `${dir.path}/s${s}`
      let store = await FeedStore.open(path)
      const indexer = new FeedIndexer(store)
      for (const e of events) await indexer.handle(e, { cursorIfDone: () => null })
      assert.deepEqual(shape(await walk(store, viewer, rng)), shape(expected), `seed ${s}, fresh`)
      assert.deepEqual(shape(await walk(store, viewer, rng)), shape(expected), `seed ${s}, cached heads`)
      // New posts by heavy and light accounts after the heads are cached: the indexer invalidates them.
      for (const [k, author] of [followedHeavy(expected), followedLight(expected)].entries()) {
        if (author === null) continue
        const createdAt = new Date(T0 + 61_000 + k).toISOString() // newest of all: inside every cached head
        const e = commit(author, 'app.bsky.feed.post', `late${k}`, { $type: 'app.bsky.feed.post', text: 'late', createdAt })
        await indexer.handle(e, { cursorIfDone: () => null })
        const uri = `at://${author}/app.bsky.feed.post/late${k}`
        expected.push({ time: Date.parse(createdAt), uri, post: uri, repost: null })
      }
      expected.sort((a, b) => (a.time !== b.time ? b.time - a.time : a.uri < b.uri ? 1 : -1))
      assert.deepEqual(shape(await walk(store, viewer, rng)), shape(expected), `seed ${s}, after invalidation`)
      assert.ok(store.heads.stats().hits > 0 && store.heads.stats().invalidations >= 2, JSON.stringify(store.heads.stats()))

      // A store from before the bounds: no marker, no bounds. Opening rebuilds them.
      await store.sub('meta').clear()
      await store.sub('authorlast').clear()
      await store.close()
      store = await FeedStore.open(path)
      assert.ok((await store.count('authorlast')) > 0)
      assert.deepEqual(shape(await walk(store, viewer, rng)), shape(expected), `seed ${s}, rebuilt`)
      await store.close()
    }
  } finally {
    dir.remove()
  }
})

test('fillPage: hidden items move the position; the scan budget ends a page early with a cursor', async () => {
  let next = 0
  const endless = async (n: number) => Array.from({ length: n }, () => next++)
  const allHidden = await fillPage(endless, async (items) => items.map(() => true), 10)
  assert.deepEqual(allHidden.items, [])
  assert.equal(allHidden.cursorAt, next - 1)
  assert.ok(next >= 10 + FEEDGEN_HIDDEN_SCAN_MAX && next < 10 + FEEDGEN_HIDDEN_SCAN_MAX + 10, String(next))

  next = 0
  const odd = await fillPage(endless, async (items) => items.map((i) => i % 2 === 1), 5)
  assert.deepEqual(odd, { items: [0, 2, 4, 6, 8], cursorAt: 8 })
  const short = await fillPage(async (n) => [1, 2, 3].slice(0, Math.min(n, 3)), async (items) => items.map(() => false), 5)
  assert.deepEqual(short, { items: [1, 2, 3], cursorAt: null })
})

test('AuthorHeads: a load that raced an invalidation is not kept; at most FEEDGEN_AUTHOR_HEADS_MAX authors, least recently used out first', async () => {
  const loads: string[] = []
  let release: (() => void) | null = null
  const heads = new AuthorHeads(async (d, n) => {
    loads.push(d)
    if (d === 'did:plc:slow' && loads.length === 1) await new Promise<void>((resolve) => (release = resolve))
    return n > 0 ? [{ time: loads.length, uri: `at://${d}/app.bsky.feed.post/x`, repostOf: null }] : []
  })
  const slow = heads.get('did:plc:slow')
  await new Promise((resolve) => setImmediate(resolve))
  heads.invalidate('did:plc:slow') // a write landed while the load read the old state
  release!()
  assert.equal((await slow).complete, true)
  await heads.get('did:plc:slow')
  assert.deepEqual(loads, ['did:plc:slow', 'did:plc:slow'], 'the raced load was not cached')
  await heads.get('did:plc:slow')
  assert.equal(loads.length, 2, 'the second load was cached')

  for (let i = 0; i < FEEDGEN_AUTHOR_HEADS_MAX + 1; i++) {
    await heads.get(`did:plc:n${i}`)
    if (i === FEEDGEN_AUTHOR_HEADS_MAX - 10) await heads.get('did:plc:n0') // recently used again
  }
  assert.equal(heads.stats().entries, FEEDGEN_AUTHOR_HEADS_MAX)
  const before = loads.length
  await heads.get('did:plc:n0') // kept: used recently
  await heads.get(`did:plc:n${FEEDGEN_AUTHOR_HEADS_MAX}`) // kept: the newest
  assert.equal(loads.length, before)
  await heads.get('did:plc:n1') // out: the least recently used after the first one
  await heads.get('did:plc:slow') // out: the oldest
  assert.equal(loads.length, before + 2)
})
