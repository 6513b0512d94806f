/**
 * The PDS admin page in headless Chromium, and the admin stats routes
 * behind it. Without the admin password the page shows no data and every
 * data call is 401 (a wrong password too); with it the accounts table lists
 * the test accounts with their hosting status (one taken down), the invites
 * table shows a created code, storage sums and the relay subscription
 * status (crawler result, subscribeRepos subscribers) are filled; signing
 * out clears it all. Then the routes directly: storage
 * sums against what was written, the scan bound, listAccounts paging and
 * its limit by error name.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import WebSocket from 'ws'
import { scanStorage } from '../../pds/dashboard/storage.ts'
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { makePng } from '../helpers/png.ts'
import { launchChromium, newPage, saveScreenshot } from './browser.ts'

const PASSWORD = 'admin-secret-ü'
const ADMIN = `Basic ${Buffer.from(`admin:${PASSWORD}`, 'utf8').toString('base64')}`
const WRONG = `Basic ${Buffer.from('admin:nope', 'utf8').toString('base64')}`

let plc: TestPlc
let crawler: TestHttpServer
let pds: TestPds
let browser: Browser
let alice: { did: string; accessJwt: string }
let bob: { did: string }
let code: string
let firehose: WebSocket
const png = makePng({ width: 16, height: 16, seed: 3 })

before(async () => {
  plc = await startPlcForPds()
  crawler = await startHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
  pds = await startTestPds({ plc, config: { adminPassword: PASSWORD, crawlers: [crawler.origin] } })
  alice = await createTestAccount(pds.url, 'alice.test')
  bob = await createTestAccount(pds.url, 'bob.test')
  const takedown = await xrpc(pds.url, 'com.atproto.admin.updateSubjectStatus', {
    auth: ADMIN,
    body: { subject: { $type: 'com.atproto.admin.defs#repoRef', did: bob.did }, takedown: { applied: true, ref: 'test' } },
  })
  assert.equal(takedown.status, 200, JSON.stringify(takedown.body))
  const created = await xrpc(pds.url, 'com.atproto.server.createInviteCode', { auth: ADMIN, body: { useCount: 2 } })
  assert.equal(created.status, 200)
  code = created.body.code
  const upload = await fetch(`${pds.url}/xrpc/com.atproto.repo.uploadBlob`, {
    method: 'POST',
    headers: { 'content-type': 'image/png', authorization: `Bearer ${alice.accessJwt}` },
    body: png,
  })
  assert.equal(upload.status, 200)
  firehose = new WebSocket(`${pds.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos`)
  firehose.on('message', () => {})
  await new Promise((resolve, reject) => firehose.once('open', resolve).once('error', reject))
  for (let i = 0; i < 200 && crawler.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  browser = await launchChromium()
})

after(async () => {
  firehose?.terminate()
  await browser?.close()
  await pds?.stop()
  await crawler?.close()
  await plc?.stop()
})

test('without the password the page holds no data and the data calls are 401', async () => {
  const html = await (await fetch(`${pds.url}/admin`)).text()
  for (const secret of [alice.did, bob.did, 'alice.test', code]) assert.equal(html.includes(secret), false, `page leaks ${secret}`)
  for (const nsid of ['dev.atfed.admin.getServerStats', 'dev.atfed.admin.listAccounts', 'com.atproto.admin.getInviteCodes']) {
    const none = await xrpc(pds.url, nsid)
    assert.equal(none.status, 401, nsid)
    assert.equal(none.body.error, 'AuthMissing')
    const wrong = await xrpc(pds.url, nsid, { auth: WRONG })
    assert.equal(wrong.status, 401, nsid)
    assert.equal(wrong.body.error, 'AuthenticationRequired')
  }

  const { page, errors } = await newPage(browser)
  const statuses: number[] = []
  page.on('response', (res) => {
    if (res.url().includes('/xrpc/')) statuses.push(res.status())
  })
  const res = await page.goto(`${pds.url}/admin`)
  assert.equal(res?.status(), 200)
  assert.match(res?.headers()['content-security-policy'] ?? '', /form-action 'none'/)
  assert.equal(await page.locator('#data').isVisible(), false)
  assert.equal(await page.locator('#login').isVisible(), true)
  assert.equal(await page.locator('#data tbody tr').count(), 0)

  await page.fill('#password', 'not-the-password')
  await page.click('#login button[type=submit]')
  await page.locator('#login-error').waitFor({ state: 'visible', timeout: 10_000 })
  assert.ok(statuses.length >= 1 && statuses.every((s) => s === 401), `statuses ${statuses}`)
  assert.equal(await page.locator('#data').isVisible(), false)
  assert.equal(await page.locator('#data tbody tr').count(), 0)
  const text = (await page.textContent('body')) ?? ''
  assert.equal(text.includes(alice.did), false)
  assert.equal(page.url(), `${pds.url}/admin`, 'the password never lands in the URL')
  assert.deepEqual(errors.filter((e) => !e.includes('401')), [])
  await page.close()
})

test('with the password: accounts, invites, storage and relay subscription status', async () => {
  const { page, errors } = await newPage(browser)
  await page.goto(`${pds.url}/admin`)
  await page.fill('#password', PASSWORD)
  await page.click('#login button[type=submit]')
  await page.locator('#data').waitFor({ state: 'visible', timeout: 10_000 })

  const accounts = await page.$$eval('#accounts tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')))
  const byHandle = new Map(accounts.map((cells) => [cells[0], cells]))
  assert.equal(accounts.length, 2)
  assert.equal(byHandle.get('alice.test')?.[1], alice.did)
  assert.equal(byHandle.get('alice.test')?.[2], 'active')
  assert.equal(byHandle.get('bob.test')?.[1], bob.did)
  assert.equal(byHandle.get('bob.test')?.[2], 'takendown')

  const invites = await page.$$eval('#invites tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')))
  const ours = invites.find((cells) => cells[0] === code)
  assert.ok(ours !== undefined, `invite ${code} in ${JSON.stringify(invites)}`)
  assert.equal(ours[1], '0 / 2')
  assert.equal(ours[2], 'no')
  assert.equal(ours[3], 'admin')

  assert.match((await page.textContent('#repo-bytes')) ?? '', /^\d+(\.\d)? (B|KiB|MiB)$/)
  assert.equal(await page.textContent('#blob-count'), '1 blob')
  assert.equal(await page.textContent('#subscribers'), '1')
  const crawlerRow = await page.$$eval('#crawlers tbody tr td', (cells) => cells.map((td) => td.textContent ?? ''))
  assert.equal(crawlerRow[0], crawler.origin)
  assert.equal(crawlerRow[1], 'ok')

  saveScreenshot('pds-admin', await page.screenshot({ fullPage: true }))
  await page.click('#sign-out')
  assert.equal(await page.locator('#data tbody tr').count(), 0, 'signing out clears every table')
  assert.equal(await page.locator('#login').isVisible(), true)
  assert.deepEqual(errors, [])
  await page.close()
})

test('getServerStats: storage sums match what was written, and the scan is bounded', async () => {
  const stats = (await xrpc(pds.url, 'dev.atfed.admin.getServerStats', { auth: ADMIN })).body
  assert.deepEqual(stats.storage.blobs, { count: 1, bytes: png.byteLength, complete: true })
  assert.equal(stats.storage.repoBlocks.complete, true)
  assert.ok(stats.storage.repoBlocks.count >= 4, `blocks ${stats.storage.repoBlocks.count}`) // two repos: a commit and a root each at least
  assert.ok(stats.storage.repoBlocks.bytes > 0)
  assert.ok(stats.storage.disk.bytes >= png.byteLength && stats.storage.disk.complete)
  assert.equal(stats.firehose.subscribers, 1)
  assert.equal(stats.firehose.seq, pds.ctx.events.lastSeq())
  assert.equal(stats.crawlers[0].crawler, crawler.origin)
  assert.equal(stats.crawlers[0].lastResult, 'ok')

  const bounded = await scanStorage(pds.ctx, { rowsMax: 2, filesMax: 1 })
  assert.deepEqual({ ...bounded.repoBlocks, bytes: 0 }, { count: 2, bytes: 0, complete: false })
  assert.deepEqual(bounded.blobs, { count: 1, bytes: png.byteLength, complete: true })
  assert.equal(bounded.disk.count, 1)
  assert.equal(bounded.disk.complete, false)
})

test('listAccounts pages in DID order with every status, and checks its limit', async () => {
  const first = await xrpc(pds.url, 'dev.atfed.admin.listAccounts', { auth: ADMIN, params: { limit: '1' } })
  assert.equal(first.status, 200)
  assert.equal(first.body.accounts.length, 1)
  const second = await xrpc(pds.url, 'dev.atfed.admin.listAccounts', { auth: ADMIN, params: { limit: '1', cursor: first.body.cursor } })
  const dids = [first.body.accounts[0].did, second.body.accounts[0].did]
  assert.deepEqual(dids, [alice.did, bob.did].sort())
  const all = await xrpc(pds.url, 'dev.atfed.admin.listAccounts', { auth: ADMIN })
  assert.equal(all.body.cursor, undefined)
  assert.deepEqual(all.body.accounts.map((a: { status: string }) => a.status).sort(), ['active', 'takendown'])
  for (const limit of ['0', '101', 'x']) {
    const bad = await xrpc(pds.url, 'dev.atfed.admin.listAccounts', { auth: ADMIN, params: { limit } })
    assert.equal(bad.status, 400, limit)
    assert.equal(bad.body.error, 'InvalidRequest')
  }
})
