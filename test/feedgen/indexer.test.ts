/**
 * The feed index on its own (no network): record parsers and search terms
 * by example and by error name, then the idempotency property — a seeded
 * random history of posts, likes, reposts, follows, updates and deletes over
 * several repos, applied once, gives exactly the same database as the same
 * history applied with random replays of suffixes (what a lagging cursor
 * causes) — and account deletion.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { LexMap, LexValue } from '../../core/data/cbor.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import { formatAtUri } from '../../core/syntax/at-uri.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Nsid } from '../../core/syntax/nsid.ts'
import type { RecordKey } from '../../core/syntax/record-key.ts'
import { datetimeFromDate } from '../../core/syntax/datetime.ts'
import type { ConsumerEvent } from '../../feedgen/consumer/events.ts'
import { readCommitOps } from '../../feedgen/consumer/read-ops.ts'
import { FeedIndexer } from '../../feedgen/indexer/indexer.ts'
import { parseFollow, parsePost, parseSubjectRecord } from '../../feedgen/indexer/records.ts'
import { FeedStore } from '../../feedgen/indexer/store.ts'
import { joinKey, SUBLEVELS, timeKey } from '../../feedgen/indexer/keys.ts'
import { normalizeKeyword, postTerms } from '../../feedgen/indexer/terms.ts'
import { emptyValueKeys } from '../helpers/empty-values.ts'
import { makeRng } from '../helpers/prng.ts'
import type { Rng } from '../helpers/prng.ts'
import { tempDir } from '../helpers/plc.ts'
import { MemoryRepo } from '../helpers/repo-writes.ts'

const NOW = '2025-03-01T12:00:00.000Z'
const REF = { uri: 'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3kaaaaaaaaaa2', cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' }

test('parsePost: the fields the index reads, and MalformedRecord for each broken one', () => {
  const ok = parsePost({ $type: 'app.bsky.feed.post', text: 'hi #there', createdAt: NOW, langs: ['en'], reply: { root: REF, parent: REF }, tags: ['x1'] })
  assert.deepEqual(ok, { text: 'hi #there', createdAt: NOW, createdAtMs: Date.parse(NOW), langs: ['en'], reply: { root: REF, parent: REF }, tags: ['x1'] })
  const bad: LexMap[] = [
    { $type: 'app.bsky.feed.like', text: 'x', createdAt: NOW },
    { $type: 'app.bsky.feed.post', createdAt: NOW },
    { $type: 'app.bsky.feed.post', text: 7, createdAt: NOW },
    { $type: 'app.bsky.feed.post', text: 'é'.repeat(1501), createdAt: NOW }, // 3002 bytes
    { $type: 'app.bsky.feed.post', text: '👍🏽'.repeat(301), createdAt: NOW.slice(0, 10) },
    { $type: 'app.bsky.feed.post', text: 'x', createdAt: '2025-02-30T00:00:00Z' },
    { $type: 'app.bsky.feed.post', text: 'x', createdAt: NOW, langs: ['en', 'de', 'fr', 'it'] },
    { $type: 'app.bsky.feed.post', text: 'x', createdAt: NOW, langs: ['not a tag!'] },
    { $type: 'app.bsky.feed.post', text: 'x', createdAt: NOW, reply: { root: REF } },
    { $type: 'app.bsky.feed.post', text: 'x', createdAt: NOW, reply: { root: REF, parent: { uri: 'https://x', cid: REF.cid } } },
    { $type: 'app.bsky.feed.post', text: 'x', createdAt: NOW, tags: Array(9).fill('t') },
  ]
  for (const record of bad) assert.throws(() => parsePost(record), { name: 'MalformedRecord' }, JSON.stringify(record).slice(0, 80))
  // 300 graphemes of several code units each are fine.
  assert.equal(parsePost({ $type: 'app.bsky.feed.post', text: '👍🏽'.repeat(300), createdAt: NOW }).text.length, 1200)
  // A broken facet does not make the post malformed; a good #tag facet is read.
  const facets: LexValue = [{ features: 'nope' }, { index: {}, features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'Hello' }] }]
  assert.deepEqual(parsePost({ $type: 'app.bsky.feed.post', text: '', createdAt: NOW, facets }).tags, ['Hello'])
})

test('parseSubjectRecord and parseFollow', () => {
  assert.deepEqual(parseSubjectRecord({ $type: 'app.bsky.feed.like', subject: REF, createdAt: NOW }, 'app.bsky.feed.like').subject, REF)
  assert.throws(() => parseSubjectRecord({ $type: 'app.bsky.feed.like', subject: REF, createdAt: NOW }, 'app.bsky.feed.repost'), { name: 'MalformedRecord' })
  assert.throws(() => parseSubjectRecord({ $type: 'app.bsky.feed.like', subject: { uri: REF.uri }, createdAt: NOW }, 'app.bsky.feed.like'), { name: 'MalformedRecord' })
  assert.throws(() => parseSubjectRecord({ $type: 'app.bsky.feed.like', subject: { ...REF, cid: 'zzz' }, createdAt: NOW }, 'app.bsky.feed.like'), { name: 'MalformedRecord' })
  assert.equal(parseFollow({ $type: 'app.bsky.graph.follow', subject: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', createdAt: NOW }).subject, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')
  assert.throws(() => parseFollow({ $type: 'app.bsky.graph.follow', subject: 'alice.test', createdAt: NOW }), { name: 'MalformedRecord' })
})

test('search terms: words and hashtags, folded, bounded; keywords normalise the same way', () => {
  assert.deepEqual(postTerms('Hello #ATfed, ﬁne a b ATFED', []), ['#atfed', 'hello', 'atfed', 'fine'])
  assert.deepEqual(postTerms('', ['#Tag', 'two words', 'x']), ['#tag', '#two words'])
  const many = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ')
  assert.equal(postTerms(many, []).length, 64)
  assert.deepEqual(postTerms(`${'a'.repeat(65)} ok`, []), ['ok'])
  assert.equal(normalizeKeyword(' #AtFed '), '#atfed')
  assert.equal(normalizeKeyword('Bluesky'), 'bluesky')
  for (const bad of ['', 'a', 'two words', '#', 'x'.repeat(65), 'semi;colon']) assert.throws(() => normalizeKeyword(bad), { name: 'InvalidConfig' })
})

/** Repos in memory producing ConsumerCommit events (decoded the way the consumer does it). */
class Sim {
  readonly repos: MemoryRepo[]
  readonly live = new Map<string, Set<string>>() // did → record paths
  readonly posts: Array<{ uri: string; cid: string }> = []
  #seq = 0
  #rkey = 0
  constructor(readonly rng: Rng) {
    this.repos = Array.from({ length: 4 }, (_, i) => new MemoryRepo(`did:plc:sim${String(i).padStart(21, '0')}` as Did, generateKeypair('k256')))
    for (const r of this.repos) this.live.set(r.did, new Set())
  }

