/**
 * The three ways into importRepoCar (in memory, direct into the account's
 * key space, staged), each held to the same outcome: the account's key range
 * holds exactly the new repo (no junk, no stale blocks), the caller's extra
 * ops land with the head, a bad CAR leaves the stored repo byte for byte as
 * it was, and the scratch key spaces are empty afterwards. Direct-specific:
 * a block the account already has does not stand in for one the CAR lacks,
 * and a new account's initial blocks are swept. The read-tracking index of
 * the in-memory check is tested on its own (collisions, first copy wins).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeCbor } from '../../core/data/cbor.ts'
import { CID, cidForCbor } from '../../core/data/cid.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { cidKey, MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { LevelRepoStore } from '../../core/repo/block-store.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { importRepoCar, marksNamespace, stagingNamespace } from '../../core/repo/import.ts'
import { ReadTrackingBlocks } from '../../core/repo/import-memory.ts'
import { walkRepoLeaves, walkRepoTree } from '../../core/repo/repo-walk.ts'
import { makeRng } from '../helpers/prng.ts'
import { MemoryRepo, randomWrites, TEST_DID } from '../helpers/repo-writes.ts'
import { repoSnapshot, storeMemoryRepo, withTempStore } from '../helpers/repo-store.ts'

type Mode = { label: string; memoryBytesMax?: number; direct?: boolean }
const MODES: Mode[] = [
  { label: 'in memory' },
  { label: 'direct', memoryBytesMax: 0 },
  { label: 'staged', memoryBytesMax: 0, direct: false },
]

function grownRepo(seed: number, commits: number, keypair = generateKeypair('k256')): MemoryRepo {
  const rng = makeRng(seed)
  const repo = new MemoryRepo(TEST_DID, keypair)
  for (let i = 0; i < commits; i++) repo.apply(randomWrites(rng, new Set(repo.records.keys()), 1 + rng.int(80)))
  return repo
}

function carOf(repo: MemoryRepo, edit?: (blocks: MemoryBlockMap) => void): Uint8Array {
  const blocks = new MemoryBlockMap().addAll(repo.blocks)
  edit?.(blocks)
  return encodeCarBytes(repo.head.commitCid, blocks)
}

async function* pieces(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += 777) yield bytes.slice(offset, offset + 777)
}

async function keysOf(store: LevelRepoStore, did: typeof TEST_DID): Promise<string[]> {
  const keys: string[] = []
  for await (const page of store.iterateCids(did)) for (const cid of page) keys.push(cidKey(cid))
  return keys.sort()
}

async function assertExactly(store: LevelRepoStore, repo: MemoryRepo, label: string): Promise<void> {
  assert.ok(store.getHead(TEST_DID)!.commitCid.equals(repo.head.commitCid), `${label}: head`)
  const expected = new Set([cidKey(repo.head.commitCid)])
  for (const item of walkRepoTree(repo.blocks, repo.head.dataCid)) expected.add(cidKey(item.cid))
  assert.deepEqual(await keysOf(store, TEST_DID), [...expected].sort(), `${label}: exactly the repo`)
  assert.deepEqual(await keysOf(store, stagingNamespace(TEST_DID)), [], `${label}: staging empty`)
  assert.deepEqual(await keysOf(store, marksNamespace(TEST_DID)), [], `${label}: marks empty`)
}

const junk = encodeCbor({ junk: 'carried but unreferenced' })

test('each way in replaces a new account, then an older repo, exactly (junk and stale blocks gone)', async () => {
  const keypair = generateKeypair('k256')
  const incoming = grownRepo(21, 5, keypair)
  const car = carOf(incoming, (blocks) => blocks.set(cidForCbor(junk), junk))
  for (const mode of MODES) {
    await withTempStore(async ({ store, db }) => {
      await storeMemoryRepo(store, new MemoryRepo(TEST_DID, keypair)) // createAccount: initial commit only
      const marker = db.sublevel<string, string>('marker', { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      const extra = [{ type: 'put' as const, sublevel: marker, key: 'event', value: mode.label }]
      const imported = await importRepoCar(pieces(car), { store, did: TEST_DID, key: keypair.publicKey, extra, ...mode })
      assert.equal(imported.records, incoming.records.size)
      assert.equal(imported.bytes, car.length)
      assert.equal(await marker.get('event'), mode.label)
      await assertExactly(store, incoming, `${mode.label}, new account`)
      const next = grownRepo(22, 3, keypair)
      await importRepoCar(pieces(carOf(next)), { store, did: TEST_DID, ...mode })
      await assertExactly(store, next, `${mode.label}, over a repo`)
    })
  }
})

test('direct: the marks are one-byte values, never empty (classic-level leaks one allocation per empty value written)', async () => {
  const keypair = generateKeypair('k256')
  const incoming = grownRepo(25, 3, keypair)
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, new MemoryRepo(TEST_DID, keypair))
    const writeBlocks = store.writeBlocks.bind(store)
    const written: number[] = []
    store.writeBlocks = async (did, blocks) => {
      const all = []
      for await (const b of blocks) all.push(b)
      if (did === marksNamespace(TEST_DID)) for (const b of all) written.push(b.bytes.length)
      return await writeBlocks(did, all)
    }
    await importRepoCar(pieces(carOf(incoming)), { store, did: TEST_DID, key: keypair.publicKey, memoryBytesMax: 0 })
    assert.ok(written.length > incoming.records.size, `marks written: ${written.length}`)
    assert.deepEqual(new Set(written), new Set([1]))
    await assertExactly(store, incoming, 'direct, with the write watched')
  })
})

test('a bad CAR leaves the stored repo as it was, in each way', async () => {
  const live = grownRepo(23, 3)
  const incoming = grownRepo(24, 4, live.keypair)
  const record = walkRepoLeaves(incoming.blocks, incoming.head.dataCid).next().value!.cid
  const cases: Array<[string, Uint8Array, string]> = [
    ['missing record', carOf(incoming, (b) => b.delete(record)), 'MissingBlock'],
    ['missing root node', carOf(incoming, (b) => b.delete(incoming.head.dataCid)), 'MissingBlock'],
    ['truncated', carOf(incoming).subarray(0, 5_000), 'TruncatedCar'],
  ]
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, live)
    const before = await repoSnapshot(store, TEST_DID)
    for (const mode of MODES) {
      for (const [label, car, name] of cases) {
        await assert.rejects(importRepoCar(pieces(car), { store, did: TEST_DID, key: live.keypair.publicKey, ...mode }), { name }, `${label} (${mode.label})`)
        assert.deepEqual(await repoSnapshot(store, TEST_DID), before, `${label} (${mode.label}): stored repo unchanged`)
        assert.deepEqual(await keysOf(store, stagingNamespace(TEST_DID)), [], `${label} (${mode.label}): staging empty`)
        assert.deepEqual(await keysOf(store, marksNamespace(TEST_DID)), [], `${label} (${mode.label}): marks empty`)
      }
    }
  })
})

test('direct: a block the account already holds does not stand in for one the CAR lacks', async () => {
  const keypair = generateKeypair('k256')
  const live = grownRepo(25, 3, keypair)
  // the next repo keeps most of live's records and nodes; drop one of those shared blocks from its CAR
  const next = grownRepo(25, 3, keypair)
  next.apply(randomWrites(makeRng(26), new Set(next.records.keys()), 5))
  const shared = [...walkRepoLeaves(next.blocks, next.head.dataCid)].find((leaf) => live.blocks.has(leaf.cid))!.cid
  await withTempStore(async ({ store }) => {
    await storeMemoryRepo(store, live)
    assert.ok(store.getBlockSync(TEST_DID, shared) !== undefined, 'the account holds the shared block')
    const before = await repoSnapshot(store, TEST_DID)
    const car = carOf(next, (b) => b.delete(shared))
    await assert.rejects(importRepoCar(pieces(car), { store, did: TEST_DID, memoryBytesMax: 0 }), { name: 'MissingBlock' })
    assert.deepEqual(await repoSnapshot(store, TEST_DID), before)
    await importRepoCar(pieces(carOf(next)), { store, did: TEST_DID, memoryBytesMax: 0 })
    await assertExactly(store, next, 'direct over a related repo')
  })
})

test('ReadTrackingBlocks: digest-prefix collisions chain, first copy wins, only read blocks come back', () => {
  const index = new ReadTrackingBlocks()
  const make = (tail: number) => {
    const bytes = Uint8Array.from([0x01, 0x71, 0x12, 0x20, ...new Array(32).fill(7)])
    bytes[35] = tail // bytes 4..10 equal: the same index number
    return CID.decode(bytes)
  }
  const [a, b, c] = [make(1), make(2), make(3)]
  index.add({ cid: a, bytes: Uint8Array.of(1) })
  index.add({ cid: b, bytes: Uint8Array.of(2) })
  index.add({ cid: a, bytes: Uint8Array.of(9) }) // a duplicate section: the first copy stays
  assert.deepEqual(index.get(a), Uint8Array.of(1))
  assert.equal(index.get(c), undefined, 'same number, different CID: absent')
  assert.equal(index.wasRead(a), true)
  assert.equal(index.wasRead(b), false)
  assert.deepEqual([...index.readBlocks()].map((block) => block.cid.toString()), [a.toString()])
  assert.deepEqual(index.get(b), Uint8Array.of(2))
  assert.deepEqual([...index.readBlocks()].map((block) => block.cid.toString()).sort(), [a.toString(), b.toString()].sort())
  const short = CID.decode(Uint8Array.from([0x01, 0x55, 0x00, 0x03, 1, 2, 3])) // identity hash: never indexed
  assert.equal(index.get(short), undefined)
})
