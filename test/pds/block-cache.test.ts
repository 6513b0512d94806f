/**
 * pds/repo/block-cache.ts and its place in the write path: the cache alone
 * (bytes bound with least-recently-used eviction, a durable commit's blocks
 * in and removed blocks out, `forget` hiding a DID's entries, DIDs kept
 * apart), then a PDS whose repos are written after their path blocks were
 * cached: records written, deleted and written again over cached paths
 * leave the store exact (stored = reachable blocks, record counts), and a
 * deleted account's repo (`withRepoLock` code) is gone for readers.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { after, before, describe, it } from 'node:test'
import { cidForRaw, type CID } from '../../core/data/cid.ts'
import { cidKey } from '../../core/repo/block-reader.ts'
import type { Did } from '../../core/syntax/did.ts'
import { RepoBlockCache } from '../../pds/repo/block-cache.ts'
import { checkStoredRepo } from '../helpers/pds-repo-check.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

/** No lexicon here: any record key (the test reuses keys). */
const COLLECTION = 'com.example.cachetest'
const ALICE = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did
const BOB = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb' as Did

function block(i: number, size = 10): [CID, Uint8Array] {
  const bytes = new Uint8Array(size).fill(i)
  return [cidForRaw(bytes), bytes]
}

describe('RepoBlockCache', () => {
  it('counts each entry with its overhead: a cache of small blocks holds what its bound says in real memory', async () => {
    const bytesMax = 8_000_000
    const cache = new RepoBlockCache(bytesMax)
    const scope = cache.scope(ALICE)
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    gc()
    const before = process.memoryUsage()
    for (let i = 0; i < 60_000; i++) {
      const bytes = randomBytes(130)
      cache.set(scope, cidKey(cidForRaw(bytes)), new Uint8Array(bytes))
    }
    gc()
    await new Promise((resolve) => setTimeout(resolve, 100)) // freed ArrayBuffer stores are released after the collection
    gc()
    const after = process.memoryUsage()
    const grown = after.heapUsed + after.external - before.heapUsed - before.external
    assert.ok(cache.bytes <= bytesMax)
    assert.ok(grown < 1.5 * bytesMax, `${(grown / 1e6).toFixed(1)} MB held for a ${bytesMax / 1e6} MB bound`)
    assert.ok(grown > 0.4 * bytesMax, `the cache is full: ${(grown / 1e6).toFixed(1)} MB`)
  })


  it('keeps at most bytesMax bytes, dropping the least recently used', () => {
    const cache = new RepoBlockCache(30, 0)
    const scope = cache.scope(ALICE)
    const [a, b, c] = [block(1), block(2), block(3)]
    for (const [cid, bytes] of [a, b, c]) cache.set(scope, cidKey(cid), bytes)
    assert.equal(cache.bytes, 30)
    assert.ok(cache.get(scope, cidKey(a[0]))) // a is now the most recent
    cache.set(scope, cidKey(block(4)[0]), block(4)[1])
    assert.equal(cache.bytes, 30)
    assert.equal(cache.get(scope, cidKey(b[0])), undefined)
    assert.ok(cache.get(scope, cidKey(a[0])))
    cache.set(scope, 'too big', new Uint8Array(31))
    assert.equal(cache.get(scope, 'too big'), undefined)
  })

  it('takes a durable commit in, drops its removed blocks, keeps DIDs apart, forgets a DID', () => {
    const cache = new RepoBlockCache(1_000)
    const [a, b] = [block(1), block(2)]
    cache.commit(ALICE, { newBlocks: [a], removedCids: [] })
    assert.deepEqual(cache.get(cache.scope(ALICE), cidKey(a[0])), a[1])
    assert.equal(cache.get(cache.scope(BOB), cidKey(a[0])), undefined)
    cache.commit(ALICE, { newBlocks: [b], removedCids: [a[0]] })
    assert.equal(cache.get(cache.scope(ALICE), cidKey(a[0])), undefined)
    cache.forget(ALICE)
    assert.equal(cache.get(cache.scope(ALICE), cidKey(b[0])), undefined)
    cache.commit(ALICE, { newBlocks: [a], removedCids: [] })
    assert.deepEqual(cache.get(cache.scope(ALICE), cidKey(a[0])), a[1])
  })
})

describe('PDS writes with the block cache', () => {
  let plc: TestPlc
  let pds: TestPds

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { adminPassword: 'admin-secret', rateLimitsEnabled: false } })
  })
  after(async () => {
    await pds?.stop()
    await plc?.stop()
  })

  const post = (did: string, token: string, text: string, rkey?: string) =>
    xrpc(pds.publicUrl, rkey === undefined ? 'com.atproto.repo.createRecord' : 'com.atproto.repo.putRecord', {
      token,
      body: { repo: did, collection: COLLECTION, ...(rkey === undefined ? {} : { rkey }), record: { $type: COLLECTION, text, createdAt: '2025-01-01T00:00:00.000Z' } },
    })

  it('writes, deletes and rewrites the same records over cached paths; the store stays exact', { timeout: 30_000 }, async () => {
    const alice = await createTestAccount(pds.publicUrl, 'bc-alice.test')
    for (let i = 0; i < 30; i++) {
      const res = await post(alice.did, alice.accessJwt, `post ${i % 3}`, `k${i % 7}`)
      assert.equal(res.status, 200, JSON.stringify(res.body))
    }
    for (let i = 0; i < 7; i += 2) {
      const del = await xrpc(pds.publicUrl, 'com.atproto.repo.deleteRecord', { token: alice.accessJwt, body: { repo: alice.did, collection: COLLECTION, rkey: `k${i}` } })
      assert.equal(del.status, 200)
    }
    for (let i = 0; i < 7; i++) assert.equal((await post(alice.did, alice.accessJwt, 'post 1', `k${i}`)).status, 200)
    await checkStoredRepo(pds.ctx, alice.did as Did)
  })

  it('serves nothing of a deleted account\'s repo after its blocks were cached', { timeout: 30_000 }, async () => {
    const bob = await createTestAccount(pds.publicUrl, 'bc-bob.test', { password: 'bob-password-1' })
    for (let i = 0; i < 10; i++) assert.equal((await post(bob.did, bob.accessJwt, `post ${i}`)).status, 200)
    const admin = `Basic ${Buffer.from('admin:admin-secret').toString('base64')}`
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.admin.deleteAccount', { auth: admin, body: { did: bob.did } })).status, 200)
    assert.equal(pds.ctx.repos.getHead(bob.did as Did), null)
    const listed = await xrpc(pds.publicUrl, 'com.atproto.repo.listRecords', { params: { repo: bob.did, collection: COLLECTION } })
    assert.notEqual(listed.status, 200)
  })
})
