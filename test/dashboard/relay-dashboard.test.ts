/**
 * The relay dashboard in headless Chromium, against a real network on
 * loopback: our PLC, a PDS, and a relay following it. The hosts table shows
 * the PDS as active with events/s from /api/stats; the live list fills from
 * the relay's Jetstream endpoint as posts are written on the PDS (and its
 * screenshot changes); post text is shown as text, never as markup; the
 * list stays bounded; the stats endpoint and the JSON home answer.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { RELAY_DASHBOARD_COMMITS_MAX } from '../../core/limits.ts'
import type { RelayStats } from '../../relay/dashboard/stats.ts'
import { startRelay, type RelayServer } from '../../relay/server.ts'
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { launchChromium, newPage, saveScreenshot } from './browser.ts'

let plc: TestPlc
let dns: TestDnsServer
let pds: TestPds
let relay: RelayServer
let relayDir: string
let browser: Browser
let alice: { did: string; accessJwt: string }
let hostname: string

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function post(text: string): { $type: string; text: string; createdAt: string } {
  return { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() }
}

async function writePosts(texts: string[]): Promise<void> {
  const writes = texts.map((text) => ({ $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', value: post(text) }))
  const reply = await xrpc(pds.url, 'com.atproto.repo.applyWrites', { token: alice.accessJwt, body: { repo: alice.did, writes } })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
}

before(async () => {
  plc = await startPlcForPds()
  dns = await startDnsServer()
  pds = await startTestPds({ plc })
  relayDir = mkdtempSync(join(tmpdir(), 'atfed-relay-dash-'))
  relay = await startRelay(
    {
      port: 0,
      bind: '127.0.0.1',
      dataDir: relayDir,
      plcUrl: plc.url,
      hosts: [pds.publicUrl],
      adminPassword: null,
      dev: true,
      retentionMs: 60 * 60 * 1000,
      dnsServers: [dns.address],
      tuning: { backoffMsMin: 20, backoffMsMax: 200, flushMs: 2, fsync: false },
    },
    { logLine: () => {} },
  )
  alice = await createTestAccount(pds.url, 'alice.test')
  await waitUntil(async () => {
    const hosts = (await xrpc(relay.url, 'com.atproto.sync.listHosts')).body.hosts as Array<{ hostname: string; status: string; accountCount: number }>
    hostname = hosts[0]?.hostname ?? ''
    return hosts[0]?.status === 'active' && hosts[0].accountCount === 1
  }, 'the relay to follow the PDS')
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await relay?.close()
  await pds?.stop()
  await dns?.close()
  await plc?.stop()
  if (relayDir !== undefined) rmSync(relayDir, { recursive: true, force: true })
})

function liveTexts(page: Page): Promise<string[]> {
  return page.$$eval('#live-commits li .text', (spans) => spans.map((s) => s.textContent ?? ''))
}

test('the page shows the host as active, then the live list updates as posts are written', async () => {
  const { page, errors } = await newPage(browser)
  const res = await page.goto(`${relay.url}/`)
  assert.equal(res?.status(), 200)
  assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/)

  const row = page.locator('#hosts tbody tr', { hasText: hostname })
  await row.waitFor({ timeout: 10_000 })
  assert.equal((await row.locator('.status').textContent())?.trim(), 'active')
  await page.locator('#stream-state', { hasText: 'live' }).waitFor({ timeout: 10_000 })

  const live = page.locator('#live-section')
  const before = await live.screenshot()
  const marker = `dashboard-${Date.now()}`
  const xss = `<img src=x onerror="window.__xss=1"> ${marker} markup`
  await writePosts([`${marker} first post`, `${marker} second post`, xss])
  await page.locator('#live-commits li .text', { hasText: `${marker} markup` }).waitFor({ timeout: 15_000 })
  const afterShot = await live.screenshot()

  const texts = await liveTexts(page)
  assert.deepEqual(texts.slice(0, 3), [xss, `${marker} second post`, `${marker} first post`], 'newest first, text exactly as written')
  assert.equal(await page.locator('#live-commits img').count(), 0, 'post text is never parsed as markup')
  assert.equal(await page.evaluate('window.__xss'), undefined)
  const first = page.locator('#live-commits li').first()
  assert.equal(await first.locator('.did').textContent(), alice.did)
  assert.match((await first.locator('.path').textContent()) ?? '', /^app\.bsky\.feed\.post\/[a-z2-7]{13}$/)
  assert.equal(await first.locator('.op').textContent(), 'create')

  assert.equal(Buffer.compare(Buffer.from(before), Buffer.from(afterShot)) !== 0, true, 'the live-stream screenshot changed')
  saveScreenshot('relay-live-before', before)
  saveScreenshot('relay-live-after', afterShot)

  // The events/s cell picks the writes up at the next stats poll.
  const rateCell = page.locator('#hosts tbody tr', { hasText: hostname }).locator('.rate')
  await waitUntil(async () => Number(await rateCell.textContent()) > 0, 'a non-zero events/s for the host', 10_000)
  saveScreenshot('relay-page', await page.screenshot({ fullPage: true }))
  assert.deepEqual(errors, [])
  await page.close()
})

test('the live list keeps at most RELAY_DASHBOARD_COMMITS_MAX rows, newest first', async () => {
  const { page, errors } = await newPage(browser)
  await page.goto(`${relay.url}/`)
  await page.locator('#stream-state', { hasText: 'live' }).waitFor({ timeout: 10_000 })
  const count = RELAY_DASHBOARD_COMMITS_MAX + 10
  await writePosts(Array.from({ length: count }, (_, i) => `bulk ${i}`))
  const newest = page.locator('#live-commits li .text').first()
  await waitUntil(async () => (await newest.textContent()) === `bulk ${count - 1}`, 'the last bulk post on top')
  assert.equal(await page.locator('#live-commits li').count(), RELAY_DASHBOARD_COMMITS_MAX)
  const texts = await liveTexts(page)
  assert.deepEqual(texts, Array.from({ length: RELAY_DASHBOARD_COMMITS_MAX }, (_, i) => `bulk ${count - 1 - i}`))
  assert.deepEqual(errors, [])
  await page.close()
})

test('/api/stats and the JSON home', async () => {
  const stats = (await (await fetch(`${relay.url}/api/stats`)).json()) as RelayStats
  assert.equal(stats.hostsTotal, 1)
  const host = stats.hosts[0]
  assert.ok(host !== undefined)
  assert.equal(host.hostname, hostname)
  assert.equal(host.status, 'active')
  assert.equal(host.accountCount, 1)
  assert.equal(host.dropped, 0)
  assert.ok(host.accepted >= 3, `accepted ${host.accepted}`)
  assert.ok(stats.seq >= 3)
  assert.ok(stats.windowMs > 0 && stats.windowMs <= 11_000, `window ${stats.windowMs}`)
  assert.equal(typeof stats.eventsPerSecond, 'number')
  const home = await fetch(`${relay.url}/`, { headers: { accept: 'application/json' } })
  assert.deepEqual(await home.json(), { service: 'atfed-relay/0.1.0', hosts: 1, seq: stats.seq, firehose: '/xrpc/com.atproto.sync.subscribeRepos' })
  const script = await fetch(`${relay.url}/dashboard/app.js`)
  assert.match(script.headers.get('content-type') ?? '', /javascript/)
})
