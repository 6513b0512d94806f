import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { readCarWithRoot as refReadCarWithRoot } from '@atproto/repo'
import { LevelRepoStore } from '../../core/repo/block-store.ts'
import type { RepoHead, RootDb } from '../../core/repo/block-store.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { writeCar, encodeCarBytes } from '../../core/repo/car/writer.ts'
import { readCar } from '../../core/repo/car/reader.ts'
import type { CarBlock } from '../../core/repo/car/section.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { BLOCK_STORE_SCAN_ENTRIES_MAX } from '../../core/limits.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseTid } from '../../core/syntax/tid.ts'
import { makeRng } from '../helpers/prng.ts'
import { blockPairs, collectBytes, hex, randomBlocks } from '../helpers/car-blocks.ts'

const ALICE = parseDid('did:web:alice.example')
const ALICE_ORG = parseDid('did:web:alice.example.org') // shares ALICE's prefix
const BOB = parseDid('did:plc:ewvi7nxzyoun6zhxrhs64oiz')

async function withStore(fn: (store: LevelRepoStore, reopen: () => Promise<LevelRepoStore>) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-block-store-'))
  let db: RootDb = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const reopen = async () => {
    await db.close()
    db = new Level<string, string>(dir)
    await db.open()
    return LevelRepoStore.open(db)
  }
  try {
    await fn(await LevelRepoStore.open(db), reopen)
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
}

function headFor(blocks: readonly CarBlock[], rev: string): RepoHead {
  const commitCid = cidForCbor(encodeCbor({ rev }))
  return { commitCid, rev: parseTid(rev), dataCid: blocks[0]?.cid ?? commitCid }
}

async function exported(store: LevelRepoStore, did: Did): Promise<CarBlock[]> {
  const blocks: CarBlock[] = []
  for await (const block of store.iterateBlocks(did)) blocks.push(block)
  return blocks
}

/** Comparable [cid, hex] pairs, one per CID (a store keeps one copy of a block). */
function sortedPairs(blocks: Iterable<CarBlock>) {
  return [...new Map(blockPairs(blocks))].sort()
}

test('applyCommit writes blocks and head; sync and batched reads see them', async () => {
  await withStore(async (store) => {
    const blocks = randomBlocks(makeRng(40), 20, 300)
    const head = headFor(blocks, '3lbmyhpczwc2w')
    assert.equal(store.getHead(ALICE), null)
    await store.applyCommit(ALICE, { newBlocks: blocks, removedCids: [], head })
    const got = store.getHead(ALICE)
    assert.equal(got?.commitCid.toString(), head.commitCid.toString())
    assert.equal(got?.dataCid.toString(), head.dataCid.toString())
    assert.equal(got?.rev, head.rev)
    const reader = store.readerFor(ALICE)
    for (const block of blocks) {
      assert.equal(hex(store.getBlockSync(ALICE, block.cid)!), hex(block.bytes))
      assert.equal(hex(reader.get(block.cid)!), hex(block.bytes))
      assert.equal(store.getBlockSync(BOB, block.cid), undefined, 'other repos do not see it')
    }
    const missing = cidForCbor(encodeCbor({ missing: true }))
    const many = await store.getBlocks(ALICE, [blocks[3]!.cid, missing])
    assert.equal(hex(many[0]!), hex(blocks[3]!.bytes))
    assert.equal(many[1], undefined)
  })
})

test('removed blocks go, and a block removed and re-added in one commit stays', async () => {
  await withStore(async (store) => {
    const blocks = randomBlocks(makeRng(41), 10, 100)
    await store.applyCommit(ALICE, { newBlocks: blocks, removedCids: [], head: headFor(blocks, '3lbmyhpczwc2w') })
    const next = randomBlocks(makeRng(42), 3, 100)
    const map = new MemoryBlockMap()
    for (const block of [...next, blocks[1]!]) map.set(block.cid, block.bytes)
    const removed = [blocks[0]!.cid, blocks[1]!.cid, blocks[2]!.cid]
    await store.applyCommit(ALICE, { newBlocks: map, removedCids: removed, head: headFor(next, '3lbmyhpczwc2x') })
    assert.equal(store.getBlockSync(ALICE, blocks[0]!.cid), undefined)
    assert.equal(store.getBlockSync(ALICE, blocks[2]!.cid), undefined)
    assert.equal(hex(store.getBlockSync(ALICE, blocks[1]!.cid)!), hex(blocks[1]!.bytes))
    assert.deepEqual(sortedPairs(await exported(store, ALICE)), sortedPairs([...blocks.slice(1, 2), ...blocks.slice(3), ...next]))
    assert.equal(store.getHead(ALICE)?.rev, '3lbmyhpczwc2x')
  })
})

test('applyCommit is atomic: a failing extra op leaves nothing; a good one lands with the commit', async () => {
  await withStore(async (store) => {
    const events = store.db.sublevel<Uint8Array, Uint8Array>('events', { keyEncoding: 'view', valueEncoding: 'view' })
    const first = randomBlocks(makeRng(43), 5, 100)
    const firstHead = headFor(first, '3lbmyhpczwc2w')
    const event = { type: 'put' as const, sublevel: events, key: Uint8Array.of(1), value: Uint8Array.of(42) }
    await store.applyCommit(ALICE, { newBlocks: first, removedCids: [], head: firstHead, extra: [event] })
    assert.deepEqual([...(await events.get(Uint8Array.of(1)))!], [42])

    const second = randomBlocks(makeRng(44), 5, 100)
    const badOp = { type: 'put' as const, sublevel: events, key: null as unknown as Uint8Array, value: Uint8Array.of(1) }
    await assert.rejects(
      store.applyCommit(ALICE, {
        newBlocks: second,
        removedCids: [first[0]!.cid],
        head: headFor(second, '3lbmyhpczwc2x'),
        extra: [badOp],
      }),
    )
    assert.equal(store.getHead(ALICE)?.rev, firstHead.rev, 'head unchanged')
    for (const block of second) assert.equal(store.getBlockSync(ALICE, block.cid), undefined, 'no new block')
    assert.ok(store.getBlockSync(ALICE, first[0]!.cid) !== undefined, 'removal not applied')
  })
})

test('export is one range scan over exactly one repo, in pages, in CID order', async () => {
  await withStore(async (store) => {
    const rng = makeRng(45)
    const alice = randomBlocks(rng, 2 * BLOCK_STORE_SCAN_ENTRIES_MAX + 500, 200)
    const aliceOrg = randomBlocks(rng, 50, 200)
    const bob = randomBlocks(rng, 50, 200)
    const head = headFor(alice, '3lbmyhpczwc2w')
    await store.applyCommit(ALICE, { newBlocks: alice, removedCids: [], head })
    await store.applyCommit(ALICE_ORG, { newBlocks: aliceOrg, removedCids: [], head: headFor(aliceOrg, '3lbmyhpczwc2w') })
    await store.applyCommit(BOB, { newBlocks: bob, removedCids: [], head: headFor(bob, '3lbmyhpczwc2w') })

    const got = await exported(store, ALICE)
    const unique = [...new Map(alice.map((block) => [block.cid.toString(), block])).values()]
    const byCidBytes = unique.sort((a, b) => Buffer.compare(a.cid.bytes, b.cid.bytes))
    assert.deepEqual(blockPairs(got), blockPairs(byCidBytes))
    assert.deepEqual(sortedPairs(await exported(store, ALICE_ORG)), sortedPairs(aliceOrg))
    assert.deepEqual(await exported(store, parseDid('did:web:nobody.example')), [])

    const car = await collectBytes(writeCar(head.commitCid, store.iterateBlocks(ALICE)))
    const theirs = await refReadCarWithRoot(car)
    assert.equal(theirs.root.toString(), head.commitCid.toString())
    assert.equal(theirs.blocks.size, unique.length)
  })
})

test('deleteRepo removes one repo (head, blocks), atomically with extra ops, idempotently', async () => {
  await withStore(async (store) => {
    const tombstones = store.db.sublevel<string, string>('tombstones', { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    const rng = makeRng(46)
    const alice = randomBlocks(rng, 1_200, 100)
    const aliceOrg = randomBlocks(rng, 30, 100)
    await store.applyCommit(ALICE, { newBlocks: alice, removedCids: [], head: headFor(alice, '3lbmyhpczwc2w') })
    await store.applyCommit(ALICE_ORG, { newBlocks: aliceOrg, removedCids: [], head: headFor(aliceOrg, '3lbmyhpczwc2w') })
    await store.deleteRepo(ALICE, { extra: [{ type: 'put', sublevel: tombstones, key: ALICE, value: 'deleted' }] })
    assert.equal(store.getHead(ALICE), null)
    assert.deepEqual(await exported(store, ALICE), [])
    assert.equal(store.getBlockSync(ALICE, alice[0]!.cid), undefined)
    assert.equal(await tombstones.get(ALICE), 'deleted')
    assert.equal(store.getHead(ALICE_ORG)?.rev, '3lbmyhpczwc2w')
    assert.deepEqual(sortedPairs(await exported(store, ALICE_ORG)), sortedPairs(aliceOrg))
    await store.deleteRepo(ALICE)
    assert.equal(store.getHead(ALICE), null)
  })
})

test('a reopened database still has every block and head', async () => {
  await withStore(async (store, reopen) => {
    const blocks = randomBlocks(makeRng(47), 30, 500)
    const head = headFor(blocks, '3lbmyhpczwc2w')
    await store.applyCommit(BOB, { newBlocks: blocks, removedCids: [], head })
    const again = await reopen()
    assert.equal(again.getHead(BOB)?.commitCid.toString(), head.commitCid.toString())
    assert.deepEqual(sortedPairs(await exported(again, BOB)), sortedPairs(blocks))
    assert.equal(hex(again.readerFor(BOB).get(blocks[7]!.cid)!), hex(blocks[7]!.bytes))
  })
})

test('writeBlocks bulk-loads a streamed CAR; listHeads pages through repos in DID order', async () => {
  await withStore(async (store) => {
    const blocks = randomBlocks(makeRng(48), 2_345, 100)
    const head = headFor(blocks, '3lbmyhpczwc2w')
    const car = await readCar(encodeCarBytes(head.commitCid, blocks))
    assert.equal(await store.writeBlocks(BOB, car.blocks), blocks.length)
    await store.applyCommit(BOB, { newBlocks: [], removedCids: [], head })
    assert.deepEqual(sortedPairs(await exported(store, BOB)), sortedPairs(blocks))

    for (const did of [ALICE, ALICE_ORG]) {
      await store.applyCommit(did, { newBlocks: [], removedCids: [], head })
    }
    const page1 = await store.listHeads({ limit: 2 })
    assert.deepEqual(page1.map((entry) => entry.did), [BOB, ALICE].sort())
    const page2 = await store.listHeads({ after: page1[1]!.did, limit: 2 })
    assert.deepEqual(page2.map((entry) => entry.did), [ALICE_ORG])
    assert.equal(page2[0]!.head.commitCid.toString(), head.commitCid.toString())
  })
})
