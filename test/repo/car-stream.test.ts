import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { writeCar, encodeCarBytes } from '../../core/repo/car/writer.ts'
import { readCar, readCarWithSingleRoot } from '../../core/repo/car/reader.ts'
import type { CarBlock } from '../../core/repo/car/section.ts'
import { cidForRaw } from '../../core/data/cid.ts'
import { makeRng } from '../helpers/prng.ts'
import { randomBlocks, rootCid } from '../helpers/car-blocks.ts'

const BLOCK_COUNT = 100_000
const BLOCK_BYTES = 400
const MEMORY_GROWTH_BYTES_MAX = 16 * 1024 * 1024

function* generatedBlocks(): Generator<CarBlock> {
  for (let i = 0; i < BLOCK_COUNT; i++) {
    const bytes = new Uint8Array(BLOCK_BYTES).fill(i % 251)
    new DataView(bytes.buffer).setUint32(0, i)
    yield { cid: cidForRaw(bytes), bytes }
  }
}

// A full GC before each sample, so we measure what is still alive rather than how
// lazily V8 collects (the test runner's async hooks make garbage pile up).
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

function liveMemory(): number {
  collectGarbage()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

test(`streaming ${BLOCK_COUNT} blocks (${(BLOCK_COUNT * BLOCK_BYTES) / 1e6} MB) writer → reader keeps live memory flat`, async () => {
  const baseline = liveMemory()
  let peak = baseline
  const car = await readCar(writeCar(rootCid(), generatedBlocks()))
  let count = 0
  let bytes = 0
  for await (const block of car.blocks) {
    assert.equal(new DataView(block.bytes.buffer, block.bytes.byteOffset).getUint32(0), count)
    count++
    bytes += block.bytes.length
    if (count % 10_000 === 0) peak = Math.max(peak, liveMemory())
  }
  assert.equal(count, BLOCK_COUNT)
  assert.equal(bytes, BLOCK_COUNT * BLOCK_BYTES)
  const growth = peak - baseline
  assert.ok(growth < MEMORY_GROWTH_BYTES_MAX, `memory grew by ${(growth / 1e6).toFixed(1)} MB`)
})

function trackedSource(bytes: Uint8Array, chunkBytes: number) {
  const state = { closed: false, pulled: 0 }
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
        state.pulled++
        yield bytes.slice(offset, offset + chunkBytes)
      }
    } finally {
      state.closed = true
    }
  }
  return { state, source: source() }
}

test('the source is closed: at the end, on break, on return() before iterating, on error', async () => {
  const car = encodeCarBytes(rootCid(), randomBlocks(makeRng(30), 50, 300))

  const full = trackedSource(car, 64)
  for await (const _ of (await readCar(full.source)).blocks);
  assert.ok(full.state.closed, 'after the last block')

  const broken = trackedSource(car, 64)
  for await (const _ of (await readCar(broken.source)).blocks) break
  assert.ok(broken.state.closed, 'after break')
  assert.ok(broken.state.pulled < car.length / 64, 'did not read the rest')

  const unstarted = trackedSource(car, 64)
  await (await readCar(unstarted.source)).blocks.return()
  assert.ok(unstarted.state.closed, 'return() before the first next()')

  const corrupt = Uint8Array.from(car)
  corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 1
  const failing = trackedSource(corrupt, 64)
  const stream = await readCar(failing.source)
  await assert.rejects(async () => {
    for await (const _ of stream.blocks);
  }, { name: 'CidMismatch' })
  assert.ok(failing.state.closed, 'after an error')

  const noRoot = trackedSource(encodeCarBytes(null, []), 64)
  await assert.rejects(readCarWithSingleRoot(noRoot.source), { name: 'InvalidCarRoots' })
  assert.ok(noRoot.state.closed, 'after a header error')
})

test('the reader pulls only as far as it needs', async () => {
  const blocks = randomBlocks(makeRng(31), 200, 300)
  const tracked = trackedSource(encodeCarBytes(rootCid(), blocks), 100)
  const car = await readCar(tracked.source)
  assert.ok(tracked.state.pulled <= 2, `header needed ${tracked.state.pulled} chunks`)
  await car.blocks.next()
  assert.ok(tracked.state.pulled <= 6, `first block needed ${tracked.state.pulled} chunks`)
  await car.blocks.return()
})
