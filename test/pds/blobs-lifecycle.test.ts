/**
 * Blob lifecycle against a real PDS: garbage collection with an injected
 * clock (temp uploads after their grace, orphaned blobs after theirs,
 * referenced blobs never, GC racing a write that attaches the blob),
 * abandoned and garbage uploads leave no temp files and the server keeps
 * serving, temp files from a crash are swept at start, the import reindex
 * (listMissingBlobs, checkAccountStatus counts) and account deletion.
 */
import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { cidForRaw } from '../../core/data/cid.ts'
import { PDS_BLOB_DEREFERENCED_GRACE_MS, PDS_BLOB_TEMP_GRACE_MS, PDS_LIST_BLOBS_SCAN_ROWS_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { collectBlobGarbage } from '../../pds/blobs/gc.ts'
import { countBlobs, listBlobs } from '../../pds/blobs/listing.ts'
import { reindexRecordBlobsLocked } from '../../pds/blobs/reindex.ts'
import { blobStoreFor } from '../../pds/blobs/registry.ts'
import type { BlobStore } from '../../pds/blobs/store.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { makePng } from '../helpers/png.ts'

const PASSWORD = 'correct horse battery'
const MINUTE = 60_000

function imagePost(blob: unknown, text = 'a picture') {
  return { text, createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: '' }] } }
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('PDS blob lifecycle', () => {
  let plc: TestPlc
  let pds: TestPds
  let store: BlobStore
  let agent: AtpAgent
  let did: Did

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    store = blobStoreFor(pds.ctx)
    agent = new AtpAgent({ service: pds.publicUrl })
    did = (await agent.createAccount({ handle: 'collector.test', password: PASSWORD })).data.did as Did
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const upload = async (seed: number) => (await agent.uploadBlob(makePng({ seed }), { encoding: 'image/png' })).data.blob
  const fileExists = (cid: string) => existsSync(store.files.pathFor(did, cid))
  const served = async (cid: string) => (await xrpc(pds.url, 'com.atproto.sync.getBlob', { params: { did, cid } })).status === 200

  it('deletes a never-referenced upload after the temp grace and keeps referenced blobs', async () => {
    const start = Date.now()
    const loose = (await upload(1)).ref.toString()
    const kept = await upload(2)
    await agent.post(imagePost(kept))
    const keptCid = kept.ref.toString()

    const early = await collectBlobGarbage(store, { now: start + PDS_BLOB_TEMP_GRACE_MS - MINUTE })
    assert.equal(early.deleted, 0)
    assert.equal((await store.getMeta(did, loose))?.state, 'temp')
    assert.ok(fileExists(loose))

    const late = await collectBlobGarbage(store, { now: Date.now() + PDS_BLOB_TEMP_GRACE_MS + 1 })
    assert.equal(late.deleted, 1)
    assert.equal(await store.getMeta(did, loose), null)
    assert.equal(fileExists(loose), false)
    assert.equal((await store.getMeta(did, keptCid))?.state, 'permanent')
    assert.ok(await served(keptCid))
    assert.equal((await collectBlobGarbage(store, { now: Date.now() + 100 * PDS_BLOB_TEMP_GRACE_MS })).deleted, 0)
  })

  it('a re-upload pushes the deadline back', async () => {
    const cid = (await upload(3)).ref.toString()
    const first = (await store.getMeta(did, cid))?.deleteAfter as number
    await new Promise((resolve) => setTimeout(resolve, 5))
    await upload(3)
    const second = (await store.getMeta(did, cid))?.deleteAfter as number
    assert.ok(second > first)
    assert.equal((await collectBlobGarbage(store, { now: first })).deleted, 0, 'the old deadline no longer applies')
    assert.ok(fileExists(cid))
  })

  it('orphans a blob when its last post goes, and GC removes it after the dereferenced grace', async () => {
    const blob = await upload(4)
    const cid = blob.ref.toString()
    const one = await agent.post(imagePost(blob, 'one'))
    const two = await agent.post(imagePost(blob, 'two'))
    await agent.deletePost(one.uri)
    assert.equal((await store.getMeta(did, cid))?.state, 'permanent', 'the second post still uses it')
    assert.ok(await served(cid))

    // Updating the second post without the image drops the last reference.
    const rkey = two.uri.split('/').pop() as string
    await agent.com.atproto.repo.putRecord({ repo: did, collection: 'app.bsky.feed.post', rkey, record: { text: 'no image now', createdAt: new Date().toISOString() } })
    const orphaned = await store.getMeta(did, cid)
    assert.equal(orphaned?.state, 'orphaned')
    assert.equal(await served(cid), false, 'an orphaned blob is not served')
    assert.deepEqual((await agent.com.atproto.sync.listBlobs({ did })).data.cids.includes(cid), false)

    // Referenced again within the grace: permanent, and GC leaves it.
    const three = await agent.post(imagePost(blob, 'three'))
    assert.equal((await store.getMeta(did, cid))?.state, 'permanent')
    assert.equal((await collectBlobGarbage(store, { now: (orphaned?.deleteAfter as number) + 1 })).deleted, 0)
    assert.ok(await served(cid))

    const deletedAt = Date.now()
    await agent.deletePost(three.uri)
    assert.equal((await collectBlobGarbage(store, { now: deletedAt + PDS_BLOB_DEREFERENCED_GRACE_MS - MINUTE })).deleted, 0)
    assert.ok(fileExists(cid))
    assert.equal((await collectBlobGarbage(store, { now: Date.now() + PDS_BLOB_DEREFERENCED_GRACE_MS + 1 })).deleted, 1)
    assert.equal(fileExists(cid), false)
    assert.equal(await store.getMeta(did, cid), null)
  })

  it('GC racing a write that attaches the blob leaves them consistent', async () => {
    for (let seed = 100; seed < 110; seed++) {
      const blob = await upload(seed)
      const cid = blob.ref.toString()
      const [gc, post] = await Promise.allSettled([
        collectBlobGarbage(store, { now: Date.now() + PDS_BLOB_TEMP_GRACE_MS + MINUTE }),
        agent.post(imagePost(blob)),
      ])
      assert.equal(gc.status, 'fulfilled')
      if (post.status === 'fulfilled') {
        assert.equal((await store.getMeta(did, cid))?.state, 'permanent')
        assert.ok(await served(cid))
      } else {
        assert.match(String(post.reason), /Could not find blob/)
        assert.equal(await store.getMeta(did, cid), null)
        assert.equal(fileExists(cid), false)
      }
    }
  })

  it('abandoned, garbage and oversized uploads leave no temp files and the server keeps serving', async () => {
    const token = agent.session?.accessJwt as string
    const url = new URL('/xrpc/com.atproto.repo.uploadBlob', pds.url)
    // A slow client that sends part of its body and vanishes.
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png', 'transfer-encoding': 'chunked' } })
    req.on('error', () => {})
    req.write(Buffer.alloc(20_000, 7))
    await waitFor(async () => (await store.files.tempFiles()).length === 1, 'the upload to start')
    req.destroy()
    await waitFor(async () => (await store.files.tempFiles()).length === 0, 'the temp file to go')

    // A body shorter than its Content-Length, cut off.
    const short = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png', 'content-length': '100000' } })
    short.on('error', () => {})
    short.write(Buffer.alloc(30_000, 1))
    await waitFor(async () => (await store.files.tempFiles()).length === 1, 'the second upload to start')
    short.destroy()
    await waitFor(async () => (await store.files.tempFiles()).length === 0, 'the second temp file to go')

    // Garbage under a gzip Content-Encoding.
    const garbage = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png', 'content-encoding': 'gzip' },
      body: Buffer.alloc(50_000, 0x41),
    })
    assert.equal(garbage.status, 400)
    assert.deepEqual(await store.files.tempFiles(), [])

    const describe = await xrpc(pds.url, 'com.atproto.server.describeServer')
    assert.equal(describe.status, 200)
    assert.equal((await agent.uploadBlob(makePng({ seed: 5 }), { encoding: 'image/png' })).success, true)
  })

  it('indexes imported records: missing blobs, counts, and uploads that become permanent at once', async () => {
    const importer = new AtpAgent({ service: pds.publicUrl })
    const carol = (await importer.createAccount({ handle: 'carol.test', password: PASSWORD })).data.did as Did
    const carolStore = blobStoreFor(pds.ctx)
    const imageBytes = makePng({ seed: 500 })
    const avatarBytes = makePng({ seed: 501 })
    const image = cidForRaw(imageBytes)
    const avatar = cidForRaw(avatarBytes)
    const tempUpload = (await importer.uploadBlob(makePng({ seed: 502 }), { encoding: 'image/png' })).data.blob
    const records = [
      { path: 'app.bsky.feed.post/3kabc', record: { $type: 'app.bsky.feed.post', text: 'x', embed: { images: [{ image: { $type: 'blob', ref: image, mimeType: 'image/png', size: imageBytes.length } }] } } },
      { path: 'app.bsky.actor.profile/self', record: { $type: 'app.bsky.actor.profile', avatar: { cid: avatar.toString(), mimeType: 'image/png' } } },
      { path: 'app.bsky.feed.post/3kdef', record: { $type: 'app.bsky.feed.post', text: 'y', embed: { images: [{ image: { $type: 'blob', ref: tempUpload.ref, mimeType: 'image/png', size: tempUpload.size } }] } } },
    ]
    const result = await pds.ctx.writer.withRepoLock(carol, () => reindexRecordBlobsLocked(carolStore, carol, { records, rev: '3kaaaaaaaaaaa' }))
    assert.deepEqual(result, { records: 3, references: 3 })
    assert.equal((await carolStore.getMeta(carol, tempUpload.ref.toString()))?.state, 'permanent', 'an uploaded blob the import references')

    const missing = await importer.com.atproto.repo.listMissingBlobs()
    const expected = [
      { cid: image.toString(), recordUri: `at://${carol}/app.bsky.feed.post/3kabc` },
      { cid: avatar.toString(), recordUri: `at://${carol}/app.bsky.actor.profile/self` },
    ].sort((a, b) => (a.cid < b.cid ? -1 : 1))
    assert.deepEqual(missing.data.blobs, expected)
    assert.deepEqual(await countBlobs(carolStore, carol), { expectedBlobs: 3, importedBlobs: 1 })

    await importer.uploadBlob(imageBytes, { encoding: 'image/png' })
    assert.equal((await carolStore.getMeta(carol, image.toString()))?.state, 'permanent', 'referenced by an imported record')
    const res = await fetch(`${pds.url}/xrpc/com.atproto.sync.getBlob?did=${carol}&cid=${image.toString()}`)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), imageBytes)
    assert.deepEqual((await importer.com.atproto.repo.listMissingBlobs()).data.blobs.map((b) => b.cid), [avatar.toString()])
    assert.deepEqual(await countBlobs(carolStore, carol), { expectedBlobs: 3, importedBlobs: 2 })

    // Re-importing without the first post: its blob is orphaned, the rest converge.
    await pds.ctx.writer.withRepoLock(carol, () => reindexRecordBlobsLocked(carolStore, carol, { records: records.slice(1), rev: '3kaaaaaaaaaab' }))
    assert.equal((await carolStore.getMeta(carol, image.toString()))?.state, 'orphaned')
    assert.deepEqual(await countBlobs(carolStore, carol), { expectedBlobs: 2, importedBlobs: 2 })

    await pds.ctx.writer.withRepoLock(carol, () => carolStore.deleteAccountLocked(carol))
    assert.deepEqual(await countBlobs(carolStore, carol), { expectedBlobs: 0, importedBlobs: 0 })
    assert.equal(existsSync(carolStore.files.pathFor(carol, image.toString())), false)
    const gcRows = await carolStore.tables.gc.keys().all()
    assert.equal(gcRows.filter((key) => key.includes(carol)).length, 0, 'no GC rows left behind')
  })

  it('a listBlobs page stops after PDS_LIST_BLOBS_SCAN_ROWS_MAX rows with a cursor, and paging still reaches the end', async () => {
    const fake = 'did:plc:scanscanscanscanscanscan' as Did
    const rows = PDS_LIST_BLOBS_SCAN_ROWS_MAX + 5
    const cids = Array.from({ length: rows }, (_, i) => cidForRaw(new TextEncoder().encode(`blob ${i}`)).toString()).sort()
    await store.tables.refs.batch(cids.map((cid, i) => ({ type: 'put', key: `${fake} ${cid} app.bsky.feed.post/${i}`, value: i === rows - 1 ? '3kzzzzzzzzzzz' : '3kaaaaaaaaaaa' })))
    // `since` matches only the last row: the first page scans its quota, finds nothing, and says where to go on.
    const first = await listBlobs(store, fake, { limit: 10, since: '3kbbbbbbbbbbb' })
    assert.deepEqual(first.items, [])
    assert.equal(first.cursor, cids[PDS_LIST_BLOBS_SCAN_ROWS_MAX - 1])
    const second = await listBlobs(store, fake, { limit: 10, since: '3kbbbbbbbbbbb', cursor: first.cursor as string })
    assert.deepEqual(second, { items: [cids[rows - 1]] })
    const unfiltered = await listBlobs(store, fake, { limit: 1_000 })
    assert.equal(unfiltered.items.length, 1_000)
    assert.equal(unfiltered.cursor, cids[999])
    await store.tables.refs.clear({ gt: `${fake} `, lt: `${fake}!` })
  })

  it('sweeps temp files a crash left behind at start, and blobs survive a restart', async () => {
    const blob = await upload(600)
    await agent.post(imagePost(blob))
    writeFileSync(join(store.files.tmpDir, 'crashed.tmp'), 'half an upload')
    pds = await pds.restart()
    store = blobStoreFor(pds.ctx)
    assert.deepEqual(await store.files.tempFiles(), [])
    const res = await fetch(`${pds.url}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${blob.ref.toString()}`)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), makePng({ seed: 600 }))
  })
})
