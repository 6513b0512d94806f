/**
 * The PDS's rate limits, on by default, with the reference's buckets (spec
 * digest §8.3), each tested at its edge over HTTP: the last allowed request
 * passes with `RateLimit-Remaining: 0`, the next is 429 `RateLimitExceeded`
 * with `RateLimit-Limit`/`-Policy` of the bucket that ran out and
 * `Retry-After`.
 * Small buckets are driven by real requests (a clock offset steps through
 * windows for the daily ones); large buckets (global 3000, getRepo 6000,
 * uploadBlob 1000, repo-write points 5000/35000) are first filled through
 * the server's own limiter under the key the server uses, and the response
 * headers prove the requests landed in that same bucket.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { RATE_LIMIT_WRITE_POINTS } from '../../core/limits.ts'
import type { RateLimiter } from '../../core/xrpc/rate-limit.ts'
import { RATE_LIMIT_BUCKETS } from '../../pds/rate-limits.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds, type XrpcReply } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const MIN = 60 * 1000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const TIMEOUT = { timeout: 30_000 }
/** The server binds 127.0.0.1; its per-IP key is the client address. */
const IP = '127.0.0.1'
const RKEY = '3jzfcijpj2z2a'

function assertLimited(reply: XrpcReply, limit: number, windowMs: number, what: string): void {
  assert.equal(reply.status, 429, `${what}: ${JSON.stringify(reply.body)}`)
  assert.equal(reply.body.error, 'RateLimitExceeded', what)
  assert.equal(reply.headers.get('ratelimit-limit'), String(limit), what)
  assert.equal(reply.headers.get('ratelimit-remaining'), '0', what)
  assert.equal(reply.headers.get('ratelimit-policy'), `${limit};w=${windowMs / 1000}`, what)
  assert.ok(Number(reply.headers.get('retry-after')) >= 1, what)
}

function assertLast(reply: XrpcReply, limit: number, what: string): void {
  assert.notEqual(reply.status, 429, `${what}: the last allowed request`)
  assert.equal(reply.headers.get('ratelimit-limit'), String(limit), what)
  assert.equal(reply.headers.get('ratelimit-remaining'), '0', what)
}

