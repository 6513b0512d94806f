/**
 * Blobs end to end against a real PDS and PLC on 127.0.0.1, with the
 * official client where it has a method for it (`@atproto/api`): upload a
 * real PNG, post it as an image embed, fetch it back byte-identical with the
 * safe headers; the upload limit at its edge; records naming unknown,
 * foreign or mismatched blobs; listBlobs (with `since`) and
 * listMissingBlobs; availability for deactivated accounts.
 * GC, abandoned uploads and imports are in blobs-lifecycle.test.ts.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { cidForRaw } from '../../core/data/cid.ts'
import type { Did } from '../../core/syntax/did.ts'
import { blobStoreFor } from '../../pds/blobs/registry.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { makePng } from '../helpers/png.ts'
import { makeRng } from '../helpers/prng.ts'

const LIMIT = 50_000
const PASSWORD = 'correct horse battery'

type JsonBlob = { $type: 'blob'; ref: { $link: string }; mimeType: string; size: number }

async function rawUpload(pds: TestPds, token: string, body: Uint8Array | ReadableStream<Uint8Array>, contentType = '*/*') {
  const init: RequestInit & { duplex?: 'half' } = {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    body,
  }
  if (body instanceof ReadableStream) init.duplex = 'half'
  const res = await fetch(`${pds.url}/xrpc/com.atproto.repo.uploadBlob`, init)
  return { status: res.status, body: (await res.json()) as { blob: JsonBlob; error?: string } }
}

function streamOf(bytes: Uint8Array, chunkBytes: number): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + chunkBytes))
      offset += chunkBytes
    },
  })
}

function imagePost(blob: unknown, text = 'a picture') {
  return { text, createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: 'pixels' }] } }
}

