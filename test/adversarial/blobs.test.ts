/**
 * Adversarial case 4.8.1 (blob key path traversal), over HTTP to a PDS:
 * `getBlob` and `listBlobs` with DIDs and CIDs carrying `..`, `/` or `%2F`
 * are refused by name before any file is touched; a file planted next to
 * the blob directory is never served; an upload's file name comes from the
 * CID the PDS computed. The other §4.8 cases (size edges, sniffing and
 * headers, unknown/foreign/mismatched refs, deactivated accounts) are in
 * test/pds/blobs.test.ts and test/pds/blobs-lifecycle.test.ts.
 */
import assert from 'node:assert/strict'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

/** All files under `dir`, relative. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length))
    .sort()
}

describe('adversarial §4.8: blob key paths (getBlob / uploadBlob over HTTP)', { timeout: 60_000 }, () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: { did: string; accessJwt: string }
  let cid: string
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    alice = await createTestAccount(pds.publicUrl, 'blob-path.test')
    const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.repo.uploadBlob`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.accessJwt}`, 'content-type': 'text/plain' },
      body: 'secret-free text',
    })
    const blob = ((await res.json()) as { blob: { ref: { $link: string } } }).blob
    cid = blob.ref.$link
    const record = { $type: 'com.example.file', file: blob }
    const ref = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', { token: alice.accessJwt, body: { repo: alice.did, collection: 'com.example.file', record } })
    assert.equal(ref.status, 200, JSON.stringify(ref.body))
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('4.8.1 DIDs and CIDs with .., / or %2F in getBlob/listBlobs are refused by name; no file outside is served', { timeout: 30_000 }, async () => {
    writeFileSync(join(pds.dataDir, 'planted.txt'), 'PLANTED')
    const files = filesUnder(pds.dataDir)
    const dids = [`${alice.did}/..`, 'did:plc:../../planted.txt', 'did:web:..%2F..%2Fplanted.txt', 'did:web:a/../../b', '../planted.txt']
    const cids = ['../../planted.txt', `${cid}/../../planted.txt`, `${cid}%2F..`, 'bafkrei..%2F..%2Fplanted', '..']
    for (const did of dids) {
      for (const nsid of ['com.atproto.sync.getBlob', 'com.atproto.sync.listBlobs']) {
        const reply = await xrpc(pds.publicUrl, nsid, { params: { did, cid } })
        // Bad syntax is InvalidRequest; a syntactically valid did:web (percent-encoding is DID syntax) is
        // looked up as an account, never as a path: RepoNotFound.
        assert.ok([400, 404].includes(reply.status), `${nsid} ${did}: ${reply.status} ${JSON.stringify(reply.body)}`)
        assert.ok(['InvalidRequest', 'RepoNotFound'].includes(reply.body?.error), JSON.stringify(reply.body))
      }
    }
    for (const bad of cids) {
      const reply = await xrpc(pds.publicUrl, 'com.atproto.sync.getBlob', { params: { did: alice.did, cid: bad } })
      assert.ok([400, 404].includes(reply.status), `${bad}: ${reply.status}`)
      assert.ok(['InvalidRequest', 'BlobNotFound'].includes(reply.body?.error), JSON.stringify(reply.body))
      assert.ok(!String(reply.body?.message ?? '').includes('PLANTED'))
    }
    // Raw paths the URL parser would normalise are sent as they are.
    for (const path of ['/xrpc/com.atproto.sync.getBlob/../../planted.txt', '/xrpc/..%2F..%2Fplanted.txt', '/planted.txt']) {
      const res = await fetch(`${pds.publicUrl}${path}`)
      assert.ok(!(await res.text()).includes('PLANTED'), path)
    }
    assert.deepEqual(filesUnder(pds.dataDir), files, 'nothing written or removed')
    const good = await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getBlob?did=${alice.did}&cid=${cid}`)
    assert.equal(good.status, 200)
    assert.equal(await good.text(), 'secret-free text')
  })
})
