/**
 * The Jetstream endpoint's edges: refusals before the upgrade (by error
 * name), max subscribers, slow consumers closed with bounded server memory
 * while others keep flowing, sharing the http.Server with subscribeRepos,
 * burned seqs, future-dated and trimmed events, shutdown.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { JETSTREAM_FUTURE_TIME_TOLERANCE_MS } from '../../core/limits.ts'
import { SubscriptionServer } from '../../core/stream/subscription-server.ts'
import { ALICE, BOB, assertIncreasing, create, openJsonReader, waitFor, withJet } from './jetstream-harness.ts'
import type { JetHarness } from './jetstream-harness.ts'
import { openReader } from '../stream/stream-harness.ts'

const POST = 'app.bsky.feed.post'

test('bad subscribe requests are refused before the upgrade, by error name', () =>
  withJet({}, async (h) => {
    const collections = Array.from({ length: 101 }, (_, i) => `wantedCollections=com.example.c${i}`).join('&')
    const cases: [string, number, string][] = [
      [collections, 400, 'TooManyWantedCollections'],
      ['wantedCollections=app.bsky.graph.fo*', 400, 'InvalidWantedCollection'],
      ['wantedCollections=*', 400, 'InvalidWantedCollection'],
      ['wantedDids=alice', 400, 'InvalidWantedDid'],
      ['cursor=yesterday', 400, 'InvalidCursor'],
      ['cursor=-5', 400, 'InvalidCursor'],
      ['maxMessageSizeBytes=big', 400, 'InvalidMaxMessageSize'],
    ]
    for (const [query, status, name] of cases) {
      const reader = openJsonReader(h.url(query))
      const refused = await reader.refused
      assert.equal(refused.status, status, query.slice(0, 40))
      assert.equal(JSON.parse(refused.body).error, name)
    }
    // 100 collections and 10,000 DIDs are fine (the DIDs through options_update: they do not fit a URL).
    const ok = openJsonReader(h.url(collections.split('&').slice(0, 100).join('&')))
    await ok.opened
    ok.ws.send(JSON.stringify({ type: 'options_update', payload: { wantedDids: Array.from({ length: 10_000 }, (_, i) => `did:web:h${i}.test`) } }))
    await h.identity('did:web:h9999.test' as typeof ALICE, null)
    await ok.until((r) => r.messages.length === 1)
    ok.ws.close()
  }))

test('compress=true without zstd is refused; a non-GET upgrade is 405', () =>
  withJet({ jetstream: { compression: false } }, async (h) => {
    for (const [url, headers] of [[h.url('compress=true'), {}], [h.url(), { 'Socket-Encoding': 'zstd' }]] as const) {
      const refused = await openJsonReader(url, { headers }).refused
      assert.equal(refused.status, 400)
      assert.equal(JSON.parse(refused.body).error, 'CompressionUnavailable')
    }
    assert.equal(h.jet.stats().compression, null)
    const port = new URL(h.url()).port
    const response = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('POST /subscribe HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
      )
      let text = ''
      socket.on('data', (chunk) => (text += chunk.toString()))
      socket.on('close', () => resolve(text))
    })
    assert.match(response, /^HTTP\/1\.1 405/)
  }))

/** Two subscribers fill the cap; the third is refused with `status`/`error`; once one leaves, another gets in and receives. */
async function refusedAtCapUntilOneLeaves(h: JetHarness, status: number, error: string): Promise<void> {
  const a = openJsonReader(h.url())
  const b = openJsonReader(h.url())
  await Promise.all([a.opened, b.opened])
  const refused = await openJsonReader(h.url()).refused
  assert.equal(refused.status, status)
  assert.equal(JSON.parse(refused.body).error, error)
  a.ws.close()
  await a.closed
  await waitFor(() => h.jet.stats().subscribers === 1)
  const c = openJsonReader(h.url())
  await c.opened
  await h.commit(ALICE, [create(POST, 'k1', { $type: POST })])
  await Promise.all([b.until((r) => r.messages.length === 1), c.until((r) => r.messages.length === 1)])
  b.ws.close()
  c.ws.close()
}

test('at most subscribersMax subscribers; the next one gets 503 TooManySubscribers until one leaves', () =>
  withJet({ jetstream: { subscribersMax: 2 } }, (h) => refusedAtCapUntilOneLeaves(h, 503, 'TooManySubscribers')))

test('per-address cap: the next subscription from that address is 429 RateLimitExceeded until one leaves', () =>
  withJet({ jetstream: { subscribersPerAddressMax: 2, limitLoopback: true } }, (h) => refusedAtCapUntilOneLeaves(h, 429, 'RateLimitExceeded')))

function bigPost(i: number): ReturnType<typeof create> {
  return create(POST, `k${i}`, { $type: POST, text: 'x'.repeat(60_000), i })
}

test('a live subscriber that stops reading is closed as ConsumerTooSlow; memory stays bounded; others unaffected', () => {
  const sendBufferBytesMax = 128 * 1024
  return withJet({ jetstream: { sendBufferBytesMax, lagEventsMax: 40, closeGraceMs: 200 } }, async (h) => {
    const stuck = openJsonReader(h.url())
    const healthy = openJsonReader(h.url())
    await Promise.all([stuck.opened, healthy.opened])
    stuck.ws.pause()
    const events = 300 // 18 MB of JSON: far more than loopback socket buffers hold
    for (let i = 0; i < events; i++) {
      await h.commit(i % 2 === 0 ? ALICE : BOB, [bigPost(i)])
      if (i % 20 === 19) await healthy.until((r) => r.messages.length === i + 1)
    }
    await waitFor(() => h.jet.stats().ends.ConsumerTooSlow === 1)
    const stats = h.jet.stats()
    assert.ok(stats.peakBufferedBytes <= sendBufferBytesMax + 64 * 1024, `peak buffered ${stats.peakBufferedBytes}`)
    await healthy.until((r) => r.messages.length === events, 20_000)
    assertIncreasing(healthy.messages)
    stuck.ws.resume()
    const closed = await stuck.closed
    assert.ok(closed.code === 1008 || closed.code === 1006, `close code ${closed.code}`)
    assert.ok(stuck.messages.length < events)
    healthy.ws.close()
  })
})

