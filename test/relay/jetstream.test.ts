/**
 * The relay's Jetstream endpoint over a real LevelEventLog filled with real
 * #commit events (core/repo/writes.ts applyWrites): the JSON shapes of
 * commit/identity/account messages, server-side filters (collections exact and
 * prefix, DIDs, message size), time cursors (replay then live with no gap and
 * no duplicate, inclusive resume), options_update mid-stream and requireHello.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidForCbor } from '../../core/data/cid.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import {
  ALICE,
  assertIncreasing,
  BOB,
  create,
  del,
  iso,
  opKeys,
  openJsonReader,
  T0_MS,
  update,
  withJet,
} from './jetstream-harness.ts'
import type { JetHarness } from './jetstream-harness.ts'

const POST = 'app.bsky.feed.post'
const LIKE = 'app.bsky.feed.like'
const FOLLOW = 'app.bsky.graph.follow'

test('create/update carry the record as atproto JSON and its CID; delete carries neither; identity and account shapes', () =>
  withJet({}, async (h) => {
    const reader = openJsonReader(h.url())
    await reader.opened
    const subject = cidForCbor(encodeCbor({ n: 1 }))
    const post = { $type: POST, text: 'hello', createdAt: '2025-01-01T00:00:00.000Z', blob: new Uint8Array([1, 2, 3]), ref: subject }
    const seq = await h.commit(ALICE, [create(POST, '3kaaaaaaaaa22', post), create(LIKE, '3kaaaaaaaab22', { $type: LIKE, n: 1 })])
    await h.commit(ALICE, [update(POST, '3kaaaaaaaaa22', { ...post, text: 'edited' })])
    await h.commit(ALICE, [del(LIKE, '3kaaaaaaaab22')])
    await h.identity(BOB, 'bob.test')
    await h.account(BOB, false)
    await reader.until((r) => r.messages.length >= 6)
    const [created, liked, updated, deleted, identity, account] = reader.messages
    const rev1 = h.repos.get(ALICE)!.head.rev
    assert.equal(created!.did, ALICE)
    assert.equal(created!.kind, 'commit')
    assert.deepEqual(Object.keys(created!), ['did', 'time_us', 'kind', 'commit'])
    assert.deepEqual(Object.keys(created!.commit!), ['rev', 'operation', 'collection', 'rkey', 'record', 'cid'])
    assert.equal(created!.commit!.operation, 'create')
    assert.equal(created!.commit!.collection, POST)
    assert.equal(created!.commit!.rkey, '3kaaaaaaaaa22')
    assert.deepEqual(created!.commit!.record, { ...post, blob: { $bytes: 'AQID' }, ref: { $link: subject.toString() } })
    assert.equal(created!.commit!.cid, cidForCbor(encodeCbor(post)).toString())
    assert.equal(liked!.time_us, created!.time_us + 1, 'ops of one commit take consecutive time_us')
    assert.equal(created!.time_us, T0_MS * 1000, "time_us is the event's time in µs")
    assert.equal(updated!.commit!.operation, 'update')
    assert.equal((updated!.commit!.record as { text: string }).text, 'edited')
    assert.deepEqual(Object.keys(deleted!.commit!), ['rev', 'operation', 'collection', 'rkey'])
    assert.equal(deleted!.commit!.operation, 'delete')
    assert.equal(deleted!.commit!.rev, rev1)
    assert.deepEqual(identity, {
      did: BOB,
      time_us: identity!.time_us,
      kind: 'identity',
      identity: { did: BOB, handle: 'bob.test', seq: seq + 3, time: iso(T0_MS + 3) },
    })
    assert.deepEqual(account, {
      did: BOB,
      time_us: account!.time_us,
      kind: 'account',
      account: { active: false, did: BOB, seq: seq + 4, time: iso(T0_MS + 4), status: 'deactivated' },
    })
    assertIncreasing(reader.messages)
    reader.ws.close()
  }))

let rkeys = 0

async function mixedTraffic(h: JetHarness, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const rkey = `k${++rkeys}`
    await h.commit(i % 2 === 0 ? ALICE : BOB, [create(POST, rkey, { $type: POST, i }), create(FOLLOW, rkey, { $type: FOLLOW, i })])
    await h.commit(i % 2 === 0 ? BOB : ALICE, [create(LIKE, rkey, { $type: LIKE, i })])
    if (i % 3 === 0) await h.identity(ALICE, 'alice.test')
  }
}

test('wantedCollections exact and prefix, wantedDids and maxMessageSizeBytes are applied server-side', () =>
  withJet({}, async (h) => {
    const all = openJsonReader(h.url())
    const exact = openJsonReader(h.url(`wantedCollections=${POST}&wantedCollections=${LIKE}`))
    const prefix = openJsonReader(h.url('wantedCollections=app.bsky.graph.*'))
    const bobOnly = openJsonReader(h.url(`wantedDids=${BOB}`))
    const small = openJsonReader(h.url('maxMessageSizeBytes=400'))
    const readers = [all, exact, prefix, bobOnly, small]
    await Promise.all(readers.map((r) => r.opened))
    await mixedTraffic(h, 6)
    await h.commit(ALICE, [create(POST, '3kbbbbbbbbb22', { $type: POST, text: 'x'.repeat(500) })])
    await h.identity(BOB, 'sentinel.test') // passes every filter above: marks the end
    const isSentinel = (m: (typeof all.messages)[number]): boolean => m.kind === 'identity' && m.identity?.handle === 'sentinel.test'
    for (const r of readers) await r.until((x) => x.messages.some(isSentinel))
    assert.equal(all.messages.length, 6 * 3 + 2 + 1 + 1)
    const expect = (pred: (m: (typeof all.messages)[number]) => boolean): string[] => opKeys(all.messages.filter(pred))
    assert.deepEqual(opKeys(exact.messages), expect((m) => m.kind !== 'commit' || [POST, LIKE].includes(m.commit!.collection)))
    assert.deepEqual(opKeys(prefix.messages), expect((m) => m.kind !== 'commit' || m.commit!.collection === FOLLOW))
    assert.deepEqual(opKeys(bobOnly.messages), expect((m) => m.did === BOB))
    assert.ok(bobOnly.messages.length > 0 && prefix.messages.some((m) => m.kind === 'identity'))
    assert.deepEqual(opKeys(small.messages), expect((m) => m.commit?.rkey !== '3kbbbbbbbbb22'), 'only the 500-char post is over 400 bytes')
    for (const r of readers) {
      assertIncreasing(r.messages)
      r.ws.close()
    }
  }))

test('cursor replays from a time (inclusive), then goes live with no gap and no duplicate; a resume cursor continues exactly', () =>
  withJet({}, async (h) => {
    await mixedTraffic(h, 200) // 600+ events: several time-index checkpoints
    const full = openJsonReader(h.url('cursor=0'))
    const total = 200 * 3 + 67
    await full.until((r) => r.messages.length === total)
    assertIncreasing(full.messages)
    const from = full.messages[421]!
    const replay = openJsonReader(h.url(`cursor=${from.time_us}`))
    await replay.until((r) => r.messages.length === total - 421)
    assert.deepEqual(replay.messages, full.messages.slice(421), 'replay starts at the cursor, inclusive')
    // Live appends while both are connected.
    await mixedTraffic(h, 10)
    await full.until((r) => r.messages.length === total + 34)
    await replay.until((r) => r.messages.length === total - 421 + 34)
    assert.deepEqual(replay.messages, full.messages.slice(421))
    assertIncreasing(replay.messages)
    // A cursor between two messages starts at the next one; one past the head is live.
    const between = openJsonReader(h.url(`cursor=${full.messages[100]!.time_us + 1}`))
    await between.until((r) => r.messages.length === total + 34 - 101)
    assert.deepEqual(between.messages[0], full.messages[101])
    const future = openJsonReader(h.url(`cursor=${(Date.now() + 3_600_000) * 1000}`))
    await future.opened
    await h.commit(BOB, [create(POST, '3kzzzzzzzzz22', { $type: POST })])
    await future.until((r) => r.messages.length === 1)
    assert.equal(future.messages[0]!.commit!.rkey, '3kzzzzzzzzz22')
    for (const r of [full, replay, between, future]) r.ws.close()
  }))

test('a relay restart rebuilds the time index: same time_us for the same events, old cursors still resume', () =>
  withJet({}, async (h) => {
    await mixedTraffic(h, 100)
    const before = openJsonReader(h.url('cursor=0'))
    await before.until((r) => r.messages.length === 334)
    before.ws.close()
    await h.reattach()
    const after = openJsonReader(h.url(`cursor=${before.messages[250]!.time_us}`))
    await after.until((r) => r.messages.length === 84)
    assert.deepEqual(after.messages, before.messages.slice(250))
    after.ws.close()
    // A rebuild window smaller than the log: older events are not served, the cursor starts at the window.
    await h.reattach({ rebuildEventsMax: 50 })
    const windowed = openJsonReader(h.url('cursor=0'))
    await windowed.until((r) => r.messages.length > 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok(windowed.messages.length < 334 && windowed.messages.length >= 50)
    assert.deepEqual(windowed.messages.at(-1), before.messages.at(-1))
    windowed.ws.close()
  }))

test('options_update replaces the filters mid-stream; requireHello waits for it', () =>
  withJet({}, async (h) => {
    const reader = openJsonReader(h.url(`wantedCollections=${POST}`))
    const hello = openJsonReader(h.url('requireHello=true'))
    await Promise.all([reader.opened, hello.opened])
    await h.commit(ALICE, [create(POST, '3kaaaaaaaaa22', { $type: POST }), create(LIKE, '3kaaaaaaaaa22', { $type: LIKE })])
    await reader.until((r) => r.messages.length === 1)
    reader.ws.send(JSON.stringify({ type: 'options_update', payload: { wantedCollections: [LIKE], wantedDids: [BOB] } }))
    hello.ws.send(JSON.stringify({ type: 'options_update', payload: { wantedCollections: ['app.bsky.feed.*'] } }))
    await new Promise((resolve) => setTimeout(resolve, 50)) // the update travels on the same socket, ahead of later events
    await h.commit(ALICE, [create(LIKE, '3kaaaaaaaab22', { $type: LIKE })])
    await h.commit(BOB, [create(POST, '3kaaaaaaaac22', { $type: POST }), create(LIKE, '3kaaaaaaaac22', { $type: LIKE })])
    await h.commit(BOB, [create(FOLLOW, '3kaaaaaaaad22', { $type: FOLLOW })])
    await reader.until((r) => r.messages.length === 2)
    assert.deepEqual(opKeys(reader.messages), [`${ALICE} ${POST}/3kaaaaaaaaa22 create`, `${BOB} ${LIKE}/3kaaaaaaaac22 create`])
    await hello.until((r) => r.messages.length === 5)
    assert.deepEqual(
      opKeys(hello.messages),
      [
        `${ALICE} ${POST}/3kaaaaaaaaa22 create`,
        `${ALICE} ${LIKE}/3kaaaaaaaaa22 create`,
        `${ALICE} ${LIKE}/3kaaaaaaaab22 create`,
        `${BOB} ${POST}/3kaaaaaaaac22 create`,
        `${BOB} ${LIKE}/3kaaaaaaaac22 create`,
      ],
      'requireHello: nothing before the first update, and then from where the subscriber connected',
    )
    // Empty arrays turn the filters off again.
    reader.ws.send(JSON.stringify({ type: 'options_update', payload: {} }))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await h.identity(ALICE, 'alice.test')
    await reader.until((r) => r.messages.at(-1)?.kind === 'identity')
    reader.ws.close()
    hello.ws.close()
  }))

test('an invalid options_update closes the connection with the error name', () =>
  withJet({}, async (h) => {
    const cases: [string | Buffer, string][] = [
      ['not json', 'InvalidOptionsUpdate'],
      [JSON.stringify({ type: 'something_else', payload: {} }), 'InvalidOptionsUpdate'],
      [JSON.stringify({ type: 'options_update', payload: { wantedDids: 'did:plc:x' } }), 'InvalidOptionsUpdate'],
      [JSON.stringify({ type: 'options_update', payload: { wantedCollections: ['app.bsky.feed.po*'] } }), 'InvalidWantedCollection'],
      [JSON.stringify({ type: 'options_update', payload: { wantedDids: ['nope'] } }), 'InvalidWantedDid'],
      [
        JSON.stringify({ type: 'options_update', payload: { wantedDids: Array.from({ length: 10_001 }, (_, i) => `did:web:h${i}.test`) } }),
        'TooManyWantedDids',
      ],
      [Buffer.from([1, 2, 3]), 'InvalidOptionsUpdate'],
    ]
    for (const [message, name] of cases) {
      const reader = openJsonReader(h.url())
      await reader.opened
      reader.ws.send(message)
      const closed = await reader.closed
      assert.equal(closed.code, 1008, name)
      assert.equal(closed.reason, name)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(h.jet.stats().ends.InvalidOptionsUpdate, cases.length)
  }))
