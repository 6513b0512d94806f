/**
 * The atproto JSON form and data-model rules beyond the interop vectors:
 * `$bytes` / `$link` details, blob refs (typed and legacy), limits at the
 * edge, a seeded lex -> JSON -> lex round trip, and the negative space by
 * error name (`InvalidDataModel`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { base58btc } from 'multiformats/bases/base58'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { assertDataModel, jsonToLex, lexToJson, validateLexValue } from '../../core/data/json.ts'
import { blobRefCid, isBlobRef, isLegacyBlobRef, parseBlobRef } from '../../core/data/blob-ref.ts'
import { CBOR_DEPTH_MAX, CBOR_MAP_KEY_BYTES_MAX } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'
import { randomValue } from './cbor-values.ts'

const INVALID = { name: 'InvalidDataModel' }
const RAW_CID = cidForRaw(new Uint8Array([1, 2, 3]))
const CBOR_CID = cidForCbor(new Uint8Array([0xa0]))
const blob = (over: Record<string, unknown> = {}) => ({ $type: 'blob', ref: RAW_CID, mimeType: 'image/png', size: 3, ...over })

test('$bytes: standard base64, padding optional in, never emitted', () => {
  assert.deepEqual(jsonToLex({ $bytes: 'AQ' }), new Uint8Array([1]))
  assert.deepEqual(jsonToLex({ $bytes: 'AQ==' }), new Uint8Array([1]))
  assert.deepEqual(jsonToLex({ $bytes: '+/8' }), new Uint8Array([0xfb, 0xff]))
  assert.deepEqual(jsonToLex({ $bytes: '' }), new Uint8Array([]))
  assert.deepEqual(lexToJson(new Uint8Array([1])), { $bytes: 'AQ' })
  assert.deepEqual(lexToJson(new Uint8Array([0xfb, 0xff, 0xbf])), { $bytes: '+/+/' })
  for (const bad of ['AQ=', 'AQ===', 'A', 'A===', '-_8', 'AQ ==', ' AQ', 'A Q', 'AQ=A', '=AQ']) {
    assert.throws(() => jsonToLex({ $bytes: bad }), INVALID, JSON.stringify(bad))
  }
  for (let n = 0; n <= 20; n++) {
    const bytes = makeRng(n).bytes(n)
    assert.deepEqual(jsonToLex(JSON.parse(JSON.stringify(lexToJson(bytes)))), bytes)
  }
})

test('$link: canonical base32 CIDv1 only', () => {
  const s = CBOR_CID.toString()
  assert.ok((jsonToLex({ $link: s }) as CID).equals(CBOR_CID))
  assert.deepEqual(lexToJson(CBOR_CID), { $link: s })
  for (const bad of [s.toUpperCase(), CBOR_CID.toString(base58btc), ` ${s}`, 'QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u', '']) {
    assert.throws(() => jsonToLex({ $link: bad }), INVALID, bad)
  }
  const tooLong = CID.createV1(0x55, Digest.create(0x00, new Uint8Array(97)))
  assert.throws(() => jsonToLex({ $link: tooLong.toString() }), INVALID)
})

test('blob refs: shape kept, ref becomes a CID, CBOR key order ref,size,$type,mimeType', () => {
  const json = { $type: 'blob', ref: { $link: RAW_CID.toString() }, mimeType: 'image/png', size: 3 }
  const lex = jsonToLex({ image: json }) as { image: unknown }
  assert.ok(isBlobRef(lex.image))
  assert.deepEqual(lexToJson(lex as never), { image: json })
  const bytes = encodeCbor(lex.image)
  assert.equal(Buffer.from(bytes).toString('hex').slice(0, 10), 'a463726566') // map(4), "ref" first
  assert.ok(blobRefCid(parseBlobRef(lex.image)).equals(RAW_CID))
  assert.ok(isBlobRef(blob({ size: 0 })), 'zero-length blobs are allowed')
})

test('blob refs: malformed ones are rejected everywhere', () => {
  const bad: Record<string, unknown>[] = [
    blob({ ref: CBOR_CID }), // not the raw codec
    blob({ ref: RAW_CID.toString() }), // a string, not a link
    blob({ size: -1 }), blob({ size: 1.5 }), blob({ size: '3' }),
    blob({ mimeType: '' }), blob({ mimeType: 'png' }), blob({ mimeType: 3 }),
    blob({ extra: 1 }), { $type: 'blob', ref: RAW_CID, mimeType: 'image/png' },
  ]
  for (const b of bad) {
    assert.equal(isBlobRef(b), false, JSON.stringify(lexToJsonLoose(b)))
    assert.throws(() => parseBlobRef(b), INVALID)
    assert.throws(() => validateLexValue({ b }), INVALID)
  }
})

function lexToJsonLoose(value: Record<string, unknown>): unknown {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v instanceof CID ? v.toString() : v]))
}

test('legacy blob refs are read, never turned into the typed form', () => {
  const legacy = { cid: RAW_CID.toString(), mimeType: 'image/png' }
  assert.ok(isLegacyBlobRef(legacy))
  assert.equal(isBlobRef(legacy), false)
  const parsed = parseBlobRef(legacy)
  assert.deepEqual(parsed, legacy)
  assert.ok(blobRefCid(parsed).equals(RAW_CID))
  for (const bad of [{ ...legacy, size: 3 }, { cid: 'nope', mimeType: 'image/png' }, { cid: RAW_CID.toString(), mimeType: '' }]) {
    assert.equal(isLegacyBlobRef(bad), false)
    assert.throws(() => parseBlobRef(bad), INVALID)
  }
})

test(`JSON limits at the edge: depth ${CBOR_DEPTH_MAX}, map keys of ${CBOR_MAP_KEY_BYTES_MAX} bytes`, () => {
  const nested = (n: number): unknown => (n === 0 ? { $link: CBOR_CID.toString() } : [nested(n - 1)])
  assert.doesNotThrow(() => jsonToLex(nested(CBOR_DEPTH_MAX)), '$link objects do not count as depth')
  assert.throws(() => jsonToLex(nested(CBOR_DEPTH_MAX + 1)), INVALID)
  assert.throws(() => validateLexValue([jsonToLex(nested(CBOR_DEPTH_MAX))]), INVALID)
  assert.doesNotThrow(() => jsonToLex({ ['é'.repeat(CBOR_MAP_KEY_BYTES_MAX / 2)]: 1 }))
  assert.throws(() => jsonToLex({ ['é'.repeat(CBOR_MAP_KEY_BYTES_MAX / 2) + 'a']: 1 }), INVALID)
})

test('negative space: values outside the data model', () => {
  const bad: unknown[] = [
    1.5, NaN, 2 ** 53, '\uD800', { ['\uDC00']: 1 }, [undefined], undefined, 1n, new Map(), new Date(0),
    { a: { $type: null } }, { $type: '' }, { $type: 1 }, { $link: CBOR_CID.toString(), x: 1 },
  ]
  for (const v of bad) {
    assert.throws(() => jsonToLex(v), INVALID, String(v))
    assert.throws(() => validateLexValue(v), INVALID, String(v))
  }
  assert.throws(() => validateLexValue({ a: CID.createV0(Digest.create(0x12, CBOR_CID.multihash.digest)) }), INVALID, 'CIDv0')
  assert.throws(() => lexToJson(1.5), INVALID)
  assert.throws(() => lexToJson(new Map() as never), INVALID)
  for (const top of ['blah', 1, null, [], true]) assert.throws(() => assertDataModel(top), INVALID)
})

test('"__proto__" from JSON.parse stays an own key, never the prototype', () => {
  const lex = jsonToLex(JSON.parse('{"__proto__": {"x": 1}}')) as Record<string, unknown>
  assert.equal(Object.getPrototypeOf(lex), Object.prototype)
  assert.deepEqual(Object.keys(lex), ['__proto__'])
  const back = lexToJson(lex as never) as Record<string, unknown>
  assert.equal(JSON.stringify(back), '{"__proto__":{"x":1}}')
})

test('property: every valid lex value survives lex -> JSON text -> lex', () => {
  let checked = 0
  for (let seed = 1; seed <= 500; seed++) {
    const value = randomValue(makeRng(seed), 4)
    try {
      validateLexValue(value)
    } catch {
      continue // e.g. a random "$type" that is not a string, or a CIDv0
    }
    checked++
    const back = jsonToLex(JSON.parse(JSON.stringify(lexToJson(value))))
    assert.deepStrictEqual(back, value, `seed ${seed}`)
    assert.deepEqual(encodeCbor(back), encodeCbor(value))
  }
  assert.ok(checked > 250, `only ${checked} random values were valid`)
})
