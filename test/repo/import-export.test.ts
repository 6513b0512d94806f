/**
 * Repo export and import through a level store: differential with
 * @atproto/repo both ways, exact round trips, replacing an existing repo,
 * hostile CARs rejected by name with the account's stored repo unchanged,
 * and an import that dies half way leaving nothing behind.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getFullRepo, MemoryBlockstore, Repo, verifyRepoCar, WriteOpAction } from '@atproto/repo'
import type { RecordCreateOp } from '@atproto/repo'
import { Secp256k1Keypair } from '@atproto/crypto'
import { encodeCbor } from '../../core/data/cbor.ts'
import type { CID } from '../../core/data/cid.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { cidKey, MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { LevelRepoStore } from '../../core/repo/block-store.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { decodeCarWithSingleRoot, iterateCarBytes } from '../../core/repo/car/decode.ts'
import { signCommit } from '../../core/repo/commit.ts'
import { exportRepoCar } from '../../core/repo/export.ts'
import { importRepoCar, stagingNamespace } from '../../core/repo/import.ts'
import { keyHeight } from '../../core/repo/mst/key-height.ts'
import { encodeNode } from '../../core/repo/mst/node-codec.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { walkRepoLeaves, walkRepoTree } from '../../core/repo/repo-walk.ts'
import { verifyRepoCarBytes } from '../../core/repo/verify-repo.ts'
import { makeRng } from '../helpers/prng.ts'
import { collectBytes, handMadeCar, sectionBytes } from '../helpers/car-blocks.ts'
import { MemoryRepo, randomWrites, record, TEST_DID } from '../helpers/repo-writes.ts'
import { repoSnapshot, storeMemoryRepo, withTempStore } from '../helpers/repo-store.ts'

const OTHER_DID = parseDid('did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')

function randomRepo(seed: number, commits: number, did: Did = TEST_DID, keypair = generateKeypair('k256')): MemoryRepo {
  const rng = makeRng(seed)
  const repo = new MemoryRepo(did, keypair)
  for (let i = 0; i < commits; i++) repo.apply(randomWrites(rng, new Set(repo.records.keys()), 1 + rng.int(120)))
  return repo
}

function carOf(repo: MemoryRepo, edit?: (blocks: MemoryBlockMap) => void): Uint8Array {
  const blocks = new MemoryBlockMap().addAll(repo.blocks)
  edit?.(blocks)
  return encodeCarBytes(repo.head.commitCid, blocks)
}

async function empty(source: AsyncIterable<unknown>): Promise<boolean> {
  for await (const _ of source) return false
  return true
}

test('export → @atproto/repo verifyRepoCar, and import gives back the same CAR byte for byte', async () => {
  const repo = randomRepo(1, 8)
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, repo)
    const car = await collectBytes(exportRepoCar(store, repo.did))
    const { root, blocks } = decodeCarWithSingleRoot(car)
    assert.ok(root.equals(repo.head.commitCid))
    const first = iterateCarBytes(car).sections.next()
    assert.ok(!first.done && first.value.cid.equals(repo.head.commitCid), 'commit block first')
    assert.equal(blocks.size, repo.blocks.size, 'every block exactly once')
    const theirs = await verifyRepoCar(car, repo.did, repo.keypair.publicKey.didKey)
    assert.equal(theirs.creates.length, repo.records.size)

    for (const memoryBytesMax of [undefined, 0]) {
      await withTempStore(async ({ store: other }) => {
        const options = { store: other, did: repo.did, key: repo.keypair.publicKey, memoryBytesMax }
        const imported = await importRepoCar(chunks(car, 3000), options)
        assert.equal(imported.records, repo.records.size)
        assert.equal(imported.blocks, repo.blocks.size)
        assert.equal(imported.bytes, car.length)
        assert.ok(other.getHead(repo.did)!.commitCid.equals(repo.head.commitCid))
        const again = await collectBytes(exportRepoCar(other, repo.did))
        assert.deepEqual(Buffer.from(again), Buffer.from(car))
        assert.ok(await empty(other.iterateBlocks(stagingNamespace(repo.did))), 'staging cleared')
      })
    }
  })
})

test('@atproto/repo CARs (getFullRepo) import and list the same records', async () => {
  const keypair = await Secp256k1Keypair.create()
  const storage = new MemoryBlockstore()
  const rng = makeRng(2)
  const creates = Array.from({ length: 300 }, (_, i) => ({
    action: WriteOpAction.Create as const,
    collection: i % 2 === 0 ? 'app.bsky.feed.post' : 'app.bsky.feed.like',
    rkey: `r${i.toString().padStart(4, '0')}`,
    record: record(i % 2 === 0 ? 'app.bsky.feed.post' : 'app.bsky.feed.like', rng),
  }))
  const refCreates = creates as unknown as RecordCreateOp[]
  let repo = await Repo.create(storage, TEST_DID, keypair, refCreates.slice(0, 200))
  repo = await repo.applyWrites(refCreates.slice(200), keypair)
  repo = await repo.applyWrites([{ action: WriteOpAction.Delete, collection: 'app.bsky.feed.post', rkey: 'r0000' }], keypair)
  const car = await collectBytes(getFullRepo(storage, repo.cid))
  const theirLeaves = (await repo.data.list()).map((leaf) => `${leaf.key}\t${leaf.value.toString()}`)

  const inMemory = verifyRepoCarBytes(car, { did: TEST_DID, key: keypair.did() })
  assert.equal(inMemory.records, 299)
  await withTempStore(async ({ store }) => {
    const imported = await importRepoCar(car, { store, did: TEST_DID, key: keypair.did(), memoryBytesMax: 0 })
    assert.equal(imported.records, 299)
    assert.equal(imported.commitCid.toString(), repo.cid.toString())
    const ours = Array.from(walkRepoLeaves(store.readerFor(TEST_DID), imported.root), (l) => `${l.key}\t${l.cid.toString()}`)
    assert.deepEqual(ours, theirLeaves)
  })
})

test('importing over an existing repo replaces it exactly, with extra ops in the head batch', async () => {
  const old = randomRepo(3, 6)
  const incoming = randomRepo(4, 6)
  await withTempStore(async ({ store, db }) => {
    await storeMemoryRepo(store, old)
    const car = carOf(incoming, (blocks) => {
      const junk = encodeCbor({ junk: 'unreferenced' })
      blocks.set(cidForCbor(junk), junk)
    })
    const marker = db.sublevel<string, string>('marker', { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await importRepoCar(car, { store, did: TEST_DID, extra: [{ type: 'put', sublevel: marker, key: 'event', value: 'imported' }] })
    assert.equal(await marker.get('event'), 'imported')
    await assertExactly(store, incoming)
    // and back again, staged through level this time
    await importRepoCar(carOf(old), { store, did: TEST_DID, memoryBytesMax: 0 })
    await assertExactly(store, old)
  })
})

/** A signed repo whose MST puts every key in one layer-0 node, whatever its height. */
function nonCanonicalCar(keypair: Keypair): Uint8Array {
  const blocks = new MemoryBlockMap()
  const entries: Array<{ key: string; value: Uint8Array; right: null }> = []
  for (let i = 0; entries.length < 3 || !entries.some((e) => keyHeight(e.key) > 0); i++) {
    const key = `com.example.record/k${String(i).padStart(4, '0')}`
    if (entries.length === 0 && keyHeight(key) > 0) continue
    const bytes = encodeCbor({ $type: 'com.example.record', i })
    const cid = cidForCbor(bytes)
    blocks.set(cid, bytes)
    entries.push({ key, value: cid.bytes, right: null })
  }
  const node = encodeNode({ left: null, entries })
  const data = cidForCbor(node)
  blocks.set(data, node)
  const signed = signCommit({ did: TEST_DID, version: 3, data, rev: new MemoryRepo(TEST_DID, keypair).head.rev, prev: null }, keypair)
  blocks.set(signed.cid, signed.bytes)
  return encodeCarBytes(signed.cid, blocks)
}

