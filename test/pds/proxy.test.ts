/**
 * atproto-proxy (pds/proxy.ts, pds/proxy-forward.ts): a service registered
 * at our PLC (`#test_svc` → a small HTTP server on 127.0.0.1, PDS in dev
 * mode) receives forwarded GETs and POSTs and checks their service JWT with
 * core/crypto/jwt.ts `verifyServiceJwt` against the caller's PLC-registered
 * key (iss = caller, aud = did#test_svc, lxm = the NSID). Then the negative
 * space by error name: no header (501), malformed headers and unknown
 * services (400 InvalidRequest), no token (401), protected methods (400
 * InvalidToken), upstream errors passed on (500 → 502), unreachable (502),
 * body too large (413); and the forwarder alone: loopback targets refused
 * without the dev flag, header timeout and response size caps.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { verifyServiceJwt } from '../../core/crypto/jwt.ts'
import { PDS_PROXY_REQUEST_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import { signOp } from '../../did-resolver/plc/op-builder.ts'
import { didForGenesis, type PlcOperation } from '../../did-resolver/plc/operation.ts'
import { UpstreamClient } from '../../pds/proxy-forward.ts'
import { startHttpServer, type TestHttpServer } from '../helpers/http-server.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; iss: string; lxm: string | undefined }

async function registerService(plc: TestPlc, endpoint: string): Promise<Did> {
  const rotation = generateKeypair('k256')
  const op = signOp(
    {
      type: 'plc_operation',
      rotationKeys: [rotation.publicKey.didKey],
      verificationMethods: { atproto: generateKeypair('k256').publicKey.didKey },
      alsoKnownAs: [],
      services: { test_svc: { type: 'TestService', endpoint } },
      prev: null,
    },
    rotation,
  ) as PlcOperation
  const did = didForGenesis(op)
  const res = await fetch(`${plc.url}/${did}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(op) })
  assert.equal(res.status, 200, await res.text())
  return did
}

describe('PDS atproto-proxy', () => {
  let plc: TestPlc
  let pds: TestPds
  let upstream: TestHttpServer
  let svc: Did
  let alice: { did: string; accessJwt: string }
  const seen: Seen[] = []
  let resolver: IdentityResolver

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    resolver = new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true })
    upstream = await startHttpServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x')
        const nsid = url.pathname.slice('/xrpc/'.length)
        const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
        verifyServiceJwt(token, {
          audience: `${svc}#test_svc`,
          lxm: nsid,
          resolveSigningKey: (did, { forceRefresh }) => (forceRefresh ? resolver.refresh(did) : resolver.resolveDid(did)).then((i) => i.signingKey!),
        }).then(
          (jwt) => {
            seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), iss: jwt.iss, lxm: jwt.lxm })
            if (nsid === 'com.example.fail') {
              res.writeHead(500, { 'content-type': 'application/json' })
              return res.end(JSON.stringify({ error: 'Broken', message: 'it broke' }))
            }
            if (nsid === 'com.example.missing') {
              res.writeHead(400, { 'content-type': 'application/json', 'retry-after': '7' })
              return res.end(JSON.stringify({ error: 'NotFound', message: 'no such thing' }))
            }
            res.writeHead(200, { 'content-type': 'application/json', 'atproto-repo-rev': 'abc', 'x-internal': 'secret' })
            res.end(JSON.stringify({ ok: true, nsid, query: url.search }))
          },
          (err: Error) => {
            res.writeHead(401, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ error: err.name, message: err.message }))
          },
        )
      })
    })
    svc = await registerService(plc, upstream.origin)
    alice = await createTestAccount(pds.publicUrl, 'proxy-alice.test')
  })
  after(async () => {
    resolver.close()
    await upstream.close()
    await pds.stop()
    await plc.stop()
  })

  const call = (nsid: string, opts: { header?: string; token?: string; method?: string; body?: string } = {}) =>
    fetch(`${pds.url}/xrpc/${nsid}${opts.method === 'POST' ? '' : '?limit=5&cursor=a%20b'}`, {
      method: opts.method ?? 'GET',
      headers: {
        ...(opts.header === undefined ? {} : { 'atproto-proxy': opts.header }),
        ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        'accept-language': 'fr',
      },
      ...(opts.body === undefined ? {} : { body: opts.body }),
    })

  it('forwards a GET with a service JWT the upstream verifies against the PLC key', async () => {
    const res = await call('app.bsky.feed.getTimeline', { header: `${svc}#test_svc`, token: alice.accessJwt })
    assert.equal(res.status, 200, await res.clone().text())
    assert.deepEqual(await res.json(), { ok: true, nsid: 'app.bsky.feed.getTimeline', query: '?limit=5&cursor=a%20b' })
    assert.equal(res.headers.get('atproto-repo-rev'), 'abc')
    assert.equal(res.headers.get('x-internal'), null)
    const last = seen.at(-1)!
    assert.equal(last.iss, alice.did)
    assert.equal(last.lxm, 'app.bsky.feed.getTimeline')
    assert.equal(last.headers['accept-language'], 'fr')
    assert.equal(last.headers['atproto-proxy'], undefined)
  })

  it('forwards a POST body', async () => {
    const body = JSON.stringify({ convoId: 'c1', message: { text: 'héllo' } })
    const res = await call('chat.bsky.convo.sendMessage', { header: `${svc}#test_svc`, token: alice.accessJwt, method: 'POST', body })
    assert.equal(res.status, 200)
    const last = seen.at(-1)!
    assert.equal(last.method, 'POST')
    assert.equal(last.body, body)
    assert.equal(last.headers['content-type'], 'application/json')
  })

  it('answers the negative space with the reference error names', async () => {
    const token = alice.accessJwt
    const expect = async (res: Response, status: number, error: string, message?: RegExp) => {
      const body = (await res.json()) as { error: string; message: string }
      assert.equal(res.status, status, JSON.stringify(body))
      assert.equal(body.error, error)
      if (message !== undefined) assert.match(body.message, message)
    }
    await expect(await call('app.bsky.feed.getTimeline', { token }), 501, 'MethodNotImplemented')
    await expect(await call('not-an-nsid', { header: `${svc}#test_svc`, token }), 400, 'InvalidRequest')
    await expect(await call('app.bsky.feed.getTimeline', { header: `${svc}#test_svc` }), 401, 'AuthMissing')
    await expect(await call('app.bsky.feed.getTimeline', { header: `${svc}`, token }), 400, 'InvalidRequest', /no service id/)
    await expect(await call('app.bsky.feed.getTimeline', { header: `#test_svc`, token }), 400, 'InvalidRequest', /no did/)
    await expect(await call('app.bsky.feed.getTimeline', { header: `${svc}#a#b`, token }), 400, 'InvalidRequest', /format/)
    await expect(await call('app.bsky.feed.getTimeline', { header: `${svc}#nope`, token }), 400, 'InvalidRequest', /service url/)
    await expect(await call('app.bsky.feed.getTimeline', { header: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#x', token }), 400, 'InvalidRequest', /resolve proxy did/)
    await expect(await call('com.atproto.server.confirmEmail', { header: `${svc}#test_svc`, token, method: 'POST', body: '{}' }), 400, 'InvalidToken')
    await expect(await call('com.example.missing', { header: `${svc}#test_svc`, token }), 400, 'NotFound', /no such thing/)
    await expect(await call('com.example.fail', { header: `${svc}#test_svc`, token }), 502, 'Broken')
    const big = 'x'.repeat(PDS_PROXY_REQUEST_BYTES_MAX + 1)
    await expect(await call('com.example.upload', { header: `${svc}#test_svc`, token, method: 'POST', body: big }), 413, 'PayloadTooLarge')
    // A method this PDS implements is served locally, header or not.
    const local = await xrpc(pds.url, 'com.atproto.server.describeServer')
    assert.equal(local.status, 200)
  })
})

describe('UpstreamClient (the forwarder alone)', () => {
  const forwardTo = async (client: UpstreamClient, origin: string) => {
    const server = http.createServer((req, res) => {
      client.forward({ origin, path: '/xrpc/com.example.x', method: 'GET', headers: {}, body: null }, res).catch((err: { status: number; name: string }) => {
        res.writeHead(err.status, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: err.name }))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)
    const body = await res.text()
    server.close()
    return { status: res.status, body }
  }

  it('refuses loopback targets without the dev flag, by address and by name', async () => {
    const client = new UpstreamClient({ allowPrivate: false })
    const target = await startHttpServer((_req, res) => res.end('{}'))
    assert.deepEqual(await forwardTo(client, target.origin), { status: 400, body: '{"error":"InvalidRequest"}' })
    assert.deepEqual(await forwardTo(client, `http://localhost:${target.port}`), { status: 400, body: '{"error":"InvalidRequest"}' })
    assert.equal(target.requests.length, 0)
    client.close()
    await target.close()
  })

  it('fails with UpstreamFailure on a header timeout, an oversized answer and a closed port', async () => {
    const client = new UpstreamClient({ allowPrivate: true, limits: { headersTimeoutMs: 150, responseBytesMax: 10 } })
    const slow = await startHttpServer(() => {}) // never answers
    assert.deepEqual(await forwardTo(client, slow.origin), { status: 502, body: '{"error":"UpstreamFailure"}' })
    const big = await startHttpServer((_req, res) => res.end('x'.repeat(11)))
    assert.deepEqual(await forwardTo(client, big.origin), { status: 502, body: '{"error":"UpstreamFailure"}' })
    const port = big.port
    await big.close()
    assert.deepEqual(await forwardTo(client, `http://127.0.0.1:${port}`), { status: 502, body: '{"error":"UpstreamFailure"}' })
    client.close()
    await slow.close()
  })
})
