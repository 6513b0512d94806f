/**
 * `atfed firehose` as a child process against a test PDS (our PLC, our
 * PDS in-process, accounts and posts through @atproto/api):
 *   - replay from cursor 0 with --collection: one line per post op, with
 *     seq, did, rev, action, path, cid and the record as JSON; nothing else;
 *   - --did keeps one repo; without filters identity/account lines appear;
 *   - --verify (against our PLC, --dev) prints the same lines, no failures;
 *   - a live tail sees a new post, SIGINT exits 0 naming the resume cursor,
 *     and --cursor from there prints only later events;
 *   - a cursor in the PDS's future is one error line (FutureCursor), exit 1;
 *   - bad flags are InvalidArgument (in-process, by error name).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { AtpAgent } from '@atproto/api'
import { parseFirehoseFilter } from '../../cli/firehose-output.ts'
import { jetstreamUrl } from '../../cli/firehose-jetstream.ts'
import { assertOneLineError, runAtfed, spawnAtfed } from '../helpers/atfed-cli.ts'
import { startPlcForPds, startTestPds } from '../helpers/pds.ts'
import type { TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

type Line = { type: string; seq: number; did: string; rev?: string; action?: string; path?: string; cid?: string | null; record?: { text?: string } | null }

let plc: TestPlc
let pds: TestPds
let alice: AtpAgent
let bob: AtpAgent
const posts: { uri: string; cid: string; text: string; did: string }[] = []

async function post(agent: AtpAgent, text: string) {
  const res = await agent.post({ text, createdAt: new Date().toISOString() })
  posts.push({ ...res, text, did: agent.session!.did })
  return res
}

function parseLines(stdout: string): Line[] {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line)
}

before(async () => {
  plc = await startPlcForPds()
  pds = await startTestPds({ plc })
  alice = new AtpAgent({ service: pds.publicUrl })
  bob = new AtpAgent({ service: pds.publicUrl })
  await alice.createAccount({ handle: 'alice.test', email: 'alice@example.test', password: 'alice-password' })
  await bob.createAccount({ handle: 'bob.test', email: 'bob@example.test', password: 'bob-password' })
  const first = await post(alice, 'first post from alice')
  await bob.like(first.uri, first.cid)
  await post(bob, 'bob says hi')
})

after(async () => {
  await pds?.stop()
  await plc?.stop()
})

describe('atfed firehose', () => {
  test('replays posts from cursor 0 as one JSON line per op', async () => {
    const out = await runAtfed(['firehose', '--url', pds.publicUrl, '--cursor', '0', '--collection', 'app.bsky.feed.post', '--limit', '2'])
    assert.equal(out.code, 0, out.stderr)
    const lines = parseLines(out.stdout)
    assert.equal(lines.length, 2)
    for (const [i, line] of lines.entries()) {
      const expected = posts[i]!
      assert.equal(line.type, 'commit')
      assert.equal(line.did, expected.did)
      assert.equal(line.action, 'create')
      assert.equal(line.path, expected.uri.split('/').slice(3).join('/'))
      assert.equal(line.cid, expected.cid)
      assert.equal(line.record?.text, expected.text)
      assert.ok(Number.isInteger(line.seq) && typeof line.rev === 'string')
    }
    assert.ok(lines[0]!.seq < lines[1]!.seq)
    assert.match(out.stderr, /stopped after seq \d+ \(resume with --cursor \d+\)/)
  })

  test('--did keeps one repo; no filter shows identity and account events too', async () => {
    const bobDid = bob.session!.did
    const onlyBob = await runAtfed(['firehose', '--url', pds.publicUrl, '--cursor', '0', '--did', bobDid, '--collection', 'app.bsky.feed.*', '--limit', '2'])
    assert.equal(onlyBob.code, 0, onlyBob.stderr)
    const lines = parseLines(onlyBob.stdout)
    assert.deepEqual(lines.map((l) => [l.did, l.path?.split('/')[0]]), [[bobDid, 'app.bsky.feed.like'], [bobDid, 'app.bsky.feed.post']])
    const all = await runAtfed(['firehose', '--url', pds.publicUrl, '--cursor', '0', '--limit', '4'])
    assert.deepEqual(parseLines(all.stdout).map((l) => l.type).slice(0, 2), ['identity', 'account'])
  })

  test('--verify checks every commit against the DID documents and prints the same lines', async () => {
    const args = ['firehose', '--url', pds.publicUrl, '--cursor', '0', '--collection', 'app.bsky.feed.post', '--limit', '2']
    const [plain, verified] = await Promise.all([runAtfed(args), runAtfed([...args, '--verify', '--plc', plc.url, '--dev'])])
    assert.equal(verified.code, 0, verified.stderr)
    assert.doesNotMatch(verified.stderr, /failed verification/)
    assert.deepEqual(parseLines(verified.stdout), parseLines(plain.stdout))
  })

  test('a live tail sees a new post; SIGINT exits 0 with the resume cursor; --cursor resumes after it', { timeout: 60_000 }, async () => {
    const tail = spawnAtfed(['firehose', '--url', pds.publicUrl, '--collection', 'app.bsky.feed.post'])
    try {
      const text = `live ${Date.now()}`
      // The tail connects at some point after spawning: post until it sees one.
      const seen = tail.waitFor(new RegExp(text), 45_000)
      let n = 0
      const poster = setInterval(() => void post(alice, `${text} ${n++}`).catch(() => {}), 500)
      const line = JSON.parse(await seen.finally(() => clearInterval(poster))) as Line
      assert.equal(line.did, alice.session!.did)
      tail.proc.kill('SIGINT')
      assert.deepEqual(await tail.exit, { code: 0, signal: null })
      const resume = /resume with --cursor (\d+)/.exec(tail.stderrLines.join('\n'))
      assert.ok(resume, tail.stderrLines.join('\n'))
      const cursor = Number(resume[1])
      const later = await post(bob, 'after the stop')
      const out = await runAtfed(['firehose', '--url', pds.publicUrl, '--cursor', String(cursor), '--did', bob.session!.did, '--collection', 'app.bsky.feed.post', '--limit', '1'])
      const [next] = parseLines(out.stdout)
      assert.ok(next !== undefined && next.seq > cursor)
      assert.equal(next.cid, later.cid)
    } finally {
      tail.kill()
    }
  })

  test('a cursor in the future is one error line and exit 1', async () => {
    assertOneLineError(await runAtfed(['firehose', '--url', pds.publicUrl, '--cursor', '999999999']), 'FutureCursor')
  })

  test('bad flags are InvalidArgument', async () => {
    for (const flags of [{ collection: ['not an nsid'] }, { collection: ['app.*.post'] }, { did: ['alice'] }, { cursor: '-1' }, { cursor: 'x' }, { limit: '0' }]) {
      assert.throws(() => parseFirehoseFilter(flags), { name: 'InvalidArgument' }, JSON.stringify(flags))
    }
    assertOneLineError(await runAtfed(['firehose', '--url', pds.publicUrl, '--did', 'nope']), 'InvalidArgument')
  })

  test('--jetstream turns the filter into /subscribe query parameters', () => {
    const filter = parseFirehoseFilter({ collection: ['app.bsky.feed.post', 'app.bsky.graph.*'], did: ['did:plc:abc'], cursor: '1700000000000000' })
    const url = new URL(jetstreamUrl('http://127.0.0.1:2470', filter))
    assert.equal(url.protocol, 'ws:')
    assert.equal(url.pathname, '/subscribe')
    assert.deepEqual(url.searchParams.getAll('wantedCollections'), ['app.bsky.feed.post', 'app.bsky.graph.*'])
    assert.deepEqual(url.searchParams.getAll('wantedDids'), ['did:plc:abc'])
    assert.equal(url.searchParams.get('cursor'), '1700000000000000')
    assert.throws(() => jetstreamUrl('ftp://x', filter), { name: 'InvalidArgument' })
  })
})
