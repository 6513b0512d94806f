import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { readCarWithSingleRoot } from '../../core/repo/car/reader.ts'
import { decodeCarBytes, decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import type { ReadCarOptions } from '../../core/repo/car/section.ts'
import { isAtfedError } from '../../core/errors.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import { CID, cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { CAR_BLOCK_BYTES_MAX, CAR_HEADER_BYTES_MAX } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'
import {
  blockPairs,
  chunked,
  concatBytes,
  framed,
  handMadeCar,
  randomBlocks,
  readAll,
  rootCid,
  sectionBytes,
  varint,
} from '../helpers/car-blocks.ts'

const CAR_ERRORS = ['InvalidCar', 'TruncatedCar', 'BlockTooLarge', 'CidMismatch', 'InvalidCarRoots']
const ROOT = rootCid()
const GOOD_HEADER = { roots: [ROOT], version: 1 }

/** Tiny chunks for small CARs; bigger ones for big CARs so the test stays fast. */
function chunksOf(car: Uint8Array) {
  return chunked(car, makeRng(car.length), car.length > 100_000 ? 65_536 : 3)
}

/** Every reader (sync, stream over one buffer, stream over small chunks) rejects with `name`. */
async function expectRejected(car: Uint8Array, name: string, message: string, options?: ReadCarOptions) {
  assert.throws(() => decodeCarBytes(car, options), { name }, `${message} (decodeCarBytes)`)
  await assert.rejects(readAll(car, options), { name }, `${message} (readCar, one buffer)`)
  await assert.rejects(readAll(chunksOf(car), options), { name }, `${message} (readCar, chunks)`)
}

async function expectAccepted(car: Uint8Array, message: string, options?: ReadCarOptions) {
  assert.doesNotThrow(() => decodeCarBytes(car, options), message)
  await readAll(chunksOf(car), options)
}

test('truncation at every byte offset: TruncatedCar, or a clean prefix at a section boundary', async () => {
  const blocks = randomBlocks(makeRng(20), 4, 40)
  const car = encodeCarBytes(ROOT, blocks)
  const headerEnd = framed(encodeCbor(GOOD_HEADER)).length
  const boundaries = new Map<number, number>([[headerEnd, 0]])
  let offset = headerEnd
  blocks.forEach((block, i) => {
    offset += sectionBytes(block).length
    boundaries.set(offset, i + 1)
  })
  assert.equal(offset, car.length)
  for (let cut = 0; cut < car.length; cut++) {
    const prefix = car.slice(0, cut)
    const complete = boundaries.get(cut)
    if (complete === undefined) {
      await expectRejected(prefix, 'TruncatedCar', `cut at ${cut}`)
    } else {
      const want = blockPairs(blocks.slice(0, complete))
      const decoded = Array.from(decodeCarBytes(prefix).blocks.entries(), ([cid, bytes]) => ({ cid, bytes }))
      assert.deepEqual(blockPairs(decoded).sort(), [...want].sort(), `cut at ${cut}`)
      assert.deepEqual(blockPairs((await readAll(chunked(prefix, makeRng(cut), 5))).blocks), want, `cut at ${cut}`)
    }
  }
})

test('a block that does not hash to its CID is CidMismatch (unless verifyCids is off)', async () => {
  const [block] = randomBlocks(makeRng(21), 1, 50)
  const tampered = Uint8Array.from(block!.bytes)
  tampered[0] = tampered[0]! ^ 0xff
  const car = handMadeCar(GOOD_HEADER, [sectionBytes({ cid: block!.cid, bytes: tampered })])
  await expectRejected(car, 'CidMismatch', 'tampered block')
  await expectAccepted(car, 'tampered block, verifyCids off', { verifyCids: false })
})

test('blocks over blockBytesMax are BlockTooLarge, checked before reading them', async () => {
  const at = new Uint8Array(10).fill(7)
  const over = new Uint8Array(11).fill(7)
  const options = { blockBytesMax: 10 }
  await expectAccepted(handMadeCar(GOOD_HEADER, [sectionBytes({ cid: cidForRaw(at), bytes: at })]), 'at limit', options)
  const overCar = handMadeCar(GOOD_HEADER, [sectionBytes({ cid: cidForRaw(over), bytes: over })])
  await expectRejected(overCar, 'BlockTooLarge', 'one byte over', options)

  const defaultMax = new Uint8Array(CAR_BLOCK_BYTES_MAX)
  await expectAccepted(encodeCarBytes(ROOT, [{ cid: cidForRaw(defaultMax), bytes: defaultMax }]), 'default limit')
  const claimOnly = handMadeCar(GOOD_HEADER, [varint(36 + CAR_BLOCK_BYTES_MAX + 1), ROOT.bytes])
  await expectRejected(claimOnly, 'BlockTooLarge', 'a length claim over the default limit, without the bytes')
  const hugeClaim = handMadeCar(GOOD_HEADER, [Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])])
  await expectRejected(hugeClaim, 'BlockTooLarge', 'a 2^56 length claim')
})

