/**
 * FirehoseConsumer against a scripted subscribeRepos server on 127.0.0.1
 * emitting real signed #commit events of DIDs registered in our PLC:
 * decoded ops, per-repo ordering under concurrency, the cursor held back
 * behind an unfinished event, backpressure (bounded pending work), handler
 * retries and HandlerFailed, verification (forged commit skipped, key
 * rotation picked up by refresh-once, #identity refresh), malformed frames
 * and records skipped and counted, restart from the stored cursor, and
 * FutureCursor → restart live.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Level } from 'level'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { encodeMessageFrame } from '../../core/stream/frames.ts'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import { FirehoseConsumer } from '../../feedgen/consumer/consumer.ts'
import { subscribeReposUrl } from '../../feedgen/consumer/consumer-options.ts'
import type { FirehoseConsumerOptions } from '../../feedgen/consumer/consumer-options.ts'
import { LevelCursorStore, MemoryCursorStore } from '../../feedgen/consumer/cursor-store.ts'
import type { ConsumerEvent } from '../../feedgen/consumer/events.ts'
import { TestAccount } from '../helpers/feed-accounts.ts'
import { startFirehoseSource } from '../helpers/firehose-source.ts'
import type { FirehoseSource } from '../helpers/firehose-source.ts'
import { startTestPlc, tempDir } from '../helpers/plc.ts'
import type { TestPlc } from '../helpers/plc.ts'

const realClock = { now: () => Date.now(), set() {}, advance() {} }
let plc: TestPlc
let alice: TestAccount
let bob: TestAccount
let carol: TestAccount

before(async () => {
  plc = await startTestPlc({ clock: realClock })
  ;[alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => TestAccount.register(plc.url, n))) as [TestAccount, TestAccount, TestAccount]
})
after(async () => {
  await plc.stop()
})

function resolver(): IdentityResolver {
  return new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true, cache: { forcedRefreshMinMs: 0 } })
}

type Harness = { source: FirehoseSource; consumer: FirehoseConsumer; events: ConsumerEvent[]; store: MemoryCursorStore; close(): Promise<void> }

async function harness(options: Partial<FirehoseConsumerOptions> & { store?: MemoryCursorStore; source?: FirehoseSource } = {}): Promise<Harness> {
  const source = options.source ?? (await startFirehoseSource())
  const events: ConsumerEvent[] = []
  const store = options.store ?? new MemoryCursorStore(0)
  const res = options.resolver === undefined ? resolver() : options.resolver
  const consumer = new FirehoseConsumer({
    url: source.url,
    cursorStore: store,
    handler: (e) => void events.push(e),
    verify: false,
    concurrency: 4,
    queueMax: 100,
    client: { backoffMsMin: 10, backoffMsMax: 50 },
    handlerBackoffMsMin: 5,
    resubscribeDelayMs: 20,
    ...options,
    resolver: res,
  })
  await consumer.start()
  return {
    source,
    consumer,
    events,
    store,
    close: async () => {
      await consumer.stop()
      await source.close()
      res?.close()
    },
  }
}

function within<T>(p: Promise<T>, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())])
}

test('subscribeReposUrl: origins and full URLs', () => {
  assert.equal(subscribeReposUrl('http://127.0.0.1:9/'), 'ws://127.0.0.1:9/xrpc/com.atproto.sync.subscribeRepos')
  assert.equal(subscribeReposUrl('https://relay.example'), 'wss://relay.example/xrpc/com.atproto.sync.subscribeRepos')
  assert.equal(subscribeReposUrl('ws://h/xrpc/com.atproto.sync.subscribeRepos?cursor=5'), 'ws://h/xrpc/com.atproto.sync.subscribeRepos')
  assert.throws(() => subscribeReposUrl('ftp://h'), { name: 'InvalidConfig' })
  assert.throws(() => subscribeReposUrl('not a url'), { name: 'InvalidConfig' })
})

test('options are bounded: concurrency, queueMax, verify without resolver', () => {
  const base = { url: 'ws://127.0.0.1:1', cursorStore: new MemoryCursorStore(), handler: () => {}, resolver: null }
  assert.throws(() => new FirehoseConsumer({ ...base, verify: false, concurrency: 0 }), { name: 'InvalidConfig' })
  assert.throws(() => new FirehoseConsumer({ ...base, verify: false, concurrency: 4, queueMax: 2 }), { name: 'InvalidConfig' })
  assert.throws(() => new FirehoseConsumer({ ...base, verify: false, queueMax: 1e9 }), { name: 'InvalidConfig' })
  assert.throws(() => new FirehoseConsumer({ ...base, verify: true }), { name: 'InvalidConfig' })
})

test('commits arrive as {action, uri, cid, record}; identity and account events pass through', async () => {
  const h = await harness({ verify: true })
  try {
    const post = alice.post('hello firehose', { langs: ['en'] })
    h.source.emit(post.event)
    const del = alice.delete(post.uri)
    h.source.emit(del)
    h.source.emit({ t: '#identity', did: alice.did, time: post.event.time, handle: null })
    const last = h.source.emit({ t: '#account', did: alice.did, time: post.event.time, active: false, status: 'deactivated' })
    await within(h.consumer.whenHandled(last))
    assert.deepEqual(h.events.map((e) => e.type), ['commit', 'commit', 'identity', 'account'])
    const [c1, c2] = h.events as [Extract<ConsumerEvent, { type: 'commit' }>, Extract<ConsumerEvent, { type: 'commit' }>]
    assert.equal(c1.verified, true)
    assert.equal(c1.ops.length, 1)
    const op = c1.ops[0]!
    assert.equal(op.action, 'create')
    assert.equal(op.uri, post.uri)
    assert.ok(op.cid?.equals(post.cid))
    assert.deepEqual(op.record, { $type: 'app.bsky.feed.post', text: 'hello firehose', langs: ['en'], createdAt: op.record?.['createdAt'] })
    assert.deepEqual(c2.ops.map((o) => [o.action, o.uri, o.cid, o.record]), [['delete', post.uri, null, null]])
    const stats = h.consumer.stats()
    assert.equal(stats.handled, 4)
    assert.deepEqual(stats.byType, { commit: 2, identity: 1, account: 1, sync: 0 })
    assert.equal(stats.skipped, 0)
  } finally {
    await h.close()
  }
})

test('collections filter: other collections never reach the handler', async () => {
  const h = await harness({ collections: ['app.bsky.feed.like'] })
  try {
    const post = bob.post('not wanted')
    h.source.emit(post.event)
    const like = bob.like(post)
    const last = h.source.emit(like.event)
    await within(h.consumer.whenHandled(last))
    const ops = h.events.flatMap((e) => (e.type === 'commit' ? e.ops : []))
    assert.deepEqual(ops.map((o) => o.uri), [like.uri])
  } finally {
    await h.close()
  }
})

test('per-repo order under concurrency: one repo never overlaps itself, repos run side by side', async () => {
  const running = new Map<string, number>()
  const seen = new Map<string, number[]>()
  let maxParallel = 0
  let parallel = 0
  const h = await harness({
    concurrency: 3,
    handler: async (e) => {
      assert.equal(running.get(e.did) ?? 0, 0, `two events of ${e.did} at once`)
      running.set(e.did, 1)
      maxParallel = Math.max(maxParallel, ++parallel)
      await new Promise((r) => setTimeout(r, 1 + (e.seq % 4)))
      parallel--
      running.set(e.did, 0)
      seen.set(e.did, [...(seen.get(e.did) ?? []), e.seq])
    },
  })
  try {
    let last = 0
    for (let i = 0; i < 30; i++) {
      const who = [alice, bob, carol][i % 3]!
      last = h.source.emit(who.post(`post ${i}`).event)
    }
    await within(h.consumer.whenHandled(last))
    for (const seqs of seen.values()) assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b))
    assert.equal([...seen.values()].flat().length, 30)
    assert.ok(maxParallel > 1 && maxParallel <= 3, `max parallel ${maxParallel}`)
    assert.equal(h.consumer.stats().persistedCursor, last)
  } finally {
    await h.close()
  }
})

test('the cursor never passes an unfinished event; it catches up when the event finishes', async () => {
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  let blockedSeq = -1
  const h = await harness({
    concurrency: 4,
    handler: async (e) => {
      if (e.did === alice.did && blockedSeq === -1) {
        blockedSeq = e.seq
        await gate
      }
    },
  })
  try {
    const first = h.source.emit(alice.post('slow').event)
    let last = first
    for (let i = 0; i < 5; i++) last = h.source.emit(bob.post(`fast ${i}`).event)
    await waitFor(() => h.consumer.stats().handled === 5)
    assert.equal(blockedSeq, first)
    assert.ok((h.consumer.stats().persistedCursor ?? 0) < first, 'cursor stored past an unfinished event')
    assert.ok(h.store.history.every((c) => c < first))
    release()
    await within(h.consumer.whenHandled(last))
    await waitFor(() => h.consumer.stats().persistedCursor === last)
  } finally {
    release()
    await h.close()
  }
})

test('backpressure: pending work stays within queueMax while the handler is stuck', async () => {
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const h = await harness({ concurrency: 2, queueMax: 10, client: { queueFramesMax: 8, backoffMsMin: 10, backoffMsMax: 50 }, handler: () => gate })
  try {
    let last = 0
    for (let i = 0; i < 300; i++) last = h.source.emit(carol.post(`flood ${i}`).event)
    await new Promise((r) => setTimeout(r, 500))
    const stats = h.consumer.stats()
    assert.ok(stats.pending <= 10, `pending ${stats.pending}`)
    assert.ok(stats.received <= 10 + 1, `received ${stats.received}`)
    assert.equal(stats.stream?.paused, true, 'socket not paused')
    release()
    await within(h.consumer.whenHandled(last), 20_000)
    assert.equal(h.consumer.stats().handled, 300)
  } finally {
    release()
    await h.close()
  }
})

test('a failing handler is retried; one that keeps failing stops the consumer before that event', async () => {
  let failures = 0
  const flaky = await harness({
    handler: () => {
      if (failures < 2) {
        failures++
        throw new Error('db hiccup')
      }
    },
  })
  try {
    const seq = flaky.source.emit(alice.post('retry me').event)
    await within(flaky.consumer.whenHandled(seq))
    assert.equal(flaky.consumer.stats().handlerRetries, 2)
  } finally {
    await flaky.close()
  }

  const store = new MemoryCursorStore(0)
  const broken = await harness({ store, handler: (e) => { if (e.type === 'commit' && e.ops[0]?.record?.['text'] === 'poison') throw new Error('always') } })
  try {
    const ok = broken.source.emit(bob.post('fine').event)
    const bad = broken.source.emit(bob.post('poison').event)
    broken.source.emit(bob.post('after').event)
    await assert.rejects(within(broken.consumer.done), { name: 'HandlerFailed' })
    assert.equal(broken.consumer.stats().failed, 'HandlerFailed')
    assert.equal(await store.get(), ok)
    assert.ok(store.history.every((c) => c < bad))
  } finally {
    await broken.close()
  }
})

test('verify: a forged commit is skipped and counted; the rest is handled', async () => {
  const h = await harness({ verify: true })
  try {
    const mallory = generateKeypair('k256')
    const fake = alice.create('app.bsky.feed.post', { text: 'not alice', createdAt: new Date().toISOString() }, { signer: mallory })
    h.source.emit(fake.event)
    const last = h.source.emit(bob.post('real').event)
    await within(h.consumer.whenHandled(last))
    const stats = h.consumer.stats()
    assert.equal(stats.skippedBy['BadCommitSignature'], 1)
    const texts = h.events.flatMap((e) => (e.type === 'commit' ? e.ops.map((o) => o.record?.['text']) : []))
    assert.ok(!texts.includes('not alice'))
    assert.ok(texts.includes('real'))
  } finally {
    await h.close()
  }
})

test('verify: a rotated key is picked up by the refresh-once rule; #identity refreshes', async () => {
  const dave = await TestAccount.register(plc.url, 'dave')
  const h = await harness({ verify: true })
  try {
    let last = h.source.emit(dave.post('before rotation').event)
    await within(h.consumer.whenHandled(last)) // the old key is now cached
    await dave.rotateSigningKey(plc.url)
    last = h.source.emit(dave.post('after rotation').event)
    last = h.source.emit({ t: '#identity', did: dave.did, time: new Date().toISOString() as never, handle: null })
    await within(h.consumer.whenHandled(last))
    const stats = h.consumer.stats()
    assert.equal(stats.skipped, 0, JSON.stringify(stats.skippedBy))
    assert.equal(stats.byType.commit, 2)
    assert.equal(stats.identityRefreshFailures, 0)
  } finally {
    await h.close()
  }
})

test('malformed frames and records are skipped and counted, never fatal', async () => {
  const h = await harness({ verify: false })
  try {
    // A frame whose payload breaks the #commit schema (InvalidEvent): one bad event.
    h.source.emitRaw(encodeMessageFrame('#commit', { seq: 1, repo: 'not a did' }))
    // A commit whose record block is not a map, and one whose CAR lacks the record block.
    const good = carol.post('good')
    const listCid = cidForCbor(encodeCbor(['a', 'list']))
    const base = carol.post('will be tampered')
    const ev = base.event as Extract<typeof base.event, { t: '#commit' }>
    const withList = { ...ev, ops: [...ev.ops, { action: 'create' as const, path: 'app.bsky.feed.post/3kaaaaaaaaaa2', cid: listCid, prev: null }] }
    h.source.emit(withList) // the added op's block is missing from the CAR
    h.source.emit({ ...ev, blocks: new Uint8Array([1, 2, 3]) }) // not a CAR
    const last = h.source.emit(good.event)
    await within(h.consumer.whenHandled(last))
    const stats = h.consumer.stats()
    assert.equal(stats.skippedBy['InvalidEvent'], 1)
    assert.equal(stats.malformedOps, 1)
    assert.equal(stats.skipped, 2, JSON.stringify(stats.skippedBy))
    assert.equal(stats.handled, 2)
  } finally {
    await h.close()
  }
})

test('restart: a new consumer resumes from the stored cursor; nothing is handled twice', async () => {
  const dir = tempDir('atfed-consumer-')
  const db = new Level<string, string>(dir.path)
  const source = await startFirehoseSource()
  try {
    const seen: number[] = []
    const make = () =>
      new FirehoseConsumer({ url: source.origin, cursorStore: new LevelCursorStore(db), handler: (e) => void seen.push(e.seq), verify: false, resolver: null })
    let last = 0
    for (let i = 0; i < 5; i++) last = source.emit(alice.post(`one ${i}`).event)
    const first = make()
    await first.start()
    // No stored cursor: live only, so these five are not replayed.
    await waitFor(() => source.cursors.length === 1)
    assert.deepEqual(source.cursors, [null])
    await new Promise((r) => setTimeout(r, 100))
    for (let i = 0; i < 5; i++) last = source.emit(alice.post(`two ${i}`).event)
    await within(first.whenHandled(last))
    await first.stop()
    assert.equal(await new LevelCursorStore(db).get(), last)
    for (let i = 0; i < 5; i++) last = source.emit(alice.post(`three ${i}`).event)
    source.dropConnections()
    const second = make()
    await second.start()
    await within(second.whenHandled(last))
    assert.equal(second.stats().received, 5)
    await second.stop()
    assert.deepEqual(seen, [6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    assert.deepEqual(source.cursors.slice(-1), [10])
  } finally {
    await source.close()
    await db.close()
    dir.remove()
  }
})

test('a dropped connection reconnects from the last event received', async () => {
  const h = await harness({})
  try {
    let last = h.source.emit(bob.post('a').event)
    await within(h.consumer.whenHandled(last))
    h.source.dropConnections()
    last = h.source.emit(bob.post('b').event) // sent while nobody listens: comes with the replay
    await within(h.consumer.whenHandled(last))
    assert.deepEqual(h.events.map((e) => e.seq), [1, 2])
    assert.equal(h.source.cursors.at(-1), 1)
  } finally {
    await h.close()
  }
})

test('FutureCursor: the consumer restarts live and counts it', async () => {
  const h = await harness({ store: new MemoryCursorStore(1_000) })
  try {
    await waitFor(() => h.consumer.stats().cursorResets === 1 && h.source.cursors.length >= 2)
    assert.deepEqual(h.source.cursors.slice(0, 2), [1_000, null])
    await new Promise((r) => setTimeout(r, 50))
    const seq = h.source.emit(alice.post('after reset').event)
    await within(h.consumer.whenHandled(seq))
    assert.equal(h.events.length, 1)
  } finally {
    await h.close()
  }
  assert.equal(h.store.history.at(-1), 1)
})

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
