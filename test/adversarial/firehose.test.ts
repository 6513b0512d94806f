/**
 * Adversarial cases §4.7 (firehose and relay) not already covered by the
 * relay scenarios (test/relay/scenarios/*.json) and the stream/relay tests,
 * all over WebSocket/HTTP into a real relay with scripted upstream hosts
 * (test/relay/relay-harness.ts): a `#identity` from a host that does not own
 * the DID and oversized frames, blocks and op lists (as scenarios: exact
 * output and drops), `#account` flapping far over a host rate, requestCrawl
 * of a redirecting host; and a reconnect storm of consumers with old
 * cursors against a PDS firehose.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { COMMIT_BLOCKS_BYTES_MAX, COMMIT_OPS_MAX, FRAME_BYTES_MAX } from '../../core/limits.ts'
import { eventPayload } from '../../core/stream/events.ts'
import { encodeMessageFrame } from '../../core/stream/frames.ts'
import { SubscriptionClient } from '../../core/stream/subscription-client.ts'
import { cidOf, commitEvent, revOf } from '../stream/fixtures.ts'
import { startRelayHarness } from '../relay/relay-harness.ts'
import { runScenario, type Scenario } from '../relay/scenario-runner.ts'
import { startHttpServer } from '../helpers/http-server.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

describe('adversarial §4.7: firehose and relay', { timeout: 120_000 }, () => {
  it('4.7.6 #identity for a DID the host does not own: passed on as a hint, an unverified handle stripped', { timeout: 30_000 }, async () => {
    const scenario: Scenario = {
      name: '4.7.6',
      hosts: ['a', 'b'],
      accounts: { alice: 'a' },
      verifiedHandles: ['alice'],
      steps: [
        { host: 'a', commit: 'alice', label: 'c1' },
        { host: 'b', identity: 'alice', handle: 'mallory.test' },
        { host: 'b', identity: 'alice', handle: 'alice.test' },
        { host: 'a', commit: 'alice', label: 'c2' },
      ],
      expect: {
        // The claimed handle is dropped unless it verifies both ways; the true one passes.
        output: ['#commit alice c1', '#identity alice -', '#identity alice alice.test', '#commit alice c2'],
      },
    }
    await runScenario(scenario)
  })

  it('4.7.7 #account flapping far over a host rate: every event held back (backpressure), none lost, order kept', { timeout: 30_000 }, async () => {
    const rate = 20
    const flaps = 60
    const h = await startRelayHarness({ hosts: 1 })
    try {
      const host = h.hosts[0]!
      const alice = await h.account(host, 'flap.test')
      host.emit(alice.initial.event)
      await h.settle(host, 1)
      const limits = await fetch(`${h.relay.url}/admin/pds/changeLimits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}` },
        body: JSON.stringify({ host: host.hostname, eventsPerSecond: rate }),
      })
      assert.equal(limits.status, 200, await limits.text())
      const consumer = h.consumer(0)
      await consumer.waitFor(1)
      const started = Date.now()
      for (let i = 0; i < flaps; i++) host.emit(i % 2 === 0 ? alice.accountEvent(false, 'deactivated') : alice.accountEvent(true))
      let throttled = false
      while (consumer.events.length < 1 + flaps && Date.now() - started < 20_000) {
        const status = (await (await fetch(`${h.relay.url}/xrpc/com.atproto.sync.getHostStatus?hostname=${host.hostname}`)).json()) as { status: string }
        throttled ||= status.status === 'throttled'
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const elapsed = Date.now() - started
      const accounts = consumer.events.slice(1).map((e) => (e.event as { active: boolean }).active)
      assert.deepEqual(accounts, Array.from({ length: flaps }, (_, i) => i % 2 === 1), 'every flap, in order')
      assert.ok(elapsed >= ((flaps - rate) / rate) * 1000 * 0.8, `held to about ${rate}/s: ${flaps} events in ${elapsed} ms`)
      assert.ok(throttled, 'getHostStatus reported the host throttled meanwhile')
      assert.deepEqual(h.hostRecord(host).drops, {}, 'nothing dropped')
      assert.equal((await fetch(`${h.relay.url}/xrpc/_health`)).status, 200)
    } finally {
      await h.close()
    }
  })

  it('4.7.8 frames of 5 MB + 1 byte, blocks of 2,000,001 bytes, 201 ops: dropped by name, the host keeps flowing', { timeout: 30_000 }, async () => {
    const hexOf = (event: ReturnType<typeof commitEvent>) => Buffer.from(encodeMessageFrame('#commit', eventPayload(event))).toString('hex')
    const bigBlocks = commitEvent(1, { seq: 900_001 })
    bigBlocks.blocks = new Uint8Array(COMMIT_BLOCKS_BYTES_MAX + 1)
    const manyOps = commitEvent(2, { seq: 900_002 })
    manyOps.ops = Array.from({ length: COMMIT_OPS_MAX + 1 }, (_, i) => ({ action: 'create' as const, path: `app.bsky.feed.post/${revOf(i)}`, cid: cidOf(i), prev: null }))
    await runScenario({
      name: '4.7.8',
      hosts: ['a'],
      accounts: { alice: 'a' },
      steps: [
        { host: 'a', commit: 'alice', label: 'c1' },
        { host: 'a', rawHex: hexOf(bigBlocks) },
        { host: 'a', rawHex: hexOf(manyOps) },
        { host: 'a', commit: 'alice', label: 'c2' },
        // An oversized frame drops the connection (ws maxPayload); the relay redials from its cursor.
        { host: 'a', oversizedBytes: FRAME_BYTES_MAX + 1 },
        { host: 'a', commit: 'alice', label: 'c3' },
      ],
      expect: { output: ['#commit alice c1', '#commit alice c2', '#commit alice c3'], drops: { a: { FrameTooLarge: 1, InvalidEvent: 2 } } },
    })
  })

  it('4.7.15 requestCrawl of a host whose describeServer redirects (to a live PDS): HostNotFound, not added, not followed', { timeout: 30_000 }, async () => {
    // Private addresses, IP literals and ports without --dev: relay-units.test.ts; the daily new-host
    // budget: relay-hosts.test.ts. This relay runs in dev mode so that loopback hosts can be named.
    const h = await startRelayHarness({ hosts: 1 })
    const target = h.hosts[0]!
    const redirector = await startHttpServer((req, res) => {
      res.writeHead(302, { location: `${target.origin}${req.url ?? '/'}` })
      res.end()
    })
    try {
      const connected = target.connections() // the harness follows its hosts already
      const crawl = await fetch(`${h.relay.url}/xrpc/com.atproto.sync.requestCrawl`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostname: redirector.origin }),
      })
      assert.equal(crawl.status, 400)
      assert.equal(((await crawl.json()) as { error: string }).error, 'HostNotFound')
      assert.equal(redirector.requests.length, 1, 'asked once')
      const hosts = (await (await fetch(`${h.relay.url}/xrpc/com.atproto.sync.listHosts`)).json()) as { hosts: Array<{ hostname: string }> }
      assert.ok(!hosts.hosts.some((x) => x.hostname.endsWith(`:${redirector.port}`)), 'not added')
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(target.connections(), connected, 'no subscription to the redirect target')
      assert.equal((await fetch(`${h.relay.url}/xrpc/_health`)).status, 200)
    } finally {
      await redirector.close()
      await h.close()
    }
  })

  describe('4.7.17 reconnect storm', () => {
    let plc: TestPlc
    let pds: TestPds
    before(async () => {
      plc = await startPlcForPds()
      pds = await startTestPds({ plc })
    })
    after(async () => {
      await pds.stop()
      await plc.stop()
    })

    it('4.7.17 a reconnect storm: 300 consumers with old cursors at once each get every event exactly once; writes go on', { timeout: 60_000 }, async () => {
      const alice = await createTestAccount(pds.publicUrl, 'storm.test')
      for (let i = 0; i < 20; i++) {
        await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
          token: alice.accessJwt,
          body: { repo: alice.did, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: `p${i}`, createdAt: new Date().toISOString() } },
        })
      }
      const head = pds.ctx.events.lastSeq()
      const url = `${pds.publicUrl.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos`
      const storm = Array.from({ length: 300 }, async (_, i) => {
        const cursor = i % 3 // old cursors: 0, 1 and 2
        const client = new SubscriptionClient({ url, cursor })
        const seqs: number[] = []
        for await (const message of client) {
          if (message.kind !== 'event') continue
          seqs.push(message.event.seq)
          if (message.event.seq >= head) break
        }
        return { cursor, seqs }
      })
      // Writes keep going during the storm.
      const write = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
        token: alice.accessJwt,
        body: { repo: alice.did, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: 'during', createdAt: new Date().toISOString() } },
      })
      assert.equal(write.status, 200)
      for (const { cursor, seqs } of await Promise.all(storm)) {
        const expected = Array.from({ length: head - cursor }, (_, k) => cursor + 1 + k)
        assert.deepEqual(seqs.slice(0, expected.length), expected.filter((s) => s <= head))
      }
      assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.describeServer')).status, 200)
    })
  })
})
