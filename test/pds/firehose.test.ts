/**
 * subscribeRepos from a raw `ws` consumer: a new account is announced as
 * #identity, #account{active}, #commit (first commit, since null, no
 * prevData) and #sync, in that order and with consecutive seqs; every later
 * write is exactly one #commit that verifies on its own by inversion
 * (core/repo/verify-commit-event.ts) against the account's key, chains to
 * the previous one (since = previous rev, prevData = previous data) and is
 * cross-checked with @atproto/repo (its MST inverts the ops to prevData,
 * `verifyProofs` accepts every op), and a no-op put emits nothing. Cursor replay gives the same frames.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { verifyProofs, type RecordCidClaim } from '@atproto/repo'
import WebSocket from 'ws'
import { decodeCommit } from '../../core/repo/commit.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { verifyCommitEvent, verifySyncEvent } from '../../core/repo/verify-commit-event.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { StreamMessage } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import { refInvert } from '../helpers/repo-writes.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

type Collector = { messages: StreamMessage[]; waitFor(n: number): Promise<StreamMessage[]>; close(): void }

function subscribe(pds: TestPds, cursor?: number): Promise<Collector> {
  const url = `${pds.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos${cursor === undefined ? '' : `?cursor=${cursor}`}`
  const ws = new WebSocket(url)
  const messages: StreamMessage[] = []
  let waiter: { n: number; resolve: () => void } | null = null
  ws.on('message', (data: Buffer) => {
    const frame = parseFrame(new Uint8Array(data))
    assert.equal(frame.kind, 'message')
    if (frame.kind === 'message') messages.push(frame.message)
    if (waiter !== null && messages.length >= waiter.n) waiter.resolve()
  })
  const collector: Collector = {
    messages,
    waitFor: (n) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${n} messages`)), 5_000)
        const done = () => {
          clearTimeout(timer)
          resolve(messages.slice(0, n))
        }
        if (messages.length >= n) done()
        else waiter = { n, resolve: done }
      }),
    close: () => ws.close(),
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(collector))
    ws.once('error', reject)
  })
}

/**
 * The same #commit through @atproto/repo: its MST, loaded from the event's
 * blocks only, undoes the ops back to `prevData`, and `verifyProofs`
 * (signature + inclusion/exclusion proofs) accepts every op as a claim.
 */
async function crossCheck(event: Extract<StreamMessage, { t: '#commit' }>, key: string): Promise<void> {
  const data = decodeCommit(decodeCarWithSingleRoot(event.blocks).blocks.get(event.commit) as Uint8Array).data
  assert.equal(await refInvert(event.blocks, data, event.ops), event.prevData?.toString(), '@atproto/repo inverts to prevData')
  const claims = event.ops.map((op) => {
    const [collection, rkey] = op.path.split('/') as [string, string]
    return { collection, rkey, cid: (op.cid as unknown as RecordCidClaim['cid']) ?? null }
  })
  const proofs = await verifyProofs(event.blocks, claims, event.repo, key)
  assert.equal(proofs.unverified.length, 0, '@atproto/repo verifies every op')
  assert.equal(proofs.verified.length, event.ops.length)
}

async function signingKey(pds: TestPds, did: string): Promise<string> {
  const account = await pds.ctx.accounts.get(did as Did)
  assert.ok(account)
  return pds.ctx.signingKeys.get(account).publicKey.didKey
}

