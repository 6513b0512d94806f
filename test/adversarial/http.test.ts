/**
 * Adversarial cases §4.9 (HTTP and API DoS), over HTTP to one PDS with its
 * rate limits on: hostile list limits and cursors, parameter floods and
 * huge URLs, a createSession flood against one identifier, 100 parallel
 * writes to one repo, and applyWrites batches that all touch one rkey.
 * Each is refused (or clamped) by name, leaves the repo consistent, and the
 * PDS keeps answering.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parseFrame } from '../../core/stream/event-parse.ts'
import { compareTids, parseTid } from '../../core/syntax/tid.ts'
import { COMMIT_OPS_MAX, PDS_LIST_RECORDS_LIMIT_MAX, RATE_LIMIT_CREATE_SESSION_5MIN } from '../../core/limits.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const T = { timeout: 30_000 }

describe('adversarial §4.9: HTTP and API DoS (PDS over HTTP, rate limits on)', { timeout: 120_000 }, () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: { did: string; accessJwt: string }
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { rateLimitsEnabled: true } })
    alice = await createTestAccount(pds.publicUrl, 'http-case.test')
    const writes = Array.from({ length: 30 }, (_, i) => ({ $type: 'com.atproto.repo.applyWrites#create', collection: 'com.example.item', value: { i } }))
    const applied = await xrpc(pds.publicUrl, 'com.atproto.repo.applyWrites', { token: alice.accessJwt, body: { repo: alice.did, writes } })
    assert.equal(applied.status, 200, JSON.stringify(applied.body))
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const answers = async () => assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.describeServer')).status, 200)

  it('4.9.1 listRecords / listRepos / listBlobs with limit=1000000 or a negative limit → InvalidRequest; malformed cursors refused or paged, never a 500', T, async () => {
    const lists: Array<[string, Record<string, string>]> = [
      ['com.atproto.repo.listRecords', { repo: alice.did, collection: 'com.example.item' }],
      ['com.atproto.sync.listRepos', {}],
      ['com.atproto.sync.listBlobs', { did: alice.did }],
    ]
    for (const [nsid, params] of lists) {
      for (const bad of [{ limit: '1000000' }, { limit: '-1' }, { limit: '0' }, { limit: '1e3' }]) {
        const reply = await xrpc(pds.publicUrl, nsid, { params: { ...params, ...bad } })
        assert.equal(reply.status, 400, `${nsid} ${JSON.stringify(bad)}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`)
        assert.equal(reply.body.error, 'InvalidRequest')
      }
      // A malformed cursor is refused by name, or (listRecords: a cursor is an rkey position) pages from
      // where it sorts: an empty page. Never a 500.
      for (const cursor of ['\u0000\u0000' + 'x'.repeat(5_000), '%%%', '-1']) {
        const reply = await xrpc(pds.publicUrl, nsid, { params: { ...params, cursor } })
        const refusedByName = reply.status === 400 && reply.body.error === 'InvalidRequest'
        assert.ok(refusedByName || reply.status === 200, `${nsid} cursor ${cursor.slice(0, 10)}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`)
      }
      const ok = await xrpc(pds.publicUrl, nsid, { params: { ...params, limit: String(PDS_LIST_RECORDS_LIMIT_MAX) } })
      assert.equal(ok.status, 200, `${nsid} at the largest limit`)
    }
    // A well-formed cursor that names nothing pages from there: an empty or later page, never an error.
    const after = await xrpc(pds.publicUrl, 'com.atproto.repo.listRecords', { params: { repo: alice.did, collection: 'com.example.item', cursor: 'zzzzzzzzzzzzz' } })
    assert.equal(after.status, 200)
    await answers()
  })

  it('4.9.2 a parameter repeated 10,000 times, a 1 MB URL, deeply nested brackets: refused, the PDS answers', T, async () => {
    const repeated = new URL('/xrpc/com.atproto.repo.listRecords', pds.publicUrl)
    repeated.searchParams.set('repo', alice.did)
    for (let i = 0; i < 10_000; i++) repeated.searchParams.append('collection', 'com.example.item')
    const flood = await fetch(repeated)
    assert.ok([400, 414, 431].includes(flood.status), `repeated: ${flood.status}`)
    await flood.arrayBuffer()
    const huge = await fetch(`${pds.publicUrl}/xrpc/com.atproto.server.describeServer?x=${'a'.repeat(1_000_000)}`)
    assert.ok([400, 414, 431].includes(huge.status), `1 MB URL: ${huge.status}`)
    await huge.arrayBuffer()
    const nested = `${'a'.repeat(1)}${'[b]'.repeat(2_000)}`
    const brackets = await xrpc(pds.publicUrl, 'com.atproto.repo.listRecords', { params: { repo: alice.did, collection: 'com.example.item', [nested]: '1' } })
    assert.ok([200, 400].includes(brackets.status), `brackets: ${brackets.status}`) // no qs parsing: an unknown plain name
    assert.equal(({} as Record<string, unknown>)['b'], undefined)
    await answers()
  })

  it(`4.9.3 createSession floods against one identifier: the ${RATE_LIMIT_CREATE_SESSION_5MIN.points + 1}th attempt from one address is 429`, T, async () => {
    // The bucket is identifier + IP, as the reference PDS: not per identifier alone, which would let
    // anyone lock an account out. Rotating addresses is not reproducible on loopback.
    let last = 0
    for (let i = 0; i <= RATE_LIMIT_CREATE_SESSION_5MIN.points; i++) {
      const reply = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'http-case.test', password: `wrong-${i}` } })
      last = reply.status
      if (i < RATE_LIMIT_CREATE_SESSION_5MIN.points) assert.equal(reply.status, 401, `attempt ${i}: ${JSON.stringify(reply.body)}`)
      else assert.equal(reply.body.error, 'RateLimitExceeded')
    }
    assert.equal(last, 429)
    const other = await xrpc(pds.publicUrl, 'com.atproto.server.createSession', { body: { identifier: 'someone-else.test', password: 'x' } })
    assert.notEqual(other.status, 429, 'another identifier is not affected')
    await answers()
  })

  it('4.9.4 100 parallel createRecord calls: all land, one commit each, revs strictly increasing in firehose order', T, async () => {
    const before = pds.ctx.events.lastSeq()
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', { token: alice.accessJwt, body: { repo: alice.did, collection: 'com.example.burst', record: { i } } }),
      ),
    )
    assert.deepEqual(results.map((r) => r.status), Array(100).fill(200))
    const commits: Array<{ rev: string; since: string | null }> = []
    for await (const entry of pds.ctx.events.read(before)) {
      const frame = parseFrame(entry.frameBytes)
      if (frame.kind === 'message' && frame.message.t === '#commit') commits.push(frame.message as never)
    }
    assert.equal(commits.length, 100, 'no lost and no extra commits')
    for (let i = 1; i < commits.length; i++) {
      assert.ok(compareTids(parseTid(commits[i]!.rev), parseTid(commits[i - 1]!.rev)) > 0, 'revs increase in seq order')
      assert.equal(commits[i]!.since, commits[i - 1]!.rev, 'each commit chains on the one before')
    }
    const revs = new Set(results.map((r) => r.body.commit.rev))
    assert.equal(revs.size, 100, 'no duplicate revs')
    assert.equal(pds.ctx.repos.getHead(alice.did as never)?.rev, commits.at(-1)!.rev)
  })

  it(`4.9.5 applyWrites with ${COMMIT_OPS_MAX} ops on one rkey: refused whole by name, nothing committed`, T, async () => {
    const head = pds.ctx.repos.getHead(alice.did as never)
    const seq = pds.ctx.events.lastSeq()
    const rkey = '3kaaaaaaaaaa2'
    const sameCreates = Array.from({ length: COMMIT_OPS_MAX }, (_, i) => ({ $type: 'com.atproto.repo.applyWrites#create', collection: 'com.example.same', rkey, value: { i } }))
    const createThenUpdates = sameCreates.map((w, i) => (i === 0 ? w : { ...w, $type: 'com.atproto.repo.applyWrites#update' }))
    const createThenDeletes = sameCreates.map((w, i) => (i === 0 ? w : { $type: 'com.atproto.repo.applyWrites#delete', collection: w.collection, rkey }))
    for (const writes of [sameCreates, createThenUpdates, createThenDeletes]) {
      const reply = await xrpc(pds.publicUrl, 'com.atproto.repo.applyWrites', { token: alice.accessJwt, body: { repo: alice.did, writes } })
      assert.equal(reply.status, 400, JSON.stringify(reply.body).slice(0, 200))
      assert.ok(['DuplicatePath'].includes(reply.body.error), JSON.stringify(reply.body).slice(0, 200))
      assert.deepEqual(pds.ctx.repos.getHead(alice.did as never), head, 'nothing committed')
      assert.equal(pds.ctx.events.lastSeq(), seq, 'no event')
    }
    await answers()
  })
})