  #record(collection: string): LexMap {
    const createdAt = datetimeFromDate(new Date(Date.parse(NOW) + this.rng.int(1_000_000)))
    if (collection === 'app.bsky.feed.post') return { $type: collection, text: `w${this.rng.int(5)} #t${this.rng.int(3)} ${this.rng.int(1e6)}`, createdAt }
    if (collection === 'app.bsky.graph.follow') return { $type: collection, subject: this.rng.pick(this.repos).did, createdAt }
    const subject = this.posts.length > 0 ? this.rng.pick(this.posts) : REF
    return { $type: collection, subject: { uri: subject.uri, cid: subject.cid }, createdAt }
  }

  next(): ConsumerEvent {
    const repo = this.rng.pick(this.repos)
    const paths = this.live.get(repo.did) as Set<string>
    const roll = this.rng.next()
    let write: RepoWrite
    if (paths.size > 0 && roll < 0.3) {
      const path = this.rng.pick([...paths])
      const [collection, rkey] = path.split('/') as [Nsid, RecordKey]
      if (roll < 0.2) {
        paths.delete(path)
        write = { action: 'delete', collection, rkey }
      } else {
        write = { action: 'update', collection, rkey, record: this.#record(collection) }
      }
    } else {
      const collection = this.rng.pick(['app.bsky.feed.post', 'app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.feed.repost', 'app.bsky.graph.follow']) as Nsid
      const rkey = `3k${String(++this.#rkey).padStart(10, 'a')}` as RecordKey
      paths.add(`${collection}/${rkey}`)
      write = { action: 'create', collection, rkey, record: this.#record(collection) }
    }
    const result = repo.apply([write])
    const { ops } = readCommitOps({ repo: repo.did, ops: result.ops }, decodeCarWithSingleRoot(result.eventCarBytes).blocks, null)
    for (const op of ops) {
      if (op.collection === 'app.bsky.feed.post' && op.cid !== null) this.posts.push({ uri: formatAtUri({ authority: repo.did, collection: op.collection, rkey: op.rkey }), cid: op.cid.toString() })
    }
    return { type: 'commit', seq: ++this.#seq, did: repo.did, rev: result.rev, time: NOW as never, ops, verified: false }
  }
}

async function dump(store: FeedStore): Promise<string[]> {
  const out: string[] = []
  for (const name of SUBLEVELS) for (const [k, v] of await store.sub(name).iterator().all()) out.push(`${name}|${k}|${v}`)
  return out
}

test('idempotency: random histories replayed from random points give the same index', async () => {
  const dir = tempDir('atfed-index-')
  try {
    for (let seed = 1; seed <= 4; seed++) {
      const events: ConsumerEvent[] = []
      const sim = new Sim(makeRng(seed))
      for (let i = 0; i < 120; i++) events.push(sim.next())
      const once = await FeedStore.open(`${dir.path}/once-${seed}`)
      const replayed = await FeedStore.open(`${dir.path}/replayed-${seed}`)
      try {
        const a = new FeedIndexer(once)
        const b = new FeedIndexer(replayed)
        const ctx = (seq: number) => ({ cursorIfDone: () => seq })
        for (const e of events) await a.handle(e, ctx(e.seq))
        const rng = makeRng(seed * 1000)
        let i = 0
        while (i < events.length) {
          const e = events[i]!
          await b.handle(e, ctx(e.seq))
          i++
          if (rng.next() < 0.08) i = Math.max(0, i - 1 - rng.int(15)) // a crash: resume from an older cursor
        }
        assert.deepEqual(await dump(replayed), await dump(once), `seed ${seed}`)
        assert.ok(b.stats().unchanged > 0)
        assert.equal(await once.cursor.get(), events.at(-1)?.seq)
        assert.ok((await once.count('post')) > 0 && (await once.count('liketime')) > 0)
      } finally {
        await once.close()
        await replayed.close()
      }
    }
  } finally {
    dir.remove()
  }
})

test('the index never stores an empty value (classic-level leaks one allocation per empty value written); old empty author entries still read as posts', async () => {
  const dir = tempDir('atfed-index-values-')
  const store = await FeedStore.open(`${dir.path}/db`)
  try {
    const sim = new Sim(makeRng(7))
    const indexer = new FeedIndexer(store)
    for (let i = 0; i < 150; i++) {
      const e = sim.next()
      await indexer.handle(e, { cursorIfDone: () => e.seq })
    }
    assert.ok((await store.count('post')) > 0 && (await store.sub('term').keys().all()).length > 0)
    assert.deepEqual(await emptyValueKeys(store.db), [])
    // A store written before PRESENCE_TEXT holds '' for a post's author entry: still a post, not a repost.
    const did = 'did:plc:oldoldoldoldoldoldoldold'
    const uri = `at://${did}/app.bsky.feed.post/3kaaaaaaaaaa2`
    await store.sub('author').put(joinKey(did, timeKey(Date.parse(NOW)), uri), '')
    assert.deepEqual((await store.authorPage(did, null, 5)).map((i) => [i.uri, i.repostOf]), [[uri, null]])
  } finally {
    await store.close()
    dir.remove()
  }
})

test('an account deleted upstream loses every row; a replay of the deletion changes nothing', async () => {
  const dir = tempDir('atfed-index-')
  const store = await FeedStore.open(dir.path)
  try {
    const sim = new Sim(makeRng(99))
    const indexer = new FeedIndexer(store)
    const ctx = { cursorIfDone: () => null }
    for (let i = 0; i < 80; i++) await indexer.handle(sim.next(), ctx)
    const victim = sim.repos[0]!.did
    const own = (await dump(store)).filter((line) => line.includes(victim))
    assert.ok(own.length > 0)
    const deletion: ConsumerEvent = { type: 'account', seq: 1000, did: victim, time: NOW as never, active: false, status: 'deleted' }
    await indexer.handle(deletion, ctx)
    const left = await dump(store)
    // Rows of others that point at the victim (likes of its posts, follows of it) stay: they are not its records.
    assert.ok(!left.some((line) => line.startsWith('post|') && line.includes(`at://${victim}/`)))
    assert.ok(!left.some((line) => line.split('|')[1]?.startsWith(`at://${victim}/`)))
    assert.ok(!left.some((line) => line.startsWith('author|') && line.split('|')[1]?.startsWith(victim)))
    await indexer.handle(deletion, ctx)
    assert.deepEqual(await dump(store), left)
    assert.equal(indexer.stats().accountsPurged, 2)
  } finally {
    await store.close()
    dir.remove()
  }
})
