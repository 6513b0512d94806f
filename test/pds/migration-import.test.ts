/**
 * importRepo on the new PDS (B), for an account created there by
 * migration: an active account is refused; hostile CARs (garbage, a
 * tampered block, another DID's repo, a commit signed by a stranger, a
 * missing record, a record that is not DAG-CBOR, an oversized body) are
 * refused by name and leave the account exactly as it was; a good CAR is
 * imported, re-signed with B's key at a higher rev, verifies with
 * @atproto/repo, sets the record counts, and importing it again converges.
 * activateAccount refuses before the DID document points at B, and while
 * an import is unfinished.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { verifyRepoCar } from '@atproto/repo'
import { cidForCbor } from '../../core/data/cid.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { decodeCommit, signCommit } from '../../core/repo/commit.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { MigrationStore } from '../../pds/migration/store.ts'
import { createOnB, getRepoCar, importCar, signingKeyOf, startMigrationWorld, type MigrationWorld } from '../helpers/migration.ts'
import { createTestAccount, xrpc } from '../helpers/pds.ts'

const IMPORT_LIMIT = 300_000

/** A one-record repo for `did`, signed by `key`, whose record block is `recordBytes`. */
function oneRecordCar(did: Did, key: Keypair, recordBytes: Uint8Array): Uint8Array {
  const recordCid = cidForCbor(recordBytes)
  const { root, newBlocks } = Mst.create().insert('app.bsky.feed.post/3kaaaaaaaaaaa', recordCid).collectNewBlocks()
  const commit = signCommit({ did, version: 3, data: root, rev: new TidClock().next(), prev: null }, key)
  const blocks = new MemoryBlockMap().addAll(newBlocks).set(recordCid, recordBytes).set(commit.cid, commit.bytes)
  return encodeCarBytes(commit.cid, blocks)
}

/** `car` with its commit signed again by `key`. */
function resigned(car: Uint8Array, key: Keypair): Uint8Array {
  const { root, blocks } = decodeCarWithSingleRoot(car)
  const { sig: _sig, ...unsigned } = decodeCommit(blocks.get(root) as Uint8Array)
  const commit = signCommit(unsigned, key)
  return encodeCarBytes(commit.cid, blocks.set(commit.cid, commit.bytes))
}

/** `car` without the block of its first record. */
function withoutFirstRecord(car: Uint8Array): Uint8Array {
  const { root, blocks } = decodeCarWithSingleRoot(car)
  const data = decodeCommit(blocks.get(root) as Uint8Array).data
  const [first] = walkRepoLeaves(blocks, data)
  const kept = new MemoryBlockMap()
  for (const [cid, bytes] of blocks.entries()) if (!cid.equals(first!.cid)) kept.set(cid, bytes)
  return encodeCarBytes(root, kept)
}