describe('PDS blobs', () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: AtpAgent
  let bob: AtpAgent
  let aliceDid: Did
  const png = makePng({ width: 16, height: 12, seed: 7 })

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { blobUploadBytesMax: LIMIT } })
    alice = new AtpAgent({ service: pds.publicUrl })
    bob = new AtpAgent({ service: pds.publicUrl })
    aliceDid = (await alice.createAccount({ handle: 'alice.test', password: PASSWORD })).data.did as Did
    await bob.createAccount({ handle: 'bob.test', password: PASSWORD })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const token = (agent: AtpAgent) => agent.session?.accessJwt as string

  it('advertises the configured upload limit in describeServer', async () => {
    // Not in @atproto/api's typed output (an atfed/distro field), so read it raw.
    const res = await xrpc(pds.url, 'com.atproto.server.describeServer')
    assert.equal(res.body.blobUploadLimit, LIMIT)
  })

  it('uploads a PNG, posts it as an image embed and serves identical bytes with safe headers', async () => {
    const uploaded = await alice.uploadBlob(png, { encoding: 'image/png' })
    const blob = uploaded.data.blob
    const cid = cidForRaw(png).toString()
    assert.equal(blob.ref.toString(), cid)
    assert.equal(blob.mimeType, 'image/png')
    assert.equal(blob.size, png.length)

    // Not public before a record uses it.
    const early = await xrpc(pds.url, 'com.atproto.sync.getBlob', { params: { did: aliceDid, cid } })
    assert.equal(early.status, 400)
    assert.equal(early.body.error, 'BlobNotFound')

    const post = await alice.post(imagePost(blob))
    const rkey = post.uri.split('/').pop() as string
    const record = await alice.com.atproto.repo.getRecord({ repo: aliceDid, collection: 'app.bsky.feed.post', rkey })
    const image = (record.data.value as { embed: { images: Array<{ image: { ref: { toString(): string } } }> } }).embed.images[0]
    assert.equal(image?.image.ref.toString(), cid)

    const res = await fetch(`${pds.url}/xrpc/com.atproto.sync.getBlob?did=${aliceDid}&cid=${cid}`)
    assert.equal(res.status, 200)
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), png)
    assert.equal(res.headers.get('content-type'), 'image/png')
    assert.equal(res.headers.get('content-length'), String(png.length))
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; sandbox")
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${cid}"`)

    const viaClient = await alice.com.atproto.sync.getBlob({ did: aliceDid, cid })
    assert.deepEqual(new Uint8Array(viaClient.data), png)
  })

  it('sniffs the type whatever the client declares', async () => {
    const gifLike = new Uint8Array([...Buffer.from('GIF89a'), 1, 0, 1, 0, 0x80, 0, 0])
    for (const declared of ['*/*', 'application/octet-stream', 'image/jpeg']) {
      const res = await rawUpload(pds, token(alice), gifLike, declared)
      assert.equal(res.status, 200)
      assert.equal(res.body.blob.mimeType, 'image/gif', declared)
    }
    const captions = new TextEncoder().encode('WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n')
    assert.equal((await rawUpload(pds, token(alice), captions, 'text/vtt')).body.blob.mimeType, 'text/vtt')
    const notes = new TextEncoder().encode('just some notes\n')
    assert.equal((await rawUpload(pds, token(alice), notes, '*/*')).body.blob.mimeType, 'text/plain')
    // A known blob keeps the type it was stored with (records quote it).
    assert.equal((await rawUpload(pds, token(alice), captions, '*/*')).body.blob.mimeType, 'text/vtt')
    // A JSON-typed upload is bytes, never parsed.
    const json = new TextEncoder().encode('{"not": "parsed"')
    const asJson = await rawUpload(pds, token(alice), json, 'application/json')
    assert.equal(asJson.status, 200)
    assert.equal(asJson.body.blob.mimeType, 'application/json')
  })

  it('accepts exactly the upload limit and answers 413 one byte past it, with or without Content-Length', async () => {
    const bytes = makeRng(5).bytes(LIMIT + 1)
    const exact = await rawUpload(pds, token(alice), bytes.subarray(0, LIMIT))
    assert.equal(exact.status, 200)
    assert.equal(exact.body.blob.size, LIMIT)
    const over = await rawUpload(pds, token(alice), bytes)
    assert.equal(over.status, 413)
    assert.equal(over.body.error, 'PayloadTooLarge')
    const streamedOver = await rawUpload(pds, token(alice), streamOf(bytes, 8_192))
    assert.equal(streamedOver.status, 413)
    const streamedExact = await rawUpload(pds, token(alice), streamOf(bytes.subarray(0, LIMIT), 8_192))
    assert.equal(streamedExact.status, 200)
    assert.equal(streamedExact.body.blob.ref.$link, cidForRaw(bytes.subarray(0, LIMIT)).toString())
    assert.deepEqual(await blobStoreFor(pds.ctx).files.tempFiles(), [])
  })

  it('refuses uploads without a valid access token', async () => {
    const res = await fetch(`${pds.url}/xrpc/com.atproto.repo.uploadBlob`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png })
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as { error: string }).error, 'AuthMissing')
  })

  it('accepts a service-auth token the account minted for uploadBlob (the video service path)', async () => {
    const account = await pds.ctx.accounts.get(aliceDid)
    assert.ok(account !== null)
    const keypair = pds.ctx.signingKeys.get(account)
    const mint = (overrides: Partial<Parameters<typeof createServiceJwt>[0]> = {}) =>
      createServiceJwt({ iss: aliceDid, aud: pds.ctx.serviceDid, lxm: 'com.atproto.repo.uploadBlob', keypair, ...overrides })
    const video = new Uint8Array([0, 0, 0, 0x18, ...Buffer.from('ftypmp42'), 0, 0, 0, 0, ...Buffer.from('mp42isom')])
    const ok = await rawUpload(pds, mint(), video, 'video/mp4')
    assert.equal(ok.status, 200)
    assert.equal(ok.body.blob.mimeType, 'video/mp4')
    assert.equal((await blobStoreFor(pds.ctx).getMeta(aliceDid, ok.body.blob.ref.$link))?.state, 'temp', 'owned by the issuer')
    assert.equal((await rawUpload(pds, mint({ aud: `${pds.ctx.serviceDid}#atproto_pds` }), video)).status, 200)

    const cases: Array<[string, string]> = [
      [mint({ lxm: 'com.atproto.repo.createRecord' }), 'BadJwtLexiconMethod'],
      [mint({ lxm: null }), 'BadJwtLexiconMethod'],
      [mint({ aud: 'did:web:elsewhere.example' }), 'BadJwtAudience'],
      [mint({ keypair: generateKeypair('k256') }), 'BadJwtSignature'],
      [mint({ iss: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }), 'UntrustedIss'],
      [mint({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }), 'JwtExpired'],
    ]
    for (const [jwt, error] of cases) {
      const res = await rawUpload(pds, jwt, video)
      assert.equal(res.status, 401, error)
      assert.equal(res.body.error, error)
    }
  })

  it('refuses records that reference unknown, foreign or mismatched blobs', async () => {
    const unknown = { $type: 'blob', ref: { $link: cidForRaw(new TextEncoder().encode('never uploaded')).toString() }, mimeType: 'image/png', size: 14 }
    const create = (agent: AtpAgent, blob: unknown) =>
      xrpc(pds.url, 'com.atproto.repo.createRecord', {
        token: token(agent),
        body: { repo: agent.session?.did, collection: 'app.bsky.feed.post', record: imagePost(blob) },
      })
    const missing = await create(alice, unknown)
    assert.equal(missing.status, 400)
    assert.equal(missing.body.error, 'BlobNotFound')

    const own = await rawUpload(pds, token(alice), makePng({ seed: 99 }), 'image/png')
    const foreign = await create(bob, own.body.blob)
    assert.equal(foreign.status, 400, 'a blob belongs to the account that uploaded it')
    assert.equal(foreign.body.error, 'BlobNotFound')

    const wrongType = await create(alice, { ...own.body.blob, mimeType: 'image/jpeg' })
    assert.equal(wrongType.status, 400)
    assert.equal(wrongType.body.error, 'InvalidMimeType')
    const wrongSize = await create(alice, { ...own.body.blob, size: own.body.blob.size + 1 })
    assert.equal(wrongSize.status, 400)
    assert.equal(wrongSize.body.error, 'InvalidSize')

    // Nothing was committed by the refusals; the blob is still a temp upload.
    const meta = await blobStoreFor(pds.ctx).getMeta(aliceDid, own.body.blob.ref.$link)
    assert.equal(meta?.state, 'temp')
    const ok = await create(alice, own.body.blob)
    assert.equal(ok.status, 200)
    assert.equal((await blobStoreFor(pds.ctx).getMeta(aliceDid, own.body.blob.ref.$link))?.state, 'permanent')
  })

  it('lists referenced blobs in CID order with paging and since', async () => {
    const agent = new AtpAgent({ service: pds.publicUrl })
    const did = (await agent.createAccount({ handle: 'lister.test', password: PASSWORD })).data.did
    const cids: string[] = []
    const revs: string[] = []
    for (let seed = 0; seed < 5; seed++) {
      const blob = (await agent.uploadBlob(makePng({ seed: 1000 + seed }), { encoding: 'image/png' })).data.blob
      cids.push(blob.ref.toString())
      await agent.post(imagePost(blob, `post ${seed}`))
      revs.push((await agent.com.atproto.sync.getLatestCommit({ did })).data.rev)
    }
    await agent.uploadBlob(makePng({ seed: 2000 }), { encoding: 'image/png' }) // temp: never listed
    const all = await agent.com.atproto.sync.listBlobs({ did })
    assert.deepEqual(all.data.cids, [...cids].sort())
    assert.equal(all.data.cursor, undefined)

    const pages: string[] = []
    let cursor: string | undefined
    for (let i = 0; i < 10; i++) {
      const page = await agent.com.atproto.sync.listBlobs({ did, limit: 2, ...(cursor === undefined ? {} : { cursor }) })
      pages.push(...page.data.cids)
      cursor = page.data.cursor
      if (cursor === undefined) break
      assert.ok(page.data.cids.length <= 2)
    }
    assert.deepEqual(pages, [...cids].sort())

    const since = await agent.com.atproto.sync.listBlobs({ did, since: revs[2] as string })
    assert.deepEqual(since.data.cids, [cids[3], cids[4]].sort())
    assert.deepEqual((await agent.com.atproto.sync.listBlobs({ did, since: revs[4] as string })).data.cids, [])
  })

  it('lists blobs whose file went missing, and a re-upload heals them', async () => {
    const blob = (await alice.uploadBlob(makePng({ seed: 31 }), { encoding: 'image/png' })).data.blob
    const post = await alice.post(imagePost(blob))
    const cid = blob.ref.toString()
    assert.deepEqual((await alice.com.atproto.repo.listMissingBlobs()).data.blobs, [])

    rmSync(blobStoreFor(pds.ctx).files.pathFor(aliceDid, cid))
    const missing = await alice.com.atproto.repo.listMissingBlobs()
    assert.deepEqual(missing.data.blobs, [{ cid, recordUri: post.uri }])
    const gone = await xrpc(pds.url, 'com.atproto.sync.getBlob', { params: { did: aliceDid, cid } })
    assert.equal(gone.body.error, 'BlobNotFound')

    await alice.uploadBlob(makePng({ seed: 31 }), { encoding: 'image/png' })
    assert.deepEqual((await alice.com.atproto.repo.listMissingBlobs()).data.blobs, [])
    const back = await fetch(`${pds.url}/xrpc/com.atproto.sync.getBlob?did=${aliceDid}&cid=${cid}`)
    assert.deepEqual(new Uint8Array(await back.arrayBuffer()), makePng({ seed: 31 }))
  })

  it('hides blobs of deactivated accounts except from their owner', async () => {
    const cid = cidForRaw(png).toString()
    const account = await pds.ctx.accounts.get(aliceDid)
    assert.ok(account !== null)
    await pds.ctx.db.batch(pds.ctx.accounts.putOps({ ...account, status: 'deactivated' }))
    try {
      const anon = await xrpc(pds.url, 'com.atproto.sync.getBlob', { params: { did: aliceDid, cid } })
      assert.equal(anon.status, 400)
      assert.equal(anon.body.error, 'RepoDeactivated')
      const list = await xrpc(pds.url, 'com.atproto.sync.listBlobs', { params: { did: aliceDid } })
      assert.equal(list.body.error, 'RepoDeactivated')
      const owner = await fetch(`${pds.url}/xrpc/com.atproto.sync.getBlob?did=${aliceDid}&cid=${cid}`, {
        headers: { authorization: `Bearer ${token(alice)}` },
      })
      assert.equal(owner.status, 200)
      // A deactivated account may still upload (migration copies blobs before activating).
      assert.equal((await rawUpload(pds, token(alice), makePng({ seed: 77 }))).status, 200)
    } finally {
      await pds.ctx.db.batch(pds.ctx.accounts.putOps(account))
    }
    const unknown = await xrpc(pds.url, 'com.atproto.sync.getBlob', { params: { did: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', cid } })
    assert.equal(unknown.body.error, 'RepoNotFound')
    const badCid = await xrpc(pds.url, 'com.atproto.sync.getBlob', { params: { did: aliceDid, cid: 'nope' } })
    assert.equal(badCid.status, 400)
  })
})
