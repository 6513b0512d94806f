import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CarWriter } from '@ipld/car/writer'
import { BlockMap, blocksToCarFile, readCarWithRoot as refReadCarWithRoot } from '@atproto/repo'
import { encodeCarBytes, writeCar } from '../../core/repo/car/writer.ts'
import { readCar, readCarWithSingleRoot } from '../../core/repo/car/reader.ts'
import { decodeCarBytes, decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import type { CarBlock } from '../../core/repo/car/section.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { CID } from '../../core/data/cid.ts'
import { CAR_WRITE_CHUNK_BYTES } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'
import {
  blockPairs,
  chunked,
  collectBytes,
  concatBytes,
  hex,
  randomBlocks,
  readAll,
  rootCid,
} from '../helpers/car-blocks.ts'

async function referenceCar(root: CID | null, blocks: readonly CarBlock[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(root === null ? [] : [root])
  const collecting = collectBytes(out)
  for (const block of blocks) await writer.put(block)
  await writer.close()
  return collecting
}

function pairsOfMap(map: MemoryBlockMap): Array<[string, string]> {
  return Array.from(map.entries(), ([cid, bytes]): [string, string] => [cid.toString(), hex(bytes)]).sort()
}

test('writeCar and encodeCarBytes are byte-identical to @ipld/car CarWriter', async () => {
  const rng = makeRng(1)
  const huge = randomBlocks(makeRng(7), 40, 300_000).filter((block) => block.bytes.length > CAR_WRITE_CHUNK_BYTES)
  assert.ok(huge.length > 0, 'fixture has a block larger than a write chunk')
  const cases: Array<[string, CID | null, CarBlock[]]> = [
    ['root, small blocks', rootCid(), randomBlocks(rng, 50, 2_000)],
    ['root, no blocks', rootCid(), []],
    ['no root (getBlocks)', null, randomBlocks(rng, 3, 100)],
    ['blocks spanning several chunks', rootCid(), randomBlocks(rng, 400, 1_000)],
    ['blocks larger than a chunk', rootCid(), [huge[0]!, ...randomBlocks(rng, 30, 5_000), ...huge]],
  ]
  for (const [name, root, blocks] of cases) {
    const expected = hex(await referenceCar(root, blocks))
    const chunks: Uint8Array[] = []
    for await (const chunk of writeCar(root, blocks)) chunks.push(chunk)
    assert.equal(hex(concatBytes(chunks)), expected, `${name}: writeCar`)
    assert.equal(hex(encodeCarBytes(root, blocks)), expected, `${name}: encodeCarBytes`)
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
    const bigBlocks = blocks.filter((block) => block.bytes.length > CAR_WRITE_CHUNK_BYTES).length
    const chunksMax = 2 * Math.ceil(total / CAR_WRITE_CHUNK_BYTES) + 2 * bigBlocks
    assert.ok(chunks.length <= chunksMax, `${name}: sections are packed into chunks (${chunks.length})`)
  }
})

test('writers take a MemoryBlockMap and async block sources', async () => {
  const blocks = randomBlocks(makeRng(2), 20, 500)
  const map = new MemoryBlockMap()
  for (const block of blocks) map.set(block.cid, block.bytes)
  async function* source(): AsyncGenerator<CarBlock> {
    yield* blocks
  }
  const expected = hex(encodeCarBytes(rootCid(), blocks))
  assert.equal(hex(encodeCarBytes(rootCid(), map)), expected)
  assert.equal(hex(await collectBytes(writeCar(rootCid(), map))), expected)
  assert.equal(hex(await collectBytes(writeCar(rootCid(), source()))), expected)
})

test('@atproto/repo readCarWithRoot reads our CARs', async () => {
  const blocks = randomBlocks(makeRng(3), 60, 3_000)
  const car = await collectBytes(writeCar(rootCid(), blocks))
  const theirs = await refReadCarWithRoot(car)
  assert.equal(theirs.root.toString(), rootCid().toString())
  const got: Array<[string, string]> = []
  theirs.blocks.forEach((bytes, cid) => got.push([cid.toString(), hex(bytes)]))
  assert.deepEqual(got.sort(), blockPairs(blocks).sort())
})

test('we read @atproto/repo CARs, streaming and in one buffer', async () => {
  const theirBlocks = new BlockMap()
  let root: Awaited<ReturnType<BlockMap['add']>> | undefined
  for (let i = 0; i < 50; i++) {
    const cid = await theirBlocks.add({ $type: 'app.bsky.feed.post', text: `post ${i}`, n: i })
    root ??= cid
  }
  const car = await blocksToCarFile(root!, theirBlocks)
  const expected: Array<[string, string]> = []
  theirBlocks.forEach((bytes, cid) => expected.push([cid.toString(), hex(bytes)]))

  const whole = decodeCarWithSingleRoot(car)
  assert.equal(whole.root.toString(), root!.toString())
  assert.deepEqual(pairsOfMap(whole.blocks), expected.sort())

  const streamed = await readCarWithSingleRoot(chunked(car, makeRng(4), 100))
  assert.equal(streamed.root.toString(), root!.toString())
  const got: CarBlock[] = []
  for await (const block of streamed.blocks) got.push(block)
  assert.deepEqual(blockPairs(got).sort(), expected.sort())
})

test('property: random CARs round-trip through every reader, whatever the chunking', async () => {
  for (let seed = 10; seed < 40; seed++) {
    const rng = makeRng(seed)
    const blocks = randomBlocks(rng, rng.int(60), rng.pick([10, 300, 5_000]))
    if (blocks.length > 0 && rng.int(3) === 0) blocks.push(rng.pick(blocks)) // a duplicate
    const root = rng.int(4) === 0 ? null : rootCid(`seed ${seed}`)
    const car = encodeCarBytes(root, blocks)
    const want = blockPairs(blocks)

    const streamed = await readAll(chunked(car, rng, rng.pick([1, 7, 64, 4_096])))
    assert.deepEqual(streamed.roots.map(String), root === null ? [] : [root.toString()], `seed ${seed}`)
    assert.deepEqual(blockPairs(streamed.blocks), want, `seed ${seed}: streamed blocks in order`)

    const inMemory = await readAll(car)
    assert.deepEqual(blockPairs(inMemory.blocks), want, `seed ${seed}: one buffer`)

    const decoded = decodeCarBytes(car)
    assert.deepEqual(pairsOfMap(decoded.blocks), [...new Map(want)].sort(), `seed ${seed}: decodeCarBytes`)
  }
})

test('streamed blocks do not alias the source chunks', async () => {
  const blocks = randomBlocks(makeRng(5), 10, 200)
  const car = encodeCarBytes(rootCid(), blocks)
  const chunk = new Uint8Array(car)
  async function* once(): AsyncGenerator<Uint8Array> {
    yield chunk
  }
  const { blocks: got } = await readAll(once())
  chunk.fill(0)
  assert.deepEqual(blockPairs(got), blockPairs(blocks))
})

test('readCar hands back the roots before any block is read', async () => {
  const blocks = randomBlocks(makeRng(6), 5, 100)
  const car = await readCar(encodeCarBytes(rootCid(), blocks))
  assert.equal(car.roots[0]!.toString(), rootCid().toString())
  const first = await car.blocks.next()
  assert.equal(first.done, false)
  await car.blocks.return()
})