test('a replaying subscriber whose socket accepts nothing for stallMsMax is closed as ConsumerTooSlow', () =>
  withJet({ jetstream: { sendBufferBytesMax: 64 * 1024, stallMsMax: 300, closeGraceMs: 100 } }, async (h) => {
    for (let i = 0; i < 150; i++) await h.commit(ALICE, [bigPost(i)])
    const stuck = openJsonReader(h.url('cursor=0'))
    await stuck.opened
    stuck.ws.pause()
    await waitFor(() => h.jet.stats().ends.ConsumerTooSlow === 1)
    stuck.ws.terminate()
  }))

test('subscribeRepos on the same http.Server keeps working; unknown paths are left alone', () =>
  withJet({}, async (h) => {
    const repos = new SubscriptionServer(h.http, { log: h.log, path: '/xrpc/com.atproto.sync.subscribeRepos' })
    try {
      const port = new URL(h.url()).port
      const cbor = openReader(`ws://127.0.0.1:${port}/xrpc/com.atproto.sync.subscribeRepos`)
      const json = openJsonReader(h.url())
      await Promise.all([cbor.opened, json.opened])
      const seq = await h.commit(ALICE, [create(POST, 'k1', { $type: POST })])
      await cbor.until((r) => r.seqs.length === 1)
      await json.until((r) => r.messages.length === 1)
      assert.deepEqual(cbor.seqs, [seq])
      cbor.ws.close()
      json.ws.close()
    } finally {
      await repos.close()
    }
    // Jetstream alone on the server: an unknown path gets 404 (nobody else would answer it).
    const refused = await openJsonReader(h.url().replace('/subscribe', '/nope')).refused
    assert.equal(refused.status, 404)
  }))

test('burned seqs (aborted appends) at the head do not stall the index or subscribers', () =>
  withJet({}, async (h) => {
    const reader = openJsonReader(h.url())
    await reader.opened
    await h.commit(ALICE, [create(POST, 'k1', { $type: POST })])
    const pending = h.log.appendOps([{ t: '#identity', did: BOB, time: '2025-01-01T00:00:01.000Z' as never, handle: null }])
    pending.abort()
    await waitFor(() => h.jet.stats().indexedSeq === pending.seqs[0])
    await h.commit(ALICE, [create(POST, 'k2', { $type: POST })])
    await reader.until((r) => r.messages.length === 2)
    assert.deepEqual(reader.messages.map((m) => m.commit?.rkey), ['k1', 'k2'])
    reader.ws.close()
  }))

test('a future-dated event is clamped to the relay clock and stamped the same for every reader', () => {
  let nowMs = Date.parse('2025-01-01T00:00:10.000Z')
  return withJet({ jetstream: { now: () => nowMs, renderCacheEventsMax: 1 } }, async (h) => {
    const live = openJsonReader(h.url())
    await live.opened
    await h.commit(ALICE, [create(POST, 'k1', { $type: POST })])
    await h.identity(BOB, 'bob.test', Date.parse('2100-01-01T00:00:00.000Z'))
    await h.commit(ALICE, [create(POST, 'k2', { $type: POST })])
    await live.until((r) => r.messages.length === 3)
    const clampUs = (nowMs + JETSTREAM_FUTURE_TIME_TOLERANCE_MS) * 1000
    assert.equal(live.messages[1]!.time_us, clampUs)
    assert.equal(live.messages[2]!.time_us, clampUs + 1, 'later events continue after the clamped one')
    // A reader starting later (with a later clock) replays the same numbers: the clamped base is remembered.
    nowMs += 3_600_000
    const replay = openJsonReader(h.url('cursor=0'))
    await replay.until((r) => r.messages.length === 3)
    assert.deepEqual(replay.messages, live.messages)
    live.ws.close()
    replay.ws.close()
  })
})

test('after a trim, an old cursor starts at the oldest retained event; time_us still increases', () => {
  let nowMs = Date.now()
  return withJet({ log: { now: () => nowMs } }, async (h) => {
    for (let i = 0; i < 600; i++) {
      if (i === 300) nowMs += 60_000
      await h.commit(i % 2 ? ALICE : BOB, [create(POST, `k${i}`, { $type: POST, i })])
    }
    const full = openJsonReader(h.url('cursor=0'))
    await full.until((r) => r.messages.length === 600)
    full.ws.close()
    nowMs += 1_000
    assert.equal(await h.log.trim(30_000), 300)
    const after = openJsonReader(h.url('cursor=0'))
    await after.until((r) => r.messages.length === 300)
    assert.deepEqual(after.messages.map((m) => m.commit?.rkey), full.messages.slice(300).map((m) => m.commit?.rkey))
    assertIncreasing(after.messages)
    after.ws.close()
  })
})

test('close() ends every subscriber with 1001 and stops accepting', () =>
  withJet({}, async (h) => {
    const reader = openJsonReader(h.url())
    await reader.opened
    await h.jet.close()
    const closed = await reader.closed
    assert.equal(closed.code, 1001)
    assert.equal(h.jet.stats().ends.ServerShutdown, 1)
  }))
