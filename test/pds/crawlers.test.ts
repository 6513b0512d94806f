/**
 * requestCrawl announcements (pds/crawlers.ts) against small HTTP servers
 * that record the calls: once at start with the PDS's hostname, after writes
 * debounced and throttled, again while no relay is subscribed (and not while
 * one is), bounded retries of 5xx with a log line, no retry of a 4xx, timers
 * and calls in flight stopped by close; and a real PDS announcing itself to
 * its configured crawler.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PDS_CRAWL_CLOSE_WAIT_MS } from '../../core/limits.ts'
import { CrawlerNotifier, crawlHostname, type CrawlTiming } from '../../pds/crawlers.ts'
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.ts'
import { createTestAccount, startPlcForPds, startTestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Polls `cond` until it holds (or 5 s pass), for the steps that must happen. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !cond(); i++) await sleep(20)
}
const PATH = 'POST /xrpc/com.atproto.sync.requestCrawl'

async function relay(status = 200): Promise<TestHttpServer & { bodies: string[] }> {
  const bodies: string[] = []
  const server = await startHttpServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      bodies.push(body)
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  return Object.assign(server, { bodies })
}

const QUIET: Partial<CrawlTiming> = { idleCheckMs: 60_000, notifyIntervalMs: 200, writeDebounceMs: 30, retryBackoffMs: 10 }

describe('CrawlerNotifier', () => {
  it('names the host to crawl: the host for https, the origin for plain http', () => {
    assert.equal(crawlHostname('https://pds.example.com'), 'pds.example.com')
    assert.equal(crawlHostname('http://localhost:2583'), 'http://localhost:2583')
  })

  it('announces at start, then after writes debounced and at most once per interval', async () => {
    const server = await relay()
    // A long interval, so a loaded machine cannot slip the first write notice past it.
    const timing = { ...QUIET, notifyIntervalMs: 1_500 }
    const notifier = new CrawlerNotifier({ crawlers: [server.origin], publicUrl: 'https://pds.example.com', subscribers: () => 0, timing })
    try {
      await until(() => server.bodies.length === 1)
      const firstAt = Date.now()
      assert.deepEqual(server.requests, [PATH])
      assert.deepEqual(server.bodies, ['{"hostname":"pds.example.com"}'])
      notifier.notifyOfWrite() // within the interval: nothing
      await sleep(300)
      assert.equal(server.requests.length, 1)
      await sleep(Math.max(0, firstAt + timing.notifyIntervalMs + 100 - Date.now())) // the interval is over
      for (let i = 0; i < 5; i++) notifier.notifyOfWrite()
      await until(() => server.bodies.length === 2)
      await sleep(100)
      assert.equal(server.requests.length, 2)
    } finally {
      await notifier.close()
      await server.close()
    }
  })

  it('re-announces while no relay is subscribed, not while one is', async () => {
    const server = await relay()
    let subscribers = 0
    const timing = { ...QUIET, idleCheckMs: 20, unsubscribedMs: 100 }
    const notifier = new CrawlerNotifier({ crawlers: [server.origin], publicUrl: 'https://pds.example.com', subscribers: () => subscribers, timing })
    try {
      await until(() => server.bodies.length >= 3)
      assert.ok(server.bodies.length >= 3, `${server.bodies.length} announcements`)
      subscribers = 1
      await sleep(200) // a call already in flight lands first
      const before = server.requests.length
      await sleep(300)
      assert.equal(server.requests.length, before)
    } finally {
      await notifier.close()
      await server.close()
    }
  })

  it('retries 5xx a bounded number of times, never a 4xx, and logs the failure', async () => {
    const failing = await relay(503)
    const refusing = await relay(400)
    const logs: string[] = []
    const notifier = new CrawlerNotifier({
      crawlers: [failing.origin, refusing.origin],
      publicUrl: 'https://pds.example.com',
      subscribers: () => 1,
      timing: { ...QUIET, retriesMax: 2 },
      log: (line) => logs.push(line),
    })
    try {
      await until(() => logs.length === 2)
      assert.equal(failing.requests.length, 3)
      assert.equal(refusing.requests.length, 1)
      assert.equal(logs.length, 2)
      assert.ok(logs.some((l) => l.includes(failing.origin) && l.includes('3 attempts')))
      assert.ok(logs.some((l) => l.includes(refusing.origin) && l.includes('HTTP 400')))
    } finally {
      await notifier.close()
      await Promise.all([failing.close(), refusing.close()])
    }
  })

  it('close stops timers and aborts a call in flight', async () => {
    const silent = await startHttpServer(() => {}) // never answers
    const notifier = new CrawlerNotifier({ crawlers: [silent.origin], publicUrl: 'https://pds.example.com', subscribers: () => 0, timing: { ...QUIET, idleCheckMs: 10, unsubscribedMs: 10 } })
    try {
      await sleep(50)
      const started = Date.now()
      await notifier.close()
      assert.ok(Date.now() - started <= PDS_CRAWL_CLOSE_WAIT_MS + 500, 'close is bounded')
      const count = silent.requests.length
      await sleep(100)
      assert.equal(silent.requests.length, count)
    } finally {
      await notifier.close()
      await silent.close()
    }
  })
})

describe('PDS with --crawl', () => {
  let plc: TestPlc
  before(async () => {
    plc = await startPlcForPds()
  })
  after(async () => {
    await plc.stop()
  })

  it('asks its crawler to crawl it at start', async () => {
    const server = await relay()
    const pds = await startTestPds({ plc, config: { crawlers: [server.origin] } })
    try {
      await createTestAccount(pds.publicUrl, 'crawl-alice.test')
      await until(() => server.bodies.length > 0)
      assert.deepEqual(server.requests, [PATH])
      assert.deepEqual(JSON.parse(server.bodies[0]!), { hostname: pds.publicUrl })
    } finally {
      await pds.stop()
      await server.close()
    }
  })
})
