/**
 * The block store's key layout is the sublevel layout it had before it went
 * through the root db: what the store writes, the sublevels read (and the
 * other way round), so existing data needs no migration. Also: the root db's
 * own encodings do not matter, bulk writes are split by bytes as well as by
 * count, and the key-only scan, block deletes and range clear.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { LevelRepoStore } from '../../core/repo/block-store.ts'
import type { RootDb } from '../../core/repo/block-store.ts'
import { blockKey, blockKeyPrefix, didKey } from '../../core/repo/store/keys.ts'
import { decodeRepoHead, encodeRepoHead } from '../../core/repo/store/repo-head.ts'
import type { CarBlock } from '../../core/repo/car/section.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { BLOCK_STORE_SCAN_ENTRIES_MAX, BLOCK_STORE_WRITE_BATCH_BYTES_MAX } from '../../core/limits.ts'
import { parseDid } from '../../core/syntax/did.ts'
import { parseTid } from '../../core/syntax/tid.ts'
import { makeRng } from '../helpers/prng.ts'
import { hex, randomBlocks } from '../helpers/car-blocks.ts'

const ALICE = parseDid('did:web:alice.example')
const ALICE_ORG = parseDid('did:web:alice.example.org')
const BINARY = { keyEncoding: 'view', valueEncoding: 'view' } as const

async function withDb(fn: (db: RootDb) => Promise<void>, encoding: 'utf8' | 'view' = 'view'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-store-layout-'))
  const db: RootDb = new Level<any, any>(dir, { keyEncoding: encoding, valueEncoding: encoding })
  await db.open()
  try {
    await fn(db)
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
}

function headOf(rev: string) {
  const commitCid = cidForCbor(encodeCbor({ rev }))
  return { commitCid, rev: parseTid(rev), dataCid: commitCid }
}

for (const encoding of ['view', 'utf8'] as const) {
  test(`store and sublevels see the same keys (root db encoding ${encoding})`, async () => {
    await withDb(async (db) => {
      const store = await LevelRepoStore.open(db)
      const blocksSub = db.sublevel<Uint8Array, Uint8Array>(['repo', 'blocks'], BINARY)
      const headsSub = db.sublevel<Uint8Array, Uint8Array>(['repo', 'heads'], BINARY)
      await Promise.all([blocksSub.open(), headsSub.open()])
      const [written, legacy] = [randomBlocks(makeRng(1), 5, 200), randomBlocks(makeRng(2), 5, 200)]
      await store.applyCommit(ALICE, { newBlocks: written, removedCids: [], head: headOf('3lbmyhpczwc2w') })
      for (const block of written) {
        assert.equal(hex(blocksSub.getSync(blockKey(blockKeyPrefix(ALICE), block.cid))!), hex(block.bytes))
      }
      assert.equal(decodeRepoHead(headsSub.getSync(didKey(ALICE))!).rev, '3lbmyhpczwc2w')
      // data written the old way (through the sublevels) reads back through the store
      for (const block of legacy) await blocksSub.put(blockKey(blockKeyPrefix(ALICE_ORG), block.cid), block.bytes)
      await headsSub.put(didKey(ALICE_ORG), encodeRepoHead(headOf('3lbmyhpczwc2x')))
      for (const block of legacy) assert.equal(hex(store.getBlockSync(ALICE_ORG, block.cid)!), hex(block.bytes))
      assert.equal(store.getHead(ALICE_ORG)?.rev, '3lbmyhpczwc2x')
      const listed = await store.listHeads({ limit: 10 })
      assert.deepEqual(listed.map((entry) => entry.did), [ALICE, ALICE_ORG])
      assert.deepEqual((await store.listHeads({ after: ALICE, limit: 10 })).map((entry) => entry.did), [ALICE_ORG])
      let count = 0
      for await (const block of store.iterateBlocks(ALICE)) count += written.some((w) => w.cid.equals(block.cid)) ? 1 : 0
      assert.equal(count, written.length, 'a DID that prefixes another sees only its own blocks')
    }, encoding)
  })
}

test('writeBlocks splits batches by bytes as well as by count', async () => {
  await withDb(async (db) => {
    const store = await LevelRepoStore.open(db)
    const size = 100_000
    const blocks: CarBlock[] = Array.from({ length: Math.ceil((3 * BLOCK_STORE_WRITE_BATCH_BYTES_MAX) / size) }, (_, i) => {
      const bytes = encodeCbor({ i, pad: 'x'.repeat(size) })
      return { cid: cidForCbor(bytes), bytes }
    })
    let writes = 0
    const batch = db.batch.bind(db)
    db.batch = ((...args: unknown[]) => {
      const chained = (batch as (...a: unknown[]) => ReturnType<RootDb['batch']>)(...args)
      if (args.length === 0) {
        const write = (chained as { write: (o?: object) => Promise<void> }).write.bind(chained)
        ;(chained as { write: (o?: object) => Promise<void> }).write = (options) => {
          writes++
          return write(options)
        }
      }
      return chained
    }) as RootDb['batch']
    assert.equal(await store.writeBlocks(ALICE, blocks), blocks.length)
    assert.ok(blocks.length < 1000 && writes >= 3, `${blocks.length} blocks of ~${size} bytes took ${writes} batches`)
    for (const block of blocks) assert.equal(store.getBlockSync(ALICE, block.cid)?.length, block.bytes.length)
  })
})

test('iterateCids pages in CID order; deleteBlocks and clearBlocks touch one repo only', async () => {
  await withDb(async (db) => {
    const store = await LevelRepoStore.open(db)
    const mine = randomBlocks(makeRng(3), BLOCK_STORE_SCAN_ENTRIES_MAX + 7, 40)
    const theirs = randomBlocks(makeRng(4), 20, 40)
    await store.writeBlocks(ALICE, mine)
    await store.writeBlocks(ALICE_ORG, theirs)
    const pages: string[][] = []
    for await (const page of store.iterateCids(ALICE)) pages.push(page.map((cid) => hex(cid.bytes)))
    assert.ok(pages.length >= 2 && pages.every((page) => page.length > 0 && page.length <= BLOCK_STORE_SCAN_ENTRIES_MAX))
    const unique = [...new Set(mine.map((b) => hex(b.cid.bytes)))].sort()
    assert.deepEqual(pages.flat(), unique)
    await store.deleteBlocks(ALICE, mine.slice(0, 10).map((b) => b.cid))
    for (const block of mine.slice(0, 10)) assert.equal(store.getBlockSync(ALICE, block.cid), undefined)
    assert.ok(store.getBlockSync(ALICE, mine[10]!.cid) !== undefined)
    await store.clearBlocks(ALICE)
    for await (const _ of store.iterateCids(ALICE)) assert.fail('cleared')
    for (const block of theirs) assert.ok(store.getBlockSync(ALICE_ORG, block.cid) !== undefined, 'other repo untouched')
  })
})