test('hostile CARs are rejected by name and leave the stored repo untouched', async () => {
  const live = randomRepo(5, 4)
  const incoming = randomRepo(6, 4, TEST_DID, live.keypair)
  const good = carOf(incoming)
  const { sections } = iterateCarBytes(good)
  const all = [...sections]
  const commitCid = incoming.head.commitCid
  const recordCid: CID = walkRepoLeaves(incoming.blocks, incoming.head.dataCid).next().value!.cid
  const nodeCid: CID = [...walkRepoTree(incoming.blocks, incoming.head.dataCid)].find((i) => i.type === 'node' && !i.cid.equals(incoming.head.dataCid))!.cid
  const flipped = Buffer.from(good)
  flipped[flipped.length - 2] = flipped[flipped.length - 2]! ^ 1
  const cases: Array<[string, Uint8Array, string, object?]> = [
    ['truncated', good.subarray(0, good.length - 7), 'TruncatedCar'],
    ['CID mismatch', flipped, 'CidMismatch'],
    ['no roots', handMadeCar({ roots: [], version: 1 }, all.map(sectionBytes)), 'InvalidCarRoots'],
    ['two roots', handMadeCar({ roots: [commitCid, recordCid], version: 1 }, all.map(sectionBytes)), 'InvalidCarRoots'],
    ['missing commit block', carOf(incoming, (b) => b.delete(commitCid)), 'MissingBlock'],
    ['missing record block', carOf(incoming, (b) => b.delete(recordCid)), 'MissingBlock'],
    ['missing MST node', carOf(incoming, (b) => b.delete(nodeCid)), 'MissingBlock'],
    ['non-canonical MST', nonCanonicalCar(live.keypair), 'NonCanonicalMst'],
    ['signed by another key', good, 'BadCommitSignature', { key: generateKeypair('k256').publicKey }],
    ['another DID', carOf(randomRepo(7, 1, OTHER_DID)), 'DidMismatch'],
    ['too many blocks', good, 'TooManyBlocks', { blocksMax: 10 }],
    ['oversized block', good, 'BlockTooLarge', { blockBytesMax: 64 }],
    ['garbage', new Uint8Array([0x0a, 1, 2, 3]), 'TruncatedCar'],
  ]
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, live)
    const before = await repoSnapshot(store, TEST_DID)
    for (const [label, car, name, extra] of cases) {
      for (const [mode, memoryBytesMax] of [['memory', undefined], ['staged', 0]] as const) {
        const options = { store, did: TEST_DID, key: live.keypair.publicKey, memoryBytesMax, ...extra }
        await assert.rejects(importRepoCar(chunks(car, 1000), options), { name }, `${label} (${mode})`)
        assert.deepEqual(await repoSnapshot(store, TEST_DID), before, `${label}: stored repo unchanged`)
        assert.ok(await empty(store.iterateBlocks(stagingNamespace(TEST_DID))), `${label}: staging cleared`)
      }
      if (extra === undefined) assert.throws(() => verifyRepoCarBytes(car, { did: TEST_DID }), { name }, `${label} (in memory)`)
    }
    await importRepoCar(good, { store, did: TEST_DID, key: live.keypair.publicKey }) // the untampered CAR is fine
    assert.ok(store.getHead(TEST_DID)!.commitCid.equals(commitCid))
  })
})