describe('migration: importRepo and activation on the new PDS', () => {
  let world: MigrationWorld
  let did: Did
  let tokenB: string
  let aliceCar: Uint8Array

  before(async () => {
    world = await startMigrationWorld({ b: { blobUploadBytesMax: IMPORT_LIMIT } })
    did = world.alice.did
    tokenB = (await createOnB(world)).accessJwt
    aliceCar = await getRepoCar(world.a, did)
  })
  after(() => world.stop())

  const accountStatus = async () => (await xrpc(world.b.publicUrl, 'com.atproto.server.checkAccountStatus', { token: tokenB })).body

  it('refuses an active account (AccountActive)', async () => {
    const reply = await importCar(world.a, world.alice.accessJwt, aliceCar)
    assert.deepEqual([reply.status, reply.body.error], [400, 'AccountActive'])
  })

  it('refuses hostile CARs by name and leaves the account as it was', async () => {
    const { a, b } = world
    const keyA = await signingKeyOf(a, did)
    const bob = await createTestAccount(a.publicUrl, 'bob.test')
    const tampered = new Uint8Array(aliceCar)
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] as number) ^ 0xff
    const headBefore = b.ctx.repos.getHead(did)
    const statusBefore = await accountStatus()
    const cases: Array<[string, Uint8Array, string]> = [
      ['garbage', new Uint8Array([1, 2, 3, 4]), 'InvalidCar'],
      ['a tampered block', tampered, 'CidMismatch'],
      ["another DID's repo", await getRepoCar(a, bob.did as Did), 'DidMismatch'],
      ['a commit signed by a stranger', resigned(aliceCar, generateKeypair('k256')), 'BadCommitSignature'],
      ['a missing record block', withoutFirstRecord(aliceCar), 'MissingBlock'],
      ['a record that is not DAG-CBOR', oneRecordCar(did, keyA, new Uint8Array([0xa1, 0x61, 0x61, 0x01, 0x00])), 'InvalidRecord'],
      ['too many bytes', new Uint8Array(IMPORT_LIMIT + 1), 'PayloadTooLarge'],
    ]
    for (const [what, car, name] of cases) {
      const reply = await importCar(b, tokenB, car)
      assert.equal(reply.body?.error, name, `${what}: ${JSON.stringify(reply.body)}`)
      assert.equal(reply.status, name === 'PayloadTooLarge' ? 413 : 400, what)
      assert.deepEqual(b.ctx.repos.getHead(did), headBefore, what)
      assert.deepEqual(await accountStatus(), statusBefore, what)
    }
  })

  it('imports, re-signs with the new key at a higher rev, and converges on re-import', async () => {
    const { a, b } = world
    const revA = (await xrpc(a.publicUrl, 'com.atproto.sync.getLatestCommit', { params: { did } })).body.rev
    const first = await importCar(b, tokenB, aliceCar)
    assert.equal(first.status, 200, JSON.stringify(first.body))
    const status = await accountStatus()
    assert.equal(status.activated, false)
    assert.equal(status.validDid, false)
    assert.equal(status.indexedRecords, 6)
    assert.ok(status.repoRev > revA, `${status.repoRev} > ${revA}`)
    const keyB = (await signingKeyOf(b, did)).publicKey.didKey
    const car = await getRepoCar(b, did, tokenB)
    const verified = await verifyRepoCar(car, did, keyB)
    assert.equal(verified.commit.rev, status.repoRev)
    assert.equal(verified.creates.length, 6)
    for (const leaf of walkRepoLeaves(b.ctx.repos.readerFor(did), b.ctx.repos.getHead(did)!.dataCid)) {
      assert.equal(await b.ctx.refs.count(did, leaf.cid), 1)
    }
    const again = await importCar(b, tokenB, aliceCar)
    assert.equal(again.status, 200)
    const after = await accountStatus()
    assert.equal(after.indexedRecords, 6)
    assert.equal(after.repoBlocks, status.repoBlocks)
    assert.ok(after.repoRev > status.repoRev)
  })

  it('refuses activation while the DID document points elsewhere, and while an import is unfinished', async () => {
    const { b } = world
    const activate = () => xrpc(b.publicUrl, 'com.atproto.server.activateAccount', { token: tokenB, method: 'POST' })
    const early = await activate()
    assert.deepEqual([early.status, early.body.error], [400, 'InvalidRequest'])
    assert.match(early.body.message, /atproto_pds|rotation keys/)
    const store = new MigrationStore(b.ctx.db)
    await b.ctx.db.batch(store.importStartedOps(did))
    const pending = await activate()
    assert.deepEqual([pending.status, pending.body.error], [400, 'RepoImportIncomplete'])
    assert.equal((await importCar(b, tokenB, aliceCar)).status, 200)
    assert.equal(await store.isImportPending(did), false)
    assert.equal((await activate()).body.error, 'InvalidRequest')
  })

  it('answers checkAccountStatus for the old PDS too: active, DID pointing there', async () => {
    const reply = await xrpc(world.a.publicUrl, 'com.atproto.server.checkAccountStatus', { token: world.alice.accessJwt })
    assert.equal(reply.status, 200)
    assert.deepEqual([reply.body.activated, reply.body.validDid, reply.body.indexedRecords], [true, true, 6])
    assert.equal(reply.body.privateStateValues, 0)
    assert.ok(reply.body.repoBlocks > 6)
  })

  it('refuses an import without credentials (AuthMissing)', async () => {
    const res = await fetch(`${world.b.publicUrl}/xrpc/com.atproto.repo.importRepo`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.ipld.car' },
      body: aliceCar,
    })
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as { error: string }).error, 'AuthMissing')
  })
})
