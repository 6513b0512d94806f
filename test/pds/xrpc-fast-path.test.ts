/**
 * pds/xrpc-fast-path.ts: which requests take the direct route (registered
 * NSIDs, GET/HEAD/POST, exact path) and that a request answered there is
 * answered as the express app answers it: the same status, body and
 * headers (CORS, Cache-Control/Vary for authenticated methods, error
 * bodies) as the same call through the app (a trailing slash keeps a
 * request on the express path); preflight, unknown methods (the
 * atproto-proxy's 501) and non-XRPC paths still go to the app.
 */
import assert from 'node:assert/strict'
import type http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { fastPathNsid } from '../../pds/xrpc-fast-path.ts'
import { createTestAccount, startPlcForPds, startTestPds, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const METHODS = new Set(['com.atproto.repo.createRecord', 'com.atproto.server.describeServer'])

function req(method: string, url: string): http.IncomingMessage {
  return { method, url } as http.IncomingMessage
}

type Reply = { status: number; body: string; headers: Record<string, string> }

async function call(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, init)
  const headers: Record<string, string> = {}
  res.headers.forEach((value, name) => {
    // Per-response values (the rate-limit counter moves with every call).
    if (!['date', 'keep-alive', 'connection', 'ratelimit-remaining', 'ratelimit-reset'].includes(name)) headers[name] = value
  })
  return { status: res.status, body: await res.text(), headers }
}

describe('fastPathNsid', () => {
  it('takes exactly a registered NSID by GET, HEAD or POST, query string allowed', () => {
    assert.equal(fastPathNsid(req('POST', '/xrpc/com.atproto.repo.createRecord'), METHODS), 'com.atproto.repo.createRecord')
    assert.equal(fastPathNsid(req('GET', '/xrpc/com.atproto.server.describeServer?x=1'), METHODS), 'com.atproto.server.describeServer')
    assert.equal(fastPathNsid(req('HEAD', '/xrpc/com.atproto.server.describeServer'), METHODS), 'com.atproto.server.describeServer')
    for (const [method, url] of [
      ['OPTIONS', '/xrpc/com.atproto.repo.createRecord'],
      ['PUT', '/xrpc/com.atproto.repo.createRecord'],
      ['POST', '/xrpc/com.atproto.repo.createRecord/'],
      ['POST', '/xrpc/COM.atproto.repo.createRecord'],
      ['POST', '/xrpc/com.atproto.repo.create%52ecord'],
      ['GET', '/xrpc/app.bsky.feed.getTimeline'],
      ['GET', '/xrpc/_health'],
      ['GET', '/XRPC/com.atproto.server.describeServer'],
      ['GET', '/xrpc/'],
    ] as const) {
      assert.equal(fastPathNsid(req(method, url), METHODS), null, `${method} ${url}`)
    }
  })
})

describe('XRPC fast path in the PDS', () => {
  let plc: TestPlc
  let pds: TestPds
  let token: string
  let did: string

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    const account = await createTestAccount(pds.url, 'fastpath.test')
    token = account.accessJwt
    did = account.did
  })
  after(async () => {
    await pds?.stop()
    await plc?.close()
  })

  it('answers a query as the express app does (same status, body, headers)', { timeout: 20_000 }, async () => {
    const fast = await call(pds.url, '/xrpc/com.atproto.server.describeServer')
    const slow = await call(pds.url, '/xrpc/com.atproto.server.describeServer/')
    assert.equal(fast.status, 200)
    assert.equal(fast.headers['access-control-allow-origin'], '*')
    assert.deepEqual(fast, slow)
  })

  it('answers authenticated calls and their errors as the express app does', { timeout: 20_000 }, async () => {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const get = (path: string) => call(pds.url, path, { headers: auth })
    const fast = await get('/xrpc/com.atproto.server.getSession')
    assert.equal(fast.status, 200)
    assert.equal(fast.headers['cache-control'], 'private')
    assert.deepEqual(fast, await get('/xrpc/com.atproto.server.getSession/'))
    assert.ok(fast.headers['ratelimit-limit'])
    const post = (path: string, headers: Record<string, string>) =>
      call(pds.url, path, { method: 'POST', headers, body: JSON.stringify({ repo: did, collection: 'app.bsky.feed.post', record: { text: 'x' } }) })
    const [missing, missingSlow] = [await post('/xrpc/com.atproto.repo.createRecord', {}), await post('/xrpc/com.atproto.repo.createRecord/', {})]
    assert.equal(missing.status, 401)
    assert.deepEqual(missing, missingSlow)
    const invalid = await post('/xrpc/com.atproto.repo.createRecord', auth) // no createdAt: the lexicon refuses it
    assert.equal(invalid.status, 400)
    assert.deepEqual(invalid, await post('/xrpc/com.atproto.repo.createRecord/', auth))
    const wrongVerb = await call(pds.url, '/xrpc/com.atproto.repo.createRecord')
    assert.equal(wrongVerb.status, 400)
    assert.deepEqual(wrongVerb, await call(pds.url, '/xrpc/com.atproto.repo.createRecord/'))
  })

  it('leaves preflight, unknown methods and other paths to the app', { timeout: 20_000 }, async () => {
    const preflight = await call(pds.url, '/xrpc/com.atproto.repo.createRecord', {
      method: 'OPTIONS',
      headers: { origin: 'https://example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers['access-control-allow-headers'], 'authorization')
    const unknown = await call(pds.url, '/xrpc/app.bsky.feed.getTimeline', { headers: { authorization: `Bearer ${token}` } })
    assert.equal(unknown.status, 501)
    assert.equal((await call(pds.url, '/xrpc/_health')).status, 200)
  })
})
