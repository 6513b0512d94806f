/**
 * CrawlerNotifier.status() (pds/crawlers.ts), what the admin page shows
 * under "Relay subscription": every configured crawler listed before any
 * answer (pending), then its last final result — 'ok', the refusal's HTTP
 * status, or the failure after the bounded retries — and the time of its
 * last success kept across a later failure.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CrawlerNotifier, type CrawlTiming } from '../../pds/crawlers.ts'
import { startHttpServer } from '../helpers/http-server.ts'

const TIMING: Partial<CrawlTiming> = { idleCheckMs: 60_000, notifyIntervalMs: 0, writeDebounceMs: 5, retryBackoffMs: 5, retriesMax: 2 }

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 20))
}

test('each crawler: pending, then ok / HTTP status / failed after the retries; lastOkAt survives a failure', async () => {
  let okStatus = 200
  const ok = await startHttpServer((_req, res) => res.writeHead(okStatus).end('{}'))
  const refusing = await startHttpServer((_req, res) => res.writeHead(403).end('{}'))
  const failing = await startHttpServer((_req, res) => res.writeHead(503).end('{}'))
  const crawlers = [ok.origin, refusing.origin, failing.origin]
  const notifier = new CrawlerNotifier({ crawlers, publicUrl: 'https://pds.example.com', subscribers: () => 0, timing: TIMING, log: () => {} })
  try {
    assert.deepEqual(notifier.status().map((s) => s.crawler), crawlers)
    await until(() => notifier.status().every((s) => s.lastResult !== null))
    const [first, second, third] = notifier.status()
    assert.equal(first?.lastResult, 'ok')
    assert.equal(first?.lastOkAt, first?.lastResultAt)
    assert.equal(second?.lastResult, 'HTTP 403')
    assert.equal(second?.lastOkAt, null)
    assert.equal(third?.lastResult, 'failed after 3 attempts')
    assert.equal(failing.requests.length, 3)

    okStatus = 400
    const okAt = first?.lastOkAt
    await new Promise((resolve) => setTimeout(resolve, 5))
    notifier.notifyOfWrite()
    await until(() => notifier.status()[0]?.lastResult === 'HTTP 400')
    assert.equal(notifier.status()[0]?.lastResult, 'HTTP 400')
    assert.equal(notifier.status()[0]?.lastOkAt, okAt)
  } finally {
    await notifier.close()
    await Promise.all([ok.close(), refusing.close(), failing.close()])
  }
})
