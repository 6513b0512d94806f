/**
 * The whole network, as the README starts it: `node bin/atfed.js dev --data
 * <tmp> --base-port <free>` as a child process. Through PDS 1, with the
 * official @atproto/api client: createAccount and a post containing the
 * feed keyword (#atfed) and the labeler's rule word (spoiler). Then the
 * post is seen
 *   - on the relay firehose (a subscribeRepos subscriber from seq 0),
 *   - in the keyword feed's skeleton (getFeedSkeleton on the feed generator),
 *   - labelled `spoiler` by the labeler (queryLabels),
 *   - on the relay's Jetstream endpoint through `atfed firehose --jetstream`;
 * then SIGINT: a clean exit (code 0, every service stopped, ports free).
 * A second start on the same data dir prints the same table (same DIDs,
 * URLs and feed URIs), the account still logs in, the post is still in the
 * feed and still labelled; SIGINT again exits 0.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AtpAgent } from '@atproto/api'
import { SubscriptionClient } from '../../core/stream/subscription-client.ts'
import { freeBasePort, runAtfed, spawnAtfed } from '../helpers/atfed-cli.ts'
import type { AtfedProcess } from '../helpers/atfed-cli.ts'

const READY = /^atfed dev: ready/
const START_TIMEOUT_MS = 90_000

type Row = { url: string; did: string }

/** The table between the SERVICE header and the admin line: name → {url, did}. */
function parseTable(lines: readonly string[]): Map<string, Row> {
  const start = lines.findIndex((l) => l.startsWith('SERVICE'))
  assert.ok(start >= 0, `no table in:\n${lines.join('\n')}`)
  const rows = new Map<string, Row>()
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('admin:')) break
    const [name, url, did] = line.split(/\s{2,}/)
    assert.ok(name !== undefined && url !== undefined && did !== undefined, `bad table row: ${line}`)
    rows.set(name, { url, did })
  }
  return rows
}

let current: AtfedProcess | null = null

async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; atfed dev stderr:\n${current?.stderrLines.slice(-40).join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function stopCleanly(dev: AtfedProcess, ports: readonly number[]): Promise<void> {
  dev.proc.kill('SIGINT')
  const { code, signal } = await dev.exit
  assert.equal(signal, null, dev.stderrLines.slice(-20).join('\n'))
  assert.equal(code, 0, dev.stderrLines.slice(-20).join('\n'))
  assert.ok(dev.stderrLines.includes('atfed dev: stopped'))
  for (const port of ports) assert.ok(await portIsFree(port), `port ${port} still taken after the stop`)
}

const dataDir = mkdtempSync(join(tmpdir(), 'atfed-e2e-dev-'))
const running: AtfedProcess[] = []
after(async () => {
  // A failed run: SIGTERM first, so `atfed dev` stops its services (a SIGKILL would orphan them).
  for (const p of running) {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) continue
    p.proc.kill('SIGTERM')
    await Promise.race([p.exit, new Promise((resolve) => setTimeout(resolve, 20_000))])
    p.kill()
  }
  rmSync(dataDir, { recursive: true, force: true })
})

test('atfed dev: write through a PDS, see it on the relay, in the feed, labelled; stop; resume with the same data', { timeout: 240_000 }, async () => {
  const base = await freeBasePort(6)
  const ports = [0, 1, 2, 3, 4, 5].map((i) => base + i)
  const args = ['dev', '--data', dataDir, '--base-port', String(base)]
  const first = spawnAtfed(args)
  running.push(first)
  current = first
  await first.waitFor(READY, START_TIMEOUT_MS)
  const table = parseTable(first.stdoutLines)
  assert.deepEqual([...table.keys()].slice(0, 6), ['plc', 'pds1', 'pds2', 'relay', 'feedgen', 'labeler'])
  const pds1 = table.get('pds1')!
  assert.equal(pds1.url, `http://localhost:${base + 1}`)
  assert.equal(pds1.did, `did:web:localhost%3A${base + 1}`)
  assert.match(table.get('labeler')!.did, /^did:plc:/)
  const keywordFeed = table.get('feed:keyword')!.url

  const agent = new AtpAgent({ service: pds1.url })
  const password = 'correct-horse-e2e'
  await agent.createAccount({ handle: 'dana.test', email: 'dana@example.test', password })
  const posted = await agent.post({ text: 'Spoiler alert: one command brings up a whole network #atfed', createdAt: new Date().toISOString() })
  const did = agent.session!.did

  const relay = table.get('relay')!.url.replace(/^http/, 'ws')
  const client = new SubscriptionClient({ url: `${relay}/xrpc/com.atproto.sync.subscribeRepos`, cursor: 0 })
  const path = posted.uri.split('/').slice(3).join('/')
  const timer = setTimeout(() => client.close(), 30_000)
  let seenOnRelay = false
  for await (const message of client) {
    if (message.kind !== 'event' || message.event.t !== '#commit' || message.event.repo !== did) continue
    if (message.event.ops.some((op) => op.path === path && op.action === 'create' && op.cid?.toString() === posted.cid)) {
      seenOnRelay = true
      break
    }
  }
  clearTimeout(timer)
  client.close()
  assert.ok(seenOnRelay, `the post reached the relay firehose; atfed dev stderr:\n${first.stderrLines.slice(-40).join('\n')}`)

  // The same post through the relay's Jetstream endpoint, as `atfed firehose --jetstream` prints it (checked below).
  const jetstream = runAtfed(['firehose', '--jetstream', '--url', table.get('relay')!.url, '--cursor', '0', '--did', did, '--collection', 'app.bsky.feed.post', '--limit', '1'])

  const feedgen = new AtpAgent({ service: table.get('feedgen')!.url })
  const inFeed = async () => {
    const res = await feedgen.app.bsky.feed.getFeedSkeleton({ feed: keywordFeed, limit: 50 })
    return res.data.feed.some((item) => item.post === posted.uri) ? true : undefined
  }
  await eventually('the post in the keyword feed', 30_000, inFeed)

  const labeler = new AtpAgent({ service: table.get('labeler')!.url })
  const labelled = async () => {
    const res = await labeler.com.atproto.label.queryLabels({ uriPatterns: [posted.uri] })
    return res.data.labels.find((l) => l.val === 'spoiler' && l.src === table.get('labeler')!.did)
  }
  const label = await eventually('the spoiler label', 30_000, labelled)
  assert.equal(label.cid, posted.cid)
  const js = await jetstream
  assert.equal(js.code, 0, js.stderr)
  const jsMessage = JSON.parse(js.stdout) as { did: string; kind: string; commit: { collection: string; rkey: string; cid: string } }
  assert.deepEqual([jsMessage.did, jsMessage.kind, jsMessage.commit.cid], [did, 'commit', posted.cid])

  await stopCleanly(first, ports)

  const second = spawnAtfed(args)
  running.push(second)
  current = second
  await second.waitFor(READY, START_TIMEOUT_MS)
  assert.deepEqual(parseTable(second.stdoutLines), table, 'same services, URLs, DIDs and feeds after a restart')
  const again = new AtpAgent({ service: pds1.url })
  await again.login({ identifier: 'dana.test', password })
  assert.equal(again.session!.did, did)
  await eventually('the post still in the keyword feed', 15_000, inFeed)
  assert.equal((await labelled())?.cid, posted.cid)
  await stopCleanly(second, ports)
})