test('an import whose source fails half way leaves nothing behind', async () => {
  const live = randomRepo(8, 3)
  const incoming = randomRepo(9, 10)
  const car = carOf(incoming)
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, live)
    const before = await repoSnapshot(store, TEST_DID)
    async function* failing() {
      yield* chunks(car.subarray(0, car.length >> 1), 4096)
      throw new Error('connection reset')
    }
    for (const memoryBytesMax of [undefined, 0]) {
      await assert.rejects(importRepoCar(failing(), { store, did: TEST_DID, memoryBytesMax }), /connection reset/)
      assert.deepEqual(await repoSnapshot(store, TEST_DID), before)
      assert.ok(await empty(store.iterateBlocks(stagingNamespace(TEST_DID))))
    }
  })
})

test("a crashed import's leftovers are swept by the next import of that DID", async () => {
  const live = randomRepo(10, 3)
  const incoming = randomRepo(11, 3)
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, live)
    // what a kill -9 during the copy step leaves: staged blocks, and copies in the account's range
    const orphans = [...randomRepo(12, 2).blocks.entries()].map(([cid, bytes]) => ({ cid, bytes }))
    for (const memoryBytesMax of [undefined, 0]) {
      await store.writeBlocks(TEST_DID, orphans)
      await store.writeBlocks(stagingNamespace(TEST_DID), orphans.slice(0, 3))
      // a failed import in between still owes the sweep
      const bad = carOf(incoming, (b) => b.delete(incoming.head.dataCid))
      await assert.rejects(importRepoCar(bad, { store, did: TEST_DID, memoryBytesMax }), { name: 'MissingBlock' })
      assert.ok(!(await empty(store.iterateBlocks(stagingNamespace(TEST_DID)))), 'marker kept')
      await importRepoCar(carOf(incoming), { store, did: TEST_DID, memoryBytesMax })
      await assertExactly(store, incoming)
      assert.ok(await empty(store.iterateBlocks(stagingNamespace(TEST_DID))))
    }
  })
})

test('exporting an unknown repo is RepoNotFound', async () => {
  await withTempStore(async ({ store }) => {
    await assert.rejects(collectBytes(exportRepoCar(store, OTHER_DID)), { name: 'RepoNotFound' })
  })
})

/** The account's key range holds exactly `repo`'s commit, nodes and records. */
async function assertExactly(store: LevelRepoStore, repo: MemoryRepo): Promise<void> {
  assert.ok(store.getHead(TEST_DID)!.commitCid.equals(repo.head.commitCid))
  const expected = new Set([cidKey(repo.head.commitCid)])
  for (const item of walkRepoTree(repo.blocks, repo.head.dataCid)) expected.add(cidKey(item.cid))
  const stored: string[] = []
  for await (const block of store.iterateBlocks(TEST_DID)) stored.push(cidKey(block.cid))
  assert.deepEqual(stored.sort(), [...expected].sort(), 'stale blocks and junk gone, repo complete')
}

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.slice(offset, offset + size)
}