describe('PDS rate limits (reference buckets, on by default)', () => {
  let plc: TestPlc
  let pds: TestPds
  let limiter: RateLimiter
  let offsetMs = 0
  const now = () => Date.now() + offsetMs

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, now })
    assert.equal(pds.config.rateLimitsEnabled, true, 'on by default')
    assert.ok(pds.ctx.rateLimiter !== null)
    limiter = pds.ctx.rateLimiter
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('has the reference buckets', () => {
    const table: Record<string, [number, number]> = {
      global: [3000, 5 * MIN],
      repoWriteHour: [5000, HOUR],
      repoWriteDay: [35000, DAY],
      createSession5m: [30, 5 * MIN],
      createSessionDay: [300, DAY],
      createAccount: [100, 5 * MIN],
      uploadBlob: [1000, DAY],
      getRepo: [6000, 5 * MIN],
      updateHandle5m: [10, 5 * MIN],
      updateHandleDay: [50, DAY],
      deleteAccount: [50, 5 * MIN],
      resetPassword: [50, 5 * MIN],
      requestPasswordResetHour: [15, HOUR],
      requestPasswordResetDay: [50, DAY],
      emailRequestHour: [5, HOUR],
      emailRequestDay: [15, DAY],
    }
    const actual = Object.fromEntries(Object.entries(RATE_LIMIT_BUCKETS).map(([name, w]) => [name, [w.points, w.windowMs]]))
    assert.deepEqual(actual, table)
    assert.deepEqual(RATE_LIMIT_WRITE_POINTS, { create: 3, update: 2, delete: 1 })
  })

  it('createSession: 30 per 5 min and 300 per day per identifier and IP', TIMEOUT, async () => {
    const login = (identifier: string) => xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier, password: 'wrong-password' } })
    for (let i = 1; i < 30; i++) assert.equal((await login('nobody.test')).status, 401)
    assertLast(await login('nobody.test'), 30, 'createSession 30th')
    assertLimited(await login('nobody.test'), 30, 5 * MIN, 'createSession 31st')
    assert.equal((await login('someone-else.test')).status, 401, 'the key includes the identifier')
    // 31 counted today (the refused one too); eight more windows of 30 make 271, then 29 more reach 300.
    for (let window = 1; window <= 9; window++) {
      offsetMs += 5 * MIN
      for (let i = 0; i < (window < 9 ? 30 : 28); i++) assert.equal((await login('nobody.test')).status, 401, `window ${window} #${i}`)
    }
    assertLast(await login('nobody.test'), 300, 'createSession 300th of the day')
    assertLimited(await login('nobody.test'), 300, DAY, 'createSession 301st of the day (30th of its 5 minutes)')
  })

  it('createAccount: 100 per 5 min per IP (refused signups count)', TIMEOUT, async () => {
    offsetMs += DAY
    const signup = () => xrpc(pds.publicUrl, 'com.atproto.server.createAccount', { body: { handle: 'ab.test', password: 'p' } })
    for (let i = 1; i < 100; i++) assert.equal((await signup()).status, 400)
    assertLast(await signup(), 100, 'createAccount 100th')
    assertLimited(await signup(), 100, 5 * MIN, 'createAccount 101st')
    offsetMs += 5 * MIN
    assert.equal((await signup()).status, 400, 'a new window')
  })

  it('deleteAccount: 50 per 5 min per IP', TIMEOUT, async () => {
    const del = () => xrpc(pds.publicUrl, 'com.atproto.server.deleteAccount', { body: { did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', password: 'x', token: 'AAAAA-BBBBB' } })
    for (let i = 1; i < 50; i++) assert.notEqual((await del()).status, 429)
    assertLast(await del(), 50, 'deleteAccount 50th')
    assertLimited(await del(), 50, 5 * MIN, 'deleteAccount 51st')
  })

  it('updateHandle: 10 per 5 min and 50 per day per DID', TIMEOUT, async () => {
    offsetMs += DAY
    const account = await createTestAccount(pds.publicUrl, 'handles.test')
    let n = 0
    const update = () => xrpc(pds.publicUrl, 'com.atproto.identity.updateHandle', { token: account.accessJwt, body: { handle: `handles${++n % 2}.test` } })
    for (let i = 1; i < 10; i++) assert.equal((await update()).status, 200)
    assertLast(await update(), 10, 'updateHandle 10th')
    assertLimited(await update(), 10, 5 * MIN, 'updateHandle 11th')
    // The daily bucket, filled through the limiter: 11 counted (the refused one too), 38 more, then the 50th passes.
    offsetMs += 5 * MIN
    limiter.consume('updateHandleDay', account.did, 38)
    assertLast(await update(), 50, 'updateHandle 50th of the day')
    offsetMs += 5 * MIN
    assertLimited(await update(), 50, DAY, 'updateHandle 51st of the day')
  })

  it('requestAccountDelete: 5 per hour and 15 per day per DID', TIMEOUT, async () => {
    offsetMs += DAY
    const account = await createTestAccount(pds.publicUrl, 'deleter.test', { email: 'deleter@example.com' })
    let token = account.accessJwt
    const ask = () => xrpc(pds.publicUrl, 'com.atproto.server.requestAccountDelete', { method: 'POST', token })
    const relogin = async () => {
      const login = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'deleter.test', password: 'hunter2-password' } })
      token = login.body.accessJwt
    }
    for (let hour = 0; hour < 2; hour++) {
      for (let i = 1; i < 5; i++) assert.equal((await ask()).status, 200)
      assertLast(await ask(), 5, `requestAccountDelete 5th in hour ${hour}`)
      assertLimited(await ask(), 5, HOUR, `requestAccountDelete 6th in hour ${hour}`)
      offsetMs += HOUR
      await relogin() // access tokens last 2 hours
    }
    // 12 counted today (refused requests count too): the 15th of the day passes, the 16th fails on the day bucket.
    for (let i = 13; i < 15; i++) assert.equal((await ask()).status, 200)
    assertLast(await ask(), 15, 'requestAccountDelete 15th of the day')
    assertLimited(await ask(), 15, DAY, 'requestAccountDelete 16th of the day')
  })

  it('repo writes: points per DID (create 3, update 2, delete 1; applyWrites sums), 5000 an hour and 35000 a day', TIMEOUT, async () => {
    offsetMs += DAY
    const account = await createTestAccount(pds.publicUrl, 'writer.test')
    const { did, accessJwt: token } = account
    const record = { $type: 'app.bsky.feed.post', text: 'x', createdAt: new Date().toISOString() }
    const write = (nsid: string, body: Record<string, unknown>) => xrpc(pds.publicUrl, `com.atproto.repo.${nsid}`, { token, body: { repo: did, ...body } })
    limiter.consume('repoWriteHour', did, 5000 - 3 - 2 - 1)
    const created = await write('createRecord', { collection: 'app.bsky.feed.post', rkey: RKEY, record })
    assert.equal(created.status, 200, JSON.stringify(created.body))
    assert.equal(created.headers.get('ratelimit-remaining'), '3', 'a create costs 3 points')
    const put = await write('putRecord', { collection: 'app.bsky.feed.post', rkey: RKEY, record: { ...record, text: 'y' } })
    assert.equal(put.headers.get('ratelimit-remaining'), '1', 'an update costs 2')
    assertLast(await write('deleteRecord', { collection: 'app.bsky.feed.post', rkey: RKEY }), 5000, 'the delete (1) that spends the hour')
    assertLimited(await write('deleteRecord', { collection: 'app.bsky.feed.post', rkey: RKEY }), 5000, HOUR, 'one point over the hour')

    offsetMs += HOUR
    const creates = Array.from({ length: 3 }, () => ({ $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', value: record }))
    limiter.reset('repoWriteDay', did)
    limiter.consume('repoWriteDay', did, 35000 - 2 * 9)
    const batch = await write('applyWrites', { writes: creates })
    assert.equal(batch.status, 200, JSON.stringify(batch.body))
    assertLast(await write('applyWrites', { writes: creates }), 35000, 'applyWrites of 3 creates = 9 points, spending the day')
    assertLimited(await write('applyWrites', { writes: creates.slice(0, 1) }), 35000, DAY, 'past 35000 a day')
  })

  it('getRepo: 6000 per 5 min per IP, and not counted by the global bucket', TIMEOUT, async () => {
    offsetMs += DAY
    const account = await createTestAccount(pds.publicUrl, 'reader.test')
    const getRepo = () => xrpc(pds.publicUrl, 'com.atproto.sync.getRepo', { params: { did: account.did } })
    limiter.consume('global', IP, 3000)
    limiter.consume('getRepo', IP, 5999)
    assertLast(await getRepo(), 6000, 'getRepo 6000th, with the global bucket spent')
    assertLimited(await getRepo(), 6000, 5 * MIN, 'getRepo 6001st')
    assertLimited(await xrpc(pds.publicUrl, 'com.atproto.server.describeServer'), 3000, 5 * MIN, 'global 3001st')
  })

  it('global: 3000 per 5 min per IP over every other method', TIMEOUT, async () => {
    offsetMs += DAY
    limiter.consume('global', IP, 2998)
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.describeServer')).headers.get('ratelimit-remaining'), '1')
    assertLast(await xrpc(pds.publicUrl, 'com.atproto.sync.listRepos'), 3000, 'global 3000th')
    assertLimited(await xrpc(pds.publicUrl, 'com.atproto.server.describeServer'), 3000, 5 * MIN, 'global 3001st')
  })

  it('uploadBlob: 1000 per day per IP', TIMEOUT, async () => {
    offsetMs += DAY
    const account = await createTestAccount(pds.publicUrl, 'uploader.test')
    const upload = async () => {
      const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.repo.uploadBlob`, {
        method: 'POST',
        headers: { authorization: `Bearer ${account.accessJwt}`, 'content-type': 'text/plain' },
        body: 'hello',
      })
      return { status: res.status, body: await res.json(), headers: res.headers } as XrpcReply
    }
    limiter.consume('uploadBlob', IP, 999)
    assertLast(await upload(), 1000, 'uploadBlob 1000th')
    assertLimited(await upload(), 1000, DAY, 'uploadBlob 1001st')
  })
})