describe('PDS firehose (subscribeRepos)', () => {
  let plc: TestPlc
  let pds: TestPds

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('announces a new account, then one verifiable #commit per write', async () => {
    const live = await subscribe(pds)
    const alice = await createTestAccount(pds.publicUrl, 'alice.test')
    const key = await signingKey(pds, alice.did)
    const first = await live.waitFor(4)
    assert.deepEqual(first.map((m) => m.t), ['#identity', '#account', '#commit', '#sync'])
    const [identity, account, commit, sync] = first
    assert.ok(identity?.t === '#identity' && identity.handle === 'alice.test' && identity.did === alice.did)
    assert.ok(account?.t === '#account' && account.active && account.status === null)
    assert.ok(commit?.t === '#commit' && sync?.t === '#sync')
    assert.deepEqual([identity.seq + 1, identity.seq + 2, identity.seq + 3], [account.seq, commit.seq, sync.seq])
    assert.equal(commit.since, null)
    assert.equal(commit.prevData, null)
    assert.deepEqual(commit.ops, [])
    verifyCommitEvent(commit, { key })
    const synced = verifySyncEvent(sync, { key })
    assert.ok(synced.commitCid.equals(commit.commit))

    const auth = { token: alice.accessJwt }
    const record = (text: string) => ({ $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() })
    const created = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', { ...auth, body: { repo: alice.did, collection: 'app.bsky.feed.post', record: record('one') } })
    const rkey = String(created.body.uri).split('/').pop()
    await xrpc(pds.publicUrl, 'com.atproto.repo.putRecord', { ...auth, body: { repo: alice.did, collection: 'app.bsky.feed.post', rkey, record: record('two') } })
    const writes = Array.from({ length: 3 }, (_, i) => ({ $type: 'com.atproto.repo.applyWrites#create', collection: 'app.bsky.feed.post', value: record(`batch ${i}`) }))
    await xrpc(pds.publicUrl, 'com.atproto.repo.applyWrites', { ...auth, body: { repo: alice.did, writes } })
    await xrpc(pds.publicUrl, 'com.atproto.repo.deleteRecord', { ...auth, body: { repo: alice.did, collection: 'app.bsky.feed.post', rkey } })
    const all = await live.waitFor(8)
    const commits = all.slice(4)
    assert.deepEqual(commits.map((m) => m.t), ['#commit', '#commit', '#commit', '#commit'])
    assert.deepEqual(commits.map((m) => (m.t === '#commit' ? m.ops.map((op) => op.action).join(',') : '')), ['create', 'update', 'create,create,create', 'delete'])
    let previous = commit
    for (const event of commits) {
      assert.ok(event.t === '#commit')
      verifyCommitEvent(event, { key })
      assert.equal(event.since, previous.rev)
      const prevCommit = decodeCommit(decodeCarWithSingleRoot(previous.blocks).blocks.get(previous.commit) as Uint8Array)
      assert.ok(event.prevData?.equals(prevCommit.data))
      assert.equal(event.seq, previous.seq + (previous === commit ? 2 : 1))
      await crossCheck(event, key)
      previous = event
    }
    // A put of the identical record changes nothing and emits nothing.
    const put = await xrpc(pds.publicUrl, 'com.atproto.repo.putRecord', { ...auth, body: { repo: alice.did, collection: 'app.bsky.actor.profile', rkey: 'self', record: { $type: 'app.bsky.actor.profile', displayName: 'A' } } })
    const same = await xrpc(pds.publicUrl, 'com.atproto.repo.putRecord', { ...auth, body: { repo: alice.did, collection: 'app.bsky.actor.profile', rkey: 'self', record: { $type: 'app.bsky.actor.profile', displayName: 'A' } } })
    assert.equal(same.status, 200)
    assert.equal(same.body.cid, put.body.cid)
    assert.equal(same.body.commit, undefined)
    await live.waitFor(9)
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(live.messages.length, 9)
    live.close()

    // Replay from cursor 0 gives the same events in the same order.
    const replay = await subscribe(pds, 0)
    const replayed = await replay.waitFor(9)
    assert.deepEqual(replayed.map((m) => ('seq' in m ? m.seq : -1)), live.messages.map((m) => ('seq' in m ? m.seq : -1)))
    replay.close()
  })

  it('answers a plain GET on the stream path with 426 and a future cursor with FutureCursor', async () => {
    const res = await fetch(`${pds.url}/xrpc/com.atproto.sync.subscribeRepos`)
    assert.equal(res.status, 426)
    const ws = new WebSocket(`${pds.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos?cursor=999999`)
    const frame = await new Promise<ReturnType<typeof parseFrame>>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(parseFrame(new Uint8Array(data))))
      ws.once('error', reject)
    })
    assert.deepEqual(frame.kind === 'error' ? frame.error : frame.kind, 'FutureCursor')
    ws.close()
  })
})

describe('PDS firehose cursors and the backfill window', () => {
  let plc: TestPlc
  let pds: TestPds
  let offsetMs = 0
  const WINDOW_MS = 10 * 60_000

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, now: () => Date.now() + offsetMs, config: { backfillWindowMs: WINDOW_MS } })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('cursor N replays from N+1; events older than the window are trimmed and an older cursor gets #info OutdatedCursor, then the rest', { timeout: 30_000 }, async () => {
    const alice = await createTestAccount(pds.publicUrl, 'old.test')
    const post = (text: string) =>
      xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
        token: alice.accessJwt,
        body: { repo: alice.did, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() } },
      })
    await post('old one')
    await post('old two')
    const seqs = (messages: StreamMessage[]) => messages.map((m) => ('seq' in m ? m.seq : -1))
    const all = await subscribe(pds, 0)
    const stored = seqs(await all.waitFor(6)) as number[] // #identity #account #commit #sync, two #commits
    all.close()
    const fromThird = await subscribe(pds, stored[2]!)
    assert.deepEqual(seqs(await fromThird.waitFor(3)), stored.slice(3), 'cursor = seq N: events after N')
    fromThird.close()

    offsetMs += 2 * WINDOW_MS
    const trimmed = await pds.ctx.events.trim(pds.config.backfillWindowMs) // what the PDS's trim timer runs
    assert.equal(trimmed, 6)
    assert.equal((await post('new one')).status, 200)
    const late = await subscribe(pds, 0)
    const got = await late.waitFor(2)
    const [info, next] = got
    assert.ok(info?.t === '#info' && info.name === 'OutdatedCursor')
    assert.ok(next?.t === '#commit' && next.seq === stored[5]! + 1, 'then the events still stored')
    late.close()
  })
})