test('bad headers are InvalidCar', async () => {
  const sections = [sectionBytes(randomBlocks(makeRng(22), 1, 10)[0]!)]
  const cases: Array<[string, Uint8Array]> = [
    ['header length 0', concatBytes([varint(0), ...sections])],
    ['header over CAR_HEADER_BYTES_MAX', concatBytes([varint(CAR_HEADER_BYTES_MAX + 1), new Uint8Array(CAR_HEADER_BYTES_MAX + 1)])],
    ['header not CBOR', concatBytes([framed(Uint8Array.from([0xff, 0x00])), ...sections])],
    ['trailing bytes in header', concatBytes([framed(concatBytes([encodeCbor(GOOD_HEADER), Uint8Array.of(0)])), ...sections])],
    ['header is an array', handMadeCar([ROOT], sections)],
    ['version 2', handMadeCar({ roots: [ROOT], version: 2 }, sections)],
    ['version missing', handMadeCar({ roots: [ROOT] }, sections)],
    ['extra header key', handMadeCar({ roots: [ROOT], version: 1, x: 1 }, sections)],
    ['roots not an array', handMadeCar({ roots: ROOT, version: 1 }, sections)],
    ['root is a string', handMadeCar({ roots: [ROOT.toString()], version: 1 }, sections)],
    ['root is a raw CID', handMadeCar({ roots: [cidForRaw(Uint8Array.of(1))], version: 1 }, sections)],
    ['a CARv2 pragma', Uint8Array.from([0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02])],
  ]
  for (const [name, car] of cases) await expectRejected(car, 'InvalidCar', name)
  const headerAtMax = concatBytes([varint(CAR_HEADER_BYTES_MAX), new Uint8Array(CAR_HEADER_BYTES_MAX)])
  await expectRejected(headerAtMax, 'InvalidCar', 'header at the size limit but not CBOR')
})

test('root count: two roots are InvalidCarRoots everywhere, zero only for single-root readers', async () => {
  const twoRoots = handMadeCar({ roots: [ROOT, rootCid('other')], version: 1 }, [])
  await expectRejected(twoRoots, 'InvalidCarRoots', 'two roots')
  const noRoots = encodeCarBytes(null, randomBlocks(makeRng(23), 2, 10))
  await expectAccepted(noRoots, 'zero roots (getBlocks)')
  assert.throws(() => decodeCarWithSingleRoot(noRoots), { name: 'InvalidCarRoots' })
  await assert.rejects(readCarWithSingleRoot(noRoots), { name: 'InvalidCarRoots' })
  assert.equal(decodeCarWithSingleRoot(encodeCarBytes(ROOT, [])).root.toString(), ROOT.toString())
})

test('bad sections and varints are InvalidCar', async () => {
  const block = randomBlocks(makeRng(24), 1, 20)[0]!
  const digest = block.cid.multihash.digest
  const withCid = (cidBytes: Uint8Array) => handMadeCar(GOOD_HEADER, [framed(concatBytes([cidBytes, block.bytes]))])
  const header = encodeCbor(GOOD_HEADER)
  const sectionBody = concatBytes([block.cid.bytes, block.bytes])
  assert.ok(header.length < 128 && sectionBody.length < 128, 'both lengths fit one varint byte')
  const sha512 = CID.decode(Uint8Array.from([1, 0x71, 0x13, 0x40, ...new Uint8Array(64)]))
  const cases: Array<[string, Uint8Array]> = [
    ['section shorter than a CID', handMadeCar(GOOD_HEADER, [framed(block.cid.bytes.subarray(0, 20))])],
    ['empty section', handMadeCar(GOOD_HEADER, [varint(0)])],
    ['CIDv0 in a section', withCid(Uint8Array.from([0x12, 0x20, ...digest, 0, 0]))],
    ['dag-pb codec', withCid(Uint8Array.from([1, 0x70, 0x12, 0x20, ...digest]))],
    ['sha2-512 CID', handMadeCar(GOOD_HEADER, [framed(concatBytes([sha512.bytes, block.bytes]))])],
    ['non-minimal section varint', concatBytes([handMadeCar(GOOD_HEADER, []), Uint8Array.of(0x80, 0x00)])],
    ['varint longer than 8 bytes', concatBytes([handMadeCar(GOOD_HEADER, []), new Uint8Array(9).fill(0x80)])],
    ['non-minimal header varint', concatBytes([Uint8Array.of(0x80 | header.length, 0x00), header])],
    ['non-minimal section varint, otherwise valid', concatBytes([framed(header), Uint8Array.of(0x80 | sectionBody.length, 0x00), sectionBody])],
    ['sha3-256 CID', withCid(Uint8Array.from([1, 0x71, 0x16, 0x20, ...digest]))],
  ]
  for (const [name, car] of cases) await expectRejected(car, 'InvalidCar', name)
})

test('duplicate blocks are tolerated', async () => {
  const [block] = randomBlocks(makeRng(25), 1, 30)
  const car = encodeCarBytes(ROOT, [block!, block!, block!])
  assert.equal(decodeCarBytes(car).blocks.size, 1)
  assert.equal((await readAll(car)).blocks.length, 3)
})

test('property: garbage and bit flips only ever fail with a CAR error name', async () => {
  const rng = makeRng(26)
  const good = encodeCarBytes(ROOT, randomBlocks(rng, 8, 200))
  for (let i = 0; i < 300; i++) {
    let input: Uint8Array
    if (i % 2 === 0) {
      input = rng.bytes(rng.int(400))
    } else {
      input = Uint8Array.from(good)
      for (let flips = 1 + rng.int(3); flips > 0; flips--) {
        const at = rng.int(input.length)
        input[at] = input[at]! ^ (1 << rng.int(8))
      }
    }
    for (const attempt of [() => decodeCarBytes(input), () => readAll(chunked(input, rng, 50))]) {
      try {
        await attempt()
      } catch (err) {
        assert.ok(isAtfedError(err) && CAR_ERRORS.includes(err.name), `case ${i}: ${String(err)}`)
      }
    }
  }
})
