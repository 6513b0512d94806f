/**
 * The strict decoder's negative space: every rejection, by its stable
 * reason, on hand-built bytes; every limit at its edge (max accepted,
 * max + 1 rejected).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import { CBOR_CONTAINER_LENGTH_MAX, CBOR_DEPTH_MAX, CBOR_MAP_KEY_BYTES_MAX, CID_BYTES_MAX } from '../../core/limits.ts'

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const CID_HEX = '01711220' + '65'.repeat(32) // a blessed dag-cbor CID, 36 bytes
const LINK_HEX = 'd82a582500' + CID_HEX

function rejects(reason: string, cases: string[]): void {
  for (const h of cases) {
    assert.throws(() => decodeCbor(fromHex(h)), { name: 'InvalidCbor', reason }, `${h} should fail with ${reason}`)
  }
}

test('sanity: the hand-built link decodes', () => {
  const cid = decodeCbor(fromHex(LINK_HEX))
  assert.ok(cid instanceof CID)
  assert.equal(Buffer.from(cid.bytes).toString('hex'), CID_HEX)
})

test('Truncated', () => {
  rejects('Truncated', ['', '18', '1900', '1a000000', '1b00000000000000', '6261', '4201', '8201', 'a16161', 'a1', 'd82a', 'd82a5825000171'])
})

test('TrailingBytes', () => {
  rejects('TrailingBytes', ['0101', 'f600', '8000', 'a000', LINK_HEX + '00'])
})

test('IndefiniteLength (and a lone break)', () => {
  rejects('IndefiniteLength', ['5f41614100ff', '7f6161ff', '9f01ff', 'bf616101ff', 'ff', '1f', 'a17f6161ff01'])
})

test('Malformed: reserved additional info 28-30', () => {
  rejects('Malformed', ['1c', '1d', '1e', '3c', '5c', '7d', '9e', 'bc', 'dc', 'fc', 'fd', 'fe'])
})

test('NotShortest: integers, lengths, tags and map keys', () => {
  rejects('NotShortest', [
    '1817', '190017', '1900ff', '1a0000ffff', '1b00000000ffffffff',
    '3817', '3900ff', '5801ff', '780161', '980101', 'b8016161' + '01', 'd9002a' + LINK_HEX.slice(4),
    'a1780161' + '01', 'd82a590025' + '00' + CID_HEX,
  ])
})

test('UnsafeInteger: beyond +-(2^53-1); the edges themselves decode', () => {
  assert.equal(decodeCbor(fromHex('1b001fffffffffffff')), Number.MAX_SAFE_INTEGER)
  assert.equal(decodeCbor(fromHex('3b001ffffffffffffe')), -Number.MAX_SAFE_INTEGER)
  rejects('UnsafeInteger', ['1b0020000000000000', '1bffffffffffffffff', '3b001fffffffffffff', '3bffffffffffffffff'])
})

test('Float: half, single and double, including integral values and NaN', () => {
  rejects('Float', ['f90000', 'f93c00', 'f97e00', 'fa00000000', 'fa47c35000', 'fb3ff0000000000000', 'fb7ff8000000000000', '81f93c00'])
})

test('Undefined and other simple values', () => {
  rejects('Undefined', ['f7', '81f7', 'a16161f7'])
  rejects('SimpleValue', ['e0', 'f0', 'f3', 'f814', 'f820', 'f8ff'])
})

test('UnsupportedTag: anything but 42', () => {
  rejects('UnsupportedTag', ['c074323031332d30332d32315432303a30343a30305a', 'c1 00', 'c2 4101', 'd82b4100', 'd90100 00', 'd8ff 00', 'db0000000100000000 00'])
})

test('InvalidCidLink: payload type, 0x00 prefix, length, validity, canonical form', () => {
  rejects('InvalidCidLink', [
    'd82a01', // not a byte string
    'd82a5f4100ff', // indefinite byte string
    'd82a6161', // text, not bytes
    'd82a40', // empty
    'd82a4100', // only the prefix
    'd82a582501' + CID_HEX, // prefix is not 0x00
    'd82a582500' + '02711220' + '65'.repeat(32), // CID version 2
    'd82a582500' + '01711221' + '65'.repeat(32), // digest length says 33, 32 present
    'd82a582600' + CID_HEX + '00', // a byte after the CID
    'd82a582600' + '01f1001220' + '65'.repeat(32), // non-minimal codec varint
  ])
  const long = CID.createV1(0x55, Digest.create(0x00, new Uint8Array(CID_BYTES_MAX - 4 + 1)))
  const bytes = new Uint8Array([0xd8, 0x2a, 0x58, long.bytes.length + 1, 0x00, ...long.bytes])
  assert.throws(() => decodeCbor(bytes), { name: 'InvalidCbor', reason: 'InvalidCidLink' })
})

test('MapKeyNotString, DuplicateMapKey, MapKeyOrder', () => {
  rejects('MapKeyNotString', ['a10101', 'a1416101', 'a1f601', 'a18001', LINK_HEX.replace(/^/, 'a1') + '01'])
  rejects('DuplicateMapKey', ['a2616101616102', 'a3616101616202616202', 'a2600160 02'])
  rejects('MapKeyOrder', ['a2616201616102', 'a2626161016162 02', 'a26161016002', 'a2627a7a0162616102'])
})

test('InvalidUtf8: in short and long strings and in map keys; a BOM is kept', () => {
  const longPrefix = '61'.repeat(23)
  rejects('InvalidUtf8', [
    '61ff', '62c080', '63eda080', '64f4908080', '61c3', '62e282', '61 80',
    '7818' + longPrefix + 'ff', // long enough for the TextDecoder path 'a161ff01', 'a162c0af01',
  ])
  assert.equal(decodeCbor(fromHex('63efbbbf')), '\uFEFF')
  assert.equal(decodeCbor(fromHex('64f48fbfbf')), '\u{10FFFF}')
})

test(`DepthExceeded: ${CBOR_DEPTH_MAX} nested containers decode, one more does not`, () => {
  const arrays = (n: number) => '81'.repeat(n - 1) + '80'
  assert.doesNotThrow(() => decodeCbor(fromHex(arrays(CBOR_DEPTH_MAX))))
  rejects('DepthExceeded', [arrays(CBOR_DEPTH_MAX + 1), arrays(1000)])
  const maps = (n: number) => 'a16161'.repeat(n - 1) + 'a0'
  assert.doesNotThrow(() => decodeCbor(fromHex(maps(CBOR_DEPTH_MAX))))
  rejects('DepthExceeded', [maps(CBOR_DEPTH_MAX + 1)])
})

test(`ContainerTooLong: ${CBOR_CONTAINER_LENGTH_MAX} entries decode, one more does not`, () => {
  const head = (major: number, n: number) => ((major << 5) | 26).toString(16) + n.toString(16).padStart(8, '0')
  const arr = fromHex(head(4, CBOR_CONTAINER_LENGTH_MAX) + '00'.repeat(CBOR_CONTAINER_LENGTH_MAX))
  assert.equal((decodeCbor(arr) as number[]).length, CBOR_CONTAINER_LENGTH_MAX)
  const tooLong = new Uint8Array(arr.length + 1)
  tooLong.set(fromHex(head(4, CBOR_CONTAINER_LENGTH_MAX + 1)))
  assert.throws(() => decodeCbor(tooLong), { name: 'InvalidCbor', reason: 'ContainerTooLong' })
  // Maps: 5-hex-digit keys, all the same length, so numeric order is canonical order.
  const map: Record<string, number> = {}
  for (let i = 0; i < CBOR_CONTAINER_LENGTH_MAX; i++) map[i.toString(16).padStart(5, '0')] = 0
  const mapBytes = encodeCbor(map)
  assert.equal(Object.keys(decodeCbor(mapBytes) as object).length, CBOR_CONTAINER_LENGTH_MAX)
  rejects('ContainerTooLong', [head(5, CBOR_CONTAINER_LENGTH_MAX + 1)])
  // A declared length is checked against the input before anything is allocated.
  rejects('Truncated', [head(4, CBOR_CONTAINER_LENGTH_MAX), 'b903e8'])
})

test(`MapKeyTooLong: a ${CBOR_MAP_KEY_BYTES_MAX}-byte key decodes, one byte more does not`, () => {
  const mapWithKey = (n: number) => 'a1' + '79' + n.toString(16).padStart(4, '0') + '61'.repeat(n) + '01'
  assert.doesNotThrow(() => decodeCbor(fromHex(mapWithKey(CBOR_MAP_KEY_BYTES_MAX))))
  rejects('MapKeyTooLong', [mapWithKey(CBOR_MAP_KEY_BYTES_MAX + 1)])
})

test(`CID links of up to ${CID_BYTES_MAX} bytes decode, longer ones do not`, () => {
  const link = (digestBytes: number) => {
    const cid = CID.createV1(0x55, Digest.create(0x00, new Uint8Array(digestBytes).fill(7)))
    return new Uint8Array([0xd8, 0x2a, 0x58, cid.bytes.length + 1, 0x00, ...cid.bytes])
  }
  const ok = decodeCbor(link(CID_BYTES_MAX - 4)) as CID
  assert.equal(ok.bytes.length, CID_BYTES_MAX)
  assert.throws(() => decodeCbor(link(CID_BYTES_MAX - 3)), { name: 'InvalidCbor', reason: 'InvalidCidLink' })
})

test('non-blessed but valid CIDs (v0, sha-512) decode and round-trip', () => {
  for (const cid of [
    CID.createV0(Digest.create(0x12, new Uint8Array(32).fill(1))),
    CID.createV1(0x71, Digest.create(0x13, new Uint8Array(64).fill(2))),
  ]) {
    const bytes = encodeCbor({ l: cid })
    const out = decodeCbor(bytes) as { l: CID }
    assert.ok(out.l.equals(cid))
    assert.deepEqual(encodeCbor(out), bytes)
  }
})
