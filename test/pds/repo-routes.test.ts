/**
 * com.atproto.repo.* over HTTP, by error name and status: record
 * validation (InvalidRecord naming the path, `validate` modes, record-key
 * types), swaps (InvalidSwap), no-op puts and deletes, applyWrites limits
 * and results, other people's repos, inactive accounts, listRecords paging
 * both ways, describeRepo, and a repo with two paths sharing one record
 * block that stays whole after one of them is deleted.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { verifyRepoCar } from '@atproto/repo'
import { XRPC_JSON_BODY_BYTES_MAX, XRPC_WRITE_JSON_BODY_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const POST = 'app.bsky.feed.post'
const post = (text: unknown) => ({ $type: POST, text, createdAt: new Date().toISOString() })

describe('PDS repo routes', () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: Awaited<ReturnType<typeof createTestAccount>>
  let bob: Awaited<ReturnType<typeof createTestAccount>>

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    alice = await createTestAccount(pds.publicUrl, 'alice.test')
    bob = await createTestAccount(pds.publicUrl, 'bob.test')
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const call = (nsid: string, body: Record<string, unknown>, token = alice.accessJwt) =>
    xrpc(pds.publicUrl, `com.atproto.repo.${nsid}`, { token, body: { repo: alice.did, ...body } })
  const get = (nsid: string, params: Record<string, string>) => xrpc(pds.publicUrl, `com.atproto.repo.${nsid}`, { params })

  it('refuses bad records with 400 InvalidRecord naming the path', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['wrong type', { collection: POST, record: post(123) }, /Record\/text/],
      ['missing field', { collection: POST, record: { $type: POST, text: 'x' } }, /Record\/createdAt/],
      ['$type mismatch', { collection: POST, record: { ...post('x'), $type: 'app.bsky.feed.like' } }, /\$type/],
      ['float', { collection: POST, record: { ...post('x'), langs: ['en'], extra: 1.5 } }, /float|integer/],
      ['profile rkey must be self', { collection: 'app.bsky.actor.profile', rkey: 'other', record: { $type: 'app.bsky.actor.profile' } }, /Record key/],
      ['unknown lexicon with validate: true', { collection: 'com.example.thing', validate: true, record: { a: 1 } }, /com\.example\.thing/],
    ]
    for (const [name, body, message] of cases) {
      const res = await call('createRecord', body)
      assert.equal(res.status, 400, name)
      assert.equal(res.body.error, 'InvalidRecord', name)
      assert.match(res.body.message, message, name)
    }
  })

  it('answers 413 PayloadTooLarge one byte past the JSON body limits (1,000,000 for record writes, 150 KB otherwise)', { timeout: 30_000 }, async () => {
    const sized = (bytes: number, extra: Record<string, unknown> = {}) => {
      const shell = { repo: alice.did, collection: 'com.example.big', validate: false, ...extra, record: { data: '' } }
      const body = { ...shell, record: { data: 'x'.repeat(bytes - JSON.stringify(shell).length) } }
      assert.equal(JSON.stringify(body).length, bytes)
      return body
    }
    const send = (nsid: string, body: unknown) =>
      fetch(`${pds.publicUrl}/xrpc/${nsid}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.accessJwt}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { error: string } }))
    // The record block stays under RECORD_BLOCK_BYTES_MAX: the body limit is what is tested.
    const atLimit = await send('com.atproto.repo.createRecord', sized(XRPC_WRITE_JSON_BODY_BYTES_MAX - 1_000))
    assert.equal(atLimit.status, 200, JSON.stringify(atLimit.body))
    const over = await send('com.atproto.repo.createRecord', sized(XRPC_WRITE_JSON_BODY_BYTES_MAX + 1))
    assert.deepEqual([over.status, over.body.error], [413, 'PayloadTooLarge'])
    const putOver = await send('com.atproto.repo.putRecord', sized(XRPC_WRITE_JSON_BODY_BYTES_MAX + 1, { rkey: 'big' }))
    assert.deepEqual([putOver.status, putOver.body.error], [413, 'PayloadTooLarge'])
    const loginOver = { identifier: 'alice.test', password: 'x'.repeat(XRPC_JSON_BODY_BYTES_MAX) }
    const login = await send('com.atproto.server.createSession', loginOver)
    assert.deepEqual([login.status, login.body.error], [413, 'PayloadTooLarge'])
    const loginAt = { identifier: 'alice.test', password: 'x'.repeat(XRPC_JSON_BODY_BYTES_MAX - 100) }
    assert.equal((await send('com.atproto.server.createSession', loginAt)).status, 401, 'just under the limit: read, then refused as a wrong login')
  })

  it('validates known lexicons by default, passes unknown ones, skips with validate: false', async () => {
    const unknown = await call('createRecord', { collection: 'com.example.thing', record: { a: 1 } })
    assert.equal(unknown.status, 200)
    assert.equal(unknown.body.validationStatus, 'unknown')
    const known = await call('createRecord', { collection: POST, record: post('fine') })
    assert.equal(known.body.validationStatus, 'valid')
    const skipped = await call('createRecord', { collection: POST, validate: false, record: post(42) })
    assert.equal(skipped.status, 200)
    assert.equal(skipped.body.validationStatus, undefined)
    const dup = await call('createRecord', { collection: POST, rkey: String(known.body.uri).split('/').pop(), record: post('again') })
    assert.equal(dup.status, 400)
  })

  it('checks swapCommit and swapRecord (InvalidSwap)', async () => {
    const head = await xrpc(pds.publicUrl, 'com.atproto.sync.getLatestCommit', { params: { did: alice.did } })
    const ok = await call('createRecord', { collection: POST, record: post('swap ok'), swapCommit: head.body.cid })
    assert.equal(ok.status, 200)
    const stale = await call('createRecord', { collection: POST, record: post('stale'), swapCommit: head.body.cid })
    assert.equal(stale.status, 400)
    assert.equal(stale.body.error, 'InvalidSwap')
    const rkey = String(ok.body.uri).split('/').pop()
    const mustNotExist = await call('putRecord', { collection: POST, rkey, record: post('x'), swapRecord: null })
    assert.equal(mustNotExist.body.error, 'InvalidSwap')
    const wrongCid = await call('putRecord', { collection: POST, rkey, record: post('x'), swapRecord: head.body.cid })
    assert.equal(wrongCid.body.error, 'InvalidSwap')
    const rightCid = await call('putRecord', { collection: POST, rkey, record: post('updated'), swapRecord: ok.body.cid })
    assert.equal(rightCid.status, 200)
    const delWrong = await call('deleteRecord', { collection: POST, rkey, swapRecord: ok.body.cid })
    assert.equal(delWrong.body.error, 'InvalidSwap')
  })

  it('answers no-op puts and deletes of missing records without a commit', async () => {
    const record = { $type: 'app.bsky.actor.profile', displayName: 'Alice' }
    const first = await call('putRecord', { collection: 'app.bsky.actor.profile', rkey: 'self', record })
    assert.ok(first.body.commit)
    const again = await call('putRecord', { collection: 'app.bsky.actor.profile', rkey: 'self', record })
    assert.equal(again.status, 200)
    assert.equal(again.body.cid, first.body.cid)
    assert.equal(again.body.commit, undefined)
    const del = await call('deleteRecord', { collection: POST, rkey: '3jzfcijpj2z2a' })
    assert.equal(del.status, 200)
    assert.deepEqual(del.body, {})
  })

  it('applies up to 200 writes in one commit, with one result per write', async () => {
    const tooMany = Array.from({ length: 201 }, () => ({ $type: 'com.atproto.repo.applyWrites#create', collection: POST, value: post('x') }))
    const refused = await call('applyWrites', { writes: tooMany })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'InvalidRequest')
    const made = await call('createRecord', { collection: POST, record: post('to update') })
    const rkey = String(made.body.uri).split('/').pop()
    const res = await call('applyWrites', {
      writes: [
        { $type: 'com.atproto.repo.applyWrites#create', collection: POST, rkey: '3kaaaaaaaaaa2', value: post('created') },
        { $type: 'com.atproto.repo.applyWrites#update', collection: POST, rkey, value: post('updated') },
        { $type: 'com.atproto.repo.applyWrites#delete', collection: 'com.example.thing', rkey: 'nope' },
      ],
    })
    assert.equal(res.status, 400, 'deleting a missing record inside applyWrites fails the batch')
    const ok = await call('applyWrites', {
      writes: [
        { $type: 'com.atproto.repo.applyWrites#create', collection: POST, rkey: '3kaaaaaaaaaa2', value: post('created') },
        { $type: 'com.atproto.repo.applyWrites#update', collection: POST, rkey, value: post('updated') },
        { $type: 'com.atproto.repo.applyWrites#delete', collection: POST, rkey: '3kaaaaaaaaaa2' === rkey ? 'x' : rkey },
      ].slice(0, 2),
    })
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.body.results.map((r: { $type: string }) => r.$type), [
      'com.atproto.repo.applyWrites#createResult',
      'com.atproto.repo.applyWrites#updateResult',
    ])
    assert.equal(ok.body.results[0].uri, `at://${alice.did}/${POST}/3kaaaaaaaaaa2`)
    assert.ok(ok.body.commit.rev)
  })

  it("refuses writes to someone else's repo and from inactive accounts", async () => {
    const foreign = await call('createRecord', { collection: POST, record: post('x') }, bob.accessJwt)
    assert.equal(foreign.status, 401)
    assert.equal(foreign.body.error, 'AuthenticationRequired')
    const account = await pds.ctx.accounts.get(bob.did as Did)
    assert.ok(account)
    await pds.ctx.db.batch(pds.ctx.accounts.putOps({ ...account, status: 'deactivated' }))
    try {
      const res = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', { token: bob.accessJwt, body: { repo: bob.did, collection: POST, record: post('x') } })
      assert.equal(res.status, 401)
      assert.equal(res.body.error, 'AccountDeactivated')
      const status = await xrpc(pds.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did: bob.did } })
      assert.deepEqual(status.body, { did: bob.did, active: false, status: 'deactivated' })
    } finally {
      await pds.ctx.db.batch(pds.ctx.accounts.putOps(account))
    }
  })

  it('reads records: getRecord, listRecords pages both ways, describeRepo', async () => {
    const collection = 'com.example.page'
    const rkeys = ['3kaaaaaaaaab2', '3kaaaaaaaaac2', '3kaaaaaaaaad2', '3kaaaaaaaaae2', '3kaaaaaaaaaf2']
    for (const rkey of rkeys) await call('createRecord', { collection, rkey, record: { n: rkey } })
    const pages = async (reverse: boolean): Promise<string[]> => {
      const seen: string[] = []
      let cursor: string | undefined
      for (let i = 0; i < 5; i++) {
        const res = await get('listRecords', { repo: 'alice.test', collection, limit: '2', reverse: String(reverse), ...(cursor ? { cursor } : {}) })
        assert.equal(res.status, 200)
        seen.push(...res.body.records.map((r: { uri: string }) => r.uri.split('/').pop()))
        cursor = res.body.cursor
        if (cursor === undefined) break
      }
      return seen
    }
    assert.deepEqual(await pages(false), [...rkeys].reverse())
    assert.deepEqual(await pages(true), rkeys)
    const rec = await get('getRecord', { repo: alice.did, collection, rkey: rkeys[0] as string })
    assert.deepEqual(rec.body.value, { $type: collection, n: rkeys[0] })
    const missing = await get('getRecord', { repo: alice.did, collection, rkey: '3kaaaaaaaaaz2' })
    assert.equal(missing.status, 400)
    assert.equal(missing.body.error, 'RecordNotFound')
    const wrongCid = await get('getRecord', { repo: alice.did, collection, rkey: rkeys[0] as string, cid: rec.body.cid.replace(/.$/, 'a') })
    assert.equal(wrongCid.body.error, 'RecordNotFound')
    const badLimit = await get('listRecords', { repo: alice.did, collection, limit: '101' })
    assert.equal(badLimit.status, 400)
    const described = await get('describeRepo', { repo: 'alice.test' })
    assert.equal(described.status, 200)
    assert.equal(described.body.handleIsCorrect, true)
    assert.ok(described.body.collections.includes(collection))
    assert.ok(described.body.collections.includes(POST))
    assert.deepEqual([...described.body.collections].sort(), described.body.collections)
    assert.equal((await get('describeRepo', { repo: 'nobody.test' })).body.error, 'InvalidRequest')
  })

  it('serializes concurrent writes to one repo into a chain of commits', async () => {
    const before = pds.ctx.events.lastSeq()
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('createRecord', { collection: 'com.example.burst', record: { i } })),
    )
    assert.deepEqual(results.map((r) => r.status), Array(20).fill(200))
    const { parseFrame } = await import('../../core/stream/event-parse.ts')
    const commits = []
    for await (const entry of pds.ctx.events.read(before)) {
      const frame = parseFrame(entry.frameBytes)
      if (frame.kind === 'message' && frame.message.t === '#commit') commits.push(frame.message)
    }
    assert.equal(commits.length, 20)
    for (let i = 1; i < commits.length; i++) assert.equal(commits[i]?.since, commits[i - 1]?.rev)
    const listed = await get('listRecords', { repo: alice.did, collection: 'com.example.burst', limit: '100' })
    assert.equal(listed.body.records.length, 20)
  })

  it('refuses an oversized write body with 413 PayloadTooLarge', async () => {
    const res = await call('createRecord', { collection: 'com.example.big', record: { blob: 'x'.repeat(1_000_100) } })
    assert.equal(res.status, 413)
    assert.equal(res.body.error, 'PayloadTooLarge')
  })

  it('keeps a record block that another path still uses', async () => {
    const same = { $type: 'com.example.same', v: 'identical' }
    const a = await call('putRecord', { collection: 'com.example.same', rkey: 'a', record: same })
    const b = await call('putRecord', { collection: 'com.example.same', rkey: 'b', record: same })
    assert.equal(a.body.cid, b.body.cid)
    await call('deleteRecord', { collection: 'com.example.same', rkey: 'a' })
    const still = await get('getRecord', { repo: alice.did, collection: 'com.example.same', rkey: 'b' })
    assert.equal(still.status, 200)
    assert.deepEqual(still.body.value, same)
    await call('deleteRecord', { collection: 'com.example.same', rkey: 'b' })
    assert.equal(await pds.ctx.refs.count(alice.did as Did, (await import('../../core/data/cid.ts')).parseCid(a.body.cid)), 0)
    const car = new Uint8Array(await (await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${alice.did}`)).arrayBuffer())
    const account = await pds.ctx.accounts.get(alice.did as Did)
    assert.ok(account)
    await verifyRepoCar(car, alice.did, pds.ctx.signingKeys.get(account).publicKey.didKey)
  })
})
