/**
 * Sync extras against @atproto/repo as the oracle: sync.getRecord proof
 * CARs (inclusion and exclusion proofs verify with `verifyProofs`, the
 * record with `verifyRecords`), sync.getBlocks (no root, exact blocks,
 * `BlockNotFound`, the CID cap), and getRepo `since` (a diff that, applied
 * to the repo at `since`, verifies with `verifyDiffCar` and gives exactly
 * the later writes; deleted records' blocks absent; the full repo when the
 * index cannot answer; an empty diff at the head).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CarReader } from '@ipld/car'
import { MemoryBlockstore, Repo, readCarWithRoot, verifyDiffCar, verifyProofs, verifyRecords } from '@atproto/repo'
import { parseCid } from '../../core/data/cid.ts'
import { PDS_GET_BLOCKS_CIDS_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

async function getCar(base: string, nsid: string, params: Record<string, string | string[]>): Promise<{ status: number; bytes: Uint8Array; body: any }> {
  const url = new URL(`/xrpc/${nsid}`, base)
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one)
  const res = await fetch(url)
  const bytes = new Uint8Array(await res.arrayBuffer())
  if (res.status !== 200) return { status: res.status, bytes, body: JSON.parse(new TextDecoder().decode(bytes)) }
  assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.car')
  return { status: res.status, bytes, body: null }
}

async function blockCids(car: Uint8Array): Promise<{ roots: string[]; cids: string[] }> {
  const reader = await CarReader.fromBytes(car)
  const cids: string[] = []
  for await (const block of reader.blocks()) cids.push(block.cid.toString())
  return { roots: (await reader.getRoots()).map(String), cids }
}

describe('sync extras', () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: Awaited<ReturnType<typeof createTestAccount>>
  let signingKey: string
  const post = async (text: string) => {
    const res = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
      token: alice.accessJwt,
      body: { repo: alice.did, collection: 'app.bsky.feed.post', record: { text, createdAt: new Date().toISOString() } },
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body as { uri: string; cid: string; commit: { cid: string; rev: string } }
  }
  const rkeyOf = (uri: string) => uri.split('/').pop() as string

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    alice = await createTestAccount(pds.publicUrl, 'alice.test')
    const account = await pds.ctx.accounts.get(alice.did as Did)
    signingKey = pds.ctx.signingKeys.get(account!).publicKey.didKey
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('getRecord: a proof CAR for a present record and for a missing one', async () => {
    const posts = []
    for (let i = 0; i < 20; i++) posts.push(await post(`post ${i}`))
    const target = posts[7]!
    const present = await getCar(pds.publicUrl, 'com.atproto.sync.getRecord', { did: alice.did, collection: 'app.bsky.feed.post', rkey: rkeyOf(target.uri) })
    assert.equal(present.status, 200)
    const claim = { collection: 'app.bsky.feed.post', rkey: rkeyOf(target.uri), cid: parseCid(target.cid) }
    const checked = await verifyProofs(present.bytes, [claim], alice.did, signingKey)
    assert.equal(checked.verified.length, 1)
    const wrong = await verifyProofs(present.bytes, [{ ...claim, cid: parseCid(posts[8]!.cid) }], alice.did, signingKey)
    assert.equal(wrong.unverified.length, 1)
    const records = await verifyRecords(present.bytes, alice.did, signingKey)
    assert.deepEqual(records.map((r) => [r.rkey, (r.record as { text: string }).text]), [[rkeyOf(target.uri), 'post 7']])
    const { roots, cids } = await blockCids(present.bytes)
    assert.equal(roots[0], pds.ctx.repos.getHead(alice.did as Did)?.commitCid.toString())
    assert.ok(cids.length < 20, 'only the path, not the repo')

    const missing = await getCar(pds.publicUrl, 'com.atproto.sync.getRecord', { did: alice.did, collection: 'app.bsky.feed.post', rkey: '3jzfcijpj2z2a' })
    assert.equal(missing.status, 200)
    const absent = await verifyProofs(missing.bytes, [{ collection: 'app.bsky.feed.post', rkey: '3jzfcijpj2z2a', cid: null }], alice.did, signingKey)
    assert.equal(absent.verified.length, 1, 'exclusion proof verifies')
    assert.deepEqual(await verifyRecords(missing.bytes, alice.did, signingKey), [])

    const noRepo = await getCar(pds.publicUrl, 'com.atproto.sync.getRecord', { did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', collection: 'app.bsky.feed.post', rkey: 'x' })
    assert.deepEqual([noRepo.status, noRepo.body.error], [400, 'RepoNotFound'])
    const badCollection = await getCar(pds.publicUrl, 'com.atproto.sync.getRecord', { did: alice.did, collection: 'not an nsid', rkey: 'x' })
    assert.deepEqual([badCollection.status, badCollection.body.error], [400, 'InvalidRequest'])
  })

  it('getBlocks: the asked blocks in a rootless CAR; BlockNotFound; the cap', async () => {
    const a = await post('block a')
    const b = await post('block b')
    const got = await getCar(pds.publicUrl, 'com.atproto.sync.getBlocks', { did: alice.did, cids: [a.cid, b.cid, a.cid, b.commit.cid] })
    assert.equal(got.status, 200)
    const { roots, cids } = await blockCids(got.bytes)
    assert.deepEqual(roots, [])
    assert.deepEqual(cids, [a.cid, b.cid, b.commit.cid])
    const missing = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
    const miss = await getCar(pds.publicUrl, 'com.atproto.sync.getBlocks', { did: alice.did, cids: [a.cid, missing] })
    assert.deepEqual([miss.status, miss.body.error], [400, 'BlockNotFound'])
    assert.match(miss.body.message, new RegExp(missing))
    const many = await getCar(pds.publicUrl, 'com.atproto.sync.getBlocks', { did: alice.did, cids: Array.from({ length: PDS_GET_BLOCKS_CIDS_MAX + 1 }, () => a.cid) })
    assert.deepEqual([many.status, many.body.error], [400, 'InvalidRequest'])
  })

  it('getRepo since: the diff applies to the repo at since and gives exactly the later writes', async () => {
    const base = await post('base')
    const atSince = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did })
    const since = base.commit.rev
    const later = [await post('later 1'), await post('later 2'), await post('later 3')]
    const del = await xrpc(pds.publicUrl, 'com.atproto.repo.deleteRecord', {
      token: alice.accessJwt,
      body: { repo: alice.did, collection: 'app.bsky.feed.post', rkey: rkeyOf(later[1]!.uri) },
    })
    assert.equal(del.status, 200)
    const diff = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did, since })
    assert.equal(diff.status, 200)
    const full = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did })
    assert.ok(diff.bytes.length < full.bytes.length / 2, `diff ${diff.bytes.length} B vs full ${full.bytes.length} B`)
    const { cids } = await blockCids(diff.bytes)
    assert.ok(cids.includes(later[0]!.cid) && cids.includes(later[2]!.cid))
    assert.equal(cids.includes(later[1]!.cid), false, 'a deleted record block is not sent')
    assert.equal(cids.includes(base.cid), false, 'a block from before since is not sent')

    const old = await readCarWithRoot(atSince.bytes)
    const repo = await Repo.load(new MemoryBlockstore(old.blocks), old.root)
    const verified = await verifyDiffCar(repo, diff.bytes, alice.did, signingKey)
    const writes = verified.writes.map((w) => `${w.action} ${w.rkey}`).sort()
    assert.deepEqual(writes, [`create ${rkeyOf(later[0]!.uri)}`, `create ${rkeyOf(later[2]!.uri)}`].sort())
    assert.equal(verified.commit.cid.toString(), pds.ctx.repos.getHead(alice.did as Did)?.commitCid.toString())
  })

  it('getRepo since: the head gives an empty diff; an unindexed history gives the full repo; bad since by name', async () => {
    const head = pds.ctx.repos.getHead(alice.did as Did)!
    const empty = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did, since: head.rev })
    const emptyCar = await blockCids(empty.bytes)
    assert.deepEqual(emptyCar, { roots: [head.commitCid.toString()], cids: [] })
    // The signup's first commit is not indexed: a since before it gets everything.
    const fallback = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did, since: '2222222222222' })
    const full = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did })
    assert.deepEqual((await blockCids(fallback.bytes)).cids.sort(), (await blockCids(full.bytes)).cids.sort())
    const bad = await getCar(pds.publicUrl, 'com.atproto.sync.getRepo', { did: alice.did, since: 'not-a-tid' })
    assert.deepEqual([bad.status, bad.body.error], [400, 'InvalidRequest'])
  })
})
