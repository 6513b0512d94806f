/**
 * `atfed feedgen` as a child process: the server starts from flags and env,
 * serves its did:web document and a skeleton, and exits cleanly on SIGTERM;
 * bad configuration is one `InvalidConfig` line; `atfed feedgen publish`
 * logs in to a (scripted) PDS and writes the generator record with putRecord.
 * Plus loadFeedgenConfig's rules directly.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { loadFeedgenConfig } from '../../feedgen/config.ts'
import { publishFeedGenerator } from '../../feedgen/publish.ts'
import { startHttpServer } from '../helpers/http-server.ts'
import { tempDir } from '../helpers/plc.ts'

const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

async function atfed(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('loadFeedgenConfig: flags over env, did:web from the hostname, every bad value named', () => {
  const c = loadFeedgenConfig({ data: '/d', hostname: 'Feed.Example.com' }, { ATFED_FEEDGEN_PORT: '3001', ATFED_FEEDGEN_KEYWORD: 'Bluesky' })
  assert.equal(c.port, 3001)
  assert.equal(c.serviceDid, 'did:web:feed.example.com')
  assert.equal(c.publicUrl, 'https://feed.example.com')
  assert.equal(c.publisherDid, 'did:web:feed.example.com')
  assert.equal(c.keyword, 'bluesky')
  assert.equal(c.verify, true)
  assert.equal(c.relayUrl, null)
  const dev = loadFeedgenConfig({ data: '/d', hostname: 'localhost:3000', dev: true, relay: 'ws://127.0.0.1:9/' }, { ATFED_FEEDGEN_VERIFY: 'false' })
  assert.equal(dev.serviceDid, 'did:web:localhost%3A3000')
  assert.equal(dev.publicUrl, 'http://localhost:3000')
  assert.equal(dev.relayUrl, 'ws://127.0.0.1:9')
  assert.equal(dev.verify, false)
  const bad: Array<[Parameters<typeof loadFeedgenConfig>[0], RegExp]> = [
    [{ hostname: 'a.test' }, /--data/],
    [{ data: '/d' }, /--hostname/],
    [{ data: '/d', hostname: 'localhost:3000' }, /--hostname.*dev/],
    [{ data: '/d', hostname: 'not a host' }, /--hostname/],
    [{ data: '/d', hostname: 'a.test', port: '70000' }, /--port/],
    [{ data: '/d', hostname: 'a.test', relay: 'ftp://x' }, /--relay/],
    [{ data: '/d', hostname: 'a.test', publisherDid: 'bob' }, /--publisher-did/],
    [{ data: '/d', hostname: 'a.test', keyword: 'two words' }, /--keyword/],
    [{ data: '/d', hostname: 'a.test', popularHours: '0' }, /--popular-hours/],
  ]
  for (const [flags, message] of bad) assert.throws(() => loadFeedgenConfig(flags, {}), (err: Error) => err.name === 'InvalidConfig' && message.test(err.message))
})

test('atfed feedgen serves its DID document and feeds, and stops on SIGTERM', { timeout: 60_000 }, async () => {
  const dir = tempDir('atfed-feedgen-cli-')
  const child = spawn(process.execPath, [ATFED, 'feedgen', '--port', '0', '--hostname', 'feed.test', '--plc', 'http://127.0.0.1:9', '--dev'], {
    env: { ...process.env, ATFED_FEEDGEN_DATA: dir.path, ATFED_FEEDGEN_KEYWORD: '#cli' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve)
      child.once('exit', (code) => reject(new Error(`exited ${code}`)))
    })
    const url = /listening on (http:\/\/\S+)/.exec(line)?.[1]
    assert.ok(url, line)
    assert.match(line, /at:\/\/did:web:feed\.test\/app\.bsky\.feed\.generator\/keyword/)
    const doc = (await (await fetch(`${url}/.well-known/did.json`)).json()) as { id: string }
    assert.equal(doc.id, 'did:web:feed.test')
    const feed = encodeURIComponent('at://did:web:feed.test/app.bsky.feed.generator/keyword')
    const res = await fetch(`${url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${feed}`)
    assert.deepEqual([res.status, await res.json()], [200, { feed: [] }])
    child.kill('SIGTERM')
    const [code] = (await once(child, 'exit')) as [number]
    assert.equal(code, 0)
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
    dir.remove()
  }
})

test('atfed feedgen with bad configuration fails with one line', async () => {
  const out = await atfed(['feedgen', '--port', '0', '--data', '/tmp/x', '--hostname', 'localhost:1'])
  assert.equal(out.code, 1)
  assert.match(out.stderr, /^atfed: InvalidConfig: --hostname: localhost is for --dev only\n$/)
})

test('atfed feedgen publish: createSession then putRecord with the generator record', async () => {
  const calls: Array<{ path: string; auth: string | undefined; body: Record<string, unknown> }> = []
  const pds = await startHttpServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString()))
    req.on('end', () => {
      const body = JSON.parse(text || '{}') as Record<string, unknown>
      calls.push({ path: req.url ?? '', auth: req.headers.authorization, body })
      res.setHeader('content-type', 'application/json')
      if (req.url === '/xrpc/com.atproto.server.createSession') {
        if (body['password'] !== 'pw') return res.writeHead(401).end(JSON.stringify({ error: 'AuthenticationRequired', message: 'Invalid identifier or password' }))
        return res.end(JSON.stringify({ did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', handle: 'owner.test', accessJwt: 'access-token', refreshJwt: 'r' }))
      }
      const uri = `at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.generator/${String(body['rkey'])}`
      res.end(JSON.stringify({ uri, cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' }))
    })
  })
  try {
    const out = await atfed(['feedgen', 'publish', '--pds', pds.origin, '--handle', 'owner.test', '--password', 'pw', '--feed', 'popular', '--hostname', 'feed.test', '--display-name', 'Popular here'])
    assert.equal(out.code, 0, out.stderr)
    assert.equal(out.stdout, 'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.generator/popular\n')
    assert.deepEqual(calls.map((c) => c.path), ['/xrpc/com.atproto.server.createSession', '/xrpc/com.atproto.repo.putRecord'])
    assert.deepEqual(calls[0]?.body, { identifier: 'owner.test', password: 'pw' })
    const put = calls[1]!
    assert.equal(put.auth, 'Bearer access-token')
    assert.equal(put.body['repo'], 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')
    assert.equal(put.body['collection'], 'app.bsky.feed.generator')
    assert.equal(put.body['rkey'], 'popular')
    const record = put.body['record'] as Record<string, string>
    assert.deepEqual({ ...record, createdAt: 'x' }, { $type: 'app.bsky.feed.generator', did: 'did:web:feed.test', displayName: 'Popular here', description: 'The most liked posts of the last hours.', createdAt: 'x' })
    assert.ok(!Number.isNaN(Date.parse(record['createdAt'] ?? '')))

    const denied = await atfed(['feedgen', 'publish', '--pds', pds.origin, '--handle', 'owner.test', '--password', 'wrong', '--feed', 'popular', '--service-did', 'did:web:feed.test'])
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /Invalid identifier or password/)
    const noHost = await atfed(['feedgen', 'publish', '--pds', pds.origin, '--handle', 'h', '--password', 'pw', '--feed', 'popular'])
    assert.match(noHost.stderr, /^atfed: InvalidArgument: --hostname or --service-did is required/)
  } finally {
    await pds.close()
  }
  const base = { pds: 'http://127.0.0.1:9', identifier: 'h', password: 'p', serviceDid: 'did:web:feed.test', displayName: 'ok', feed: 'ok' }
  await assert.rejects(publishFeedGenerator({ ...base, feed: 'bad name' }), { name: 'InvalidArgument' })
  await assert.rejects(publishFeedGenerator({ ...base, displayName: 'x'.repeat(25) }), { name: 'InvalidArgument' })
  await assert.rejects(publishFeedGenerator({ ...base, description: 'é'.repeat(1501) }), { name: 'InvalidArgument' })
  await assert.rejects(publishFeedGenerator({ ...base, serviceDid: 'feed.test' }), { name: 'InvalidArgument' })
})
