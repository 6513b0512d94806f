/**
 * Labels: the signing bytes and signature against the reference stack
 * (@ipld/dag-cbor encoding of the unsigned label, @atproto/crypto signing
 * with the same secp256k1 key — both RFC 6979, so byte-identical — and
 * verifying), seeded round trips, then the negative space by error name:
 * label values, subjects, cids, and the strict reader.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { Secp256k1Keypair, verifySignature as atprotoVerify } from '@atproto/crypto'
import { keypairFromPrivateKey } from '../../core/crypto/keypair.ts'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import { jsonToLex, lexToJson } from '../../core/data/json.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import { labelFromLex, labelToLex, parseLabelSubject, parseLabelValue, GLOBAL_LABEL_VALUES } from '../../feedgen/labeler/label.ts'
import type { LabelSubject, LabelValue, UnsignedLabel } from '../../feedgen/labeler/label.ts'
import { labelSigningBytes, signLabel, verifyLabel } from '../../feedgen/labeler/label-sign.ts'
import { seededKeypair } from '../helpers/plc.ts'
import { makeRng } from '../helpers/prng.ts'

const SRC = 'did:plc:ar7c4by46qjdydhdevvrndac' as Did
const POST = 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3jzfcijpj2z2a' as LabelSubject
const CID = 'bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq'
const PRIV = Uint8Array.from(Buffer.from('9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c', 'hex'))

/** Byte equality whatever the Uint8Array subclass (dag-cbor returns Buffers in Node). */
function sameBytes(a: Uint8Array, b: Uint8Array): void {
  assert.equal(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'))
}

function unsigned(extra: Partial<UnsignedLabel> = {}): UnsignedLabel {
  return { ver: 1, src: SRC, uri: POST, cid: CID, val: 'spam' as LabelValue, cts: '2024-05-01T12:00:00.000Z' as Datetime, ...extra }
}

test('signing bytes are the DAG-CBOR of exactly the spec fields (as @ipld/dag-cbor encodes them)', () => {
  const cases: UnsignedLabel[] = [
    unsigned(),
    unsigned({ neg: true }),
    unsigned({ exp: '2025-01-01T00:00:00.000Z' as Datetime }),
    { ver: 1, src: SRC, uri: SRC as string as LabelSubject, val: '!hide' as LabelValue, cts: '2024-05-01T12:00:00.000Z' as Datetime },
  ]
  for (const label of cases) {
    const expected = dagCbor.encode({ ...label })
    sameBytes(labelSigningBytes(label), expected)
  }
  // Extra fields a caller smuggles in never reach the signed bytes; neg false is omitted.
  const sneaky = { ...unsigned(), $type: 'com.atproto.label.defs#label', sig: new Uint8Array(64), other: 1 } as unknown as UnsignedLabel
  sameBytes(labelSigningBytes(sneaky), dagCbor.encode(unsigned()))
  sameBytes(labelSigningBytes({ ...unsigned(), neg: false } as unknown as UnsignedLabel), dagCbor.encode(unsigned()))
})

test('our signature equals @atproto/crypto over the same bytes, and each side verifies the other', async () => {
  const ours = keypairFromPrivateKey('k256', PRIV)
  const ref = await Secp256k1Keypair.import(PRIV)
  assert.equal(ref.did(), ours.publicKey.didKey)
  for (const label of [unsigned(), unsigned({ neg: true }), unsigned({ exp: '2030-01-01T00:00:00Z' as Datetime })]) {
    const signed = signLabel(label, ours)
    const refSig = await ref.sign(dagCbor.encode({ ...label }))
    sameBytes(signed.sig, refSig)
    assert.equal(await atprotoVerify(ours.publicKey.didKey, dagCbor.encode({ ...label }), signed.sig), true)
    assert.equal(verifyLabel(signed, ours.publicKey), true)
    assert.equal(verifyLabel(signed, ours.publicKey.didKey), true)
  }
})

test('seeded: sign → CBOR/JSON round trip → verify; any changed field fails', () => {
  const rng = makeRng(0x1abe1)
  const vals = ['spam', 'porn', 'graphic-media', 'x', 'a-b-c-1', '!warn', '!no-unauthenticated']
  for (let i = 0; i < 60; i++) {
    const key = seededKeypair(rng, rng.pick(['k256', 'p256'] as const))
    const record = rng.next() < 0.5
    const label = unsigned({
      val: rng.pick(vals) as LabelValue,
      uri: (record ? POST : SRC) as LabelSubject,
      ...(record ? { cid: CID } : { cid: undefined }),
      ...(rng.next() < 0.3 ? { neg: true as const } : {}),
      ...(rng.next() < 0.3 ? { exp: '2031-02-03T04:05:06.789Z' as Datetime } : {}),
    })
    if (label.cid === undefined) delete (label as { cid?: string }).cid
    const signed = signLabel(label, key)
    const viaCbor = labelFromLex(decodeCbor(encodeCbor(labelToLex(signed))))
    const viaJson = labelFromLex(jsonToLex(JSON.parse(JSON.stringify(lexToJson(labelToLex(signed))))))
    assert.deepEqual(viaCbor, signed)
    assert.deepEqual(viaJson, signed)
    assert.equal(verifyLabel(viaJson, key.publicKey), true)
    const tampered = [
      { ...signed, val: 'other' as LabelValue },
      { ...signed, cts: '2024-05-01T12:00:00.001Z' as Datetime },
      { ...signed, neg: signed.neg === true ? undefined : (true as const) },
      { ...signed, src: 'did:plc:zzzzzzzzzzzzzzzzzzzzzzzz' as Did },
    ]
    for (const t of tampered) assert.equal(verifyLabel(t as typeof signed, key.publicKey), false)
    const other = seededKeypair(rng, 'k256')
    assert.equal(verifyLabel(signed, other.publicKey), false)
  }
})

test('label values: lowercase letters, digits and "-", at most 128 bytes, or a known ! value', () => {
  for (const ok of ['spam', 'a', 'x1', 'graphic-media', 'a'.repeat(128), ...GLOBAL_LABEL_VALUES]) assert.equal(parseLabelValue(ok), ok)
  const bad = ['', 'Spam', 'has space', 'spam ', 'a'.repeat(129), 'émoji', 'under_score', 'dot.ted', '!unknown', '!', '!HIDE', 'tab\t', 7, null]
  for (const v of bad) assert.throws(() => parseLabelValue(v), { name: 'InvalidLabelValue' }, String(v))
})

test('label subjects: a DID, or an at-uri in normal form with a DID authority', () => {
  for (const ok of [SRC, POST, 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz', 'at://did:web:example.com/app.bsky.feed.post']) {
    assert.equal(parseLabelSubject(ok), ok)
  }
  const bad = ['', 'alice.example.com', 'at://alice.example.com/app.bsky.feed.post/3jzfcijpj2z2a', 'https://example.com', 'did:', 'at://did:plc:x/a/b/c/d', `at://${SRC}/app.bsky.feed.post/`, `did:plc:${'a'.repeat(9000)}`, 5]
  for (const s of bad) assert.throws(() => parseLabelSubject(s), { name: 'InvalidLabelSubject' }, String(s).slice(0, 60))
})

test('the strict reader refuses extra fields, other versions, bad sig and cid misuse, by name', () => {
  const key = keypairFromPrivateKey('k256', PRIV)
  const good = labelToLex(signLabel(unsigned(), key))
  assert.deepEqual(labelFromLex({ ...good, neg: false }), labelFromLex(good)) // neg false is read as absent
  const bad: Array<[unknown, string]> = [
    [{ ...good, $type: 'com.atproto.label.defs#label' }, 'InvalidLabel'],
    [{ ...good, ver: 2 }, 'InvalidLabel'],
    [{ ...good, ver: undefined }, 'InvalidLabel'],
    [{ ...good, sig: 'abc' }, 'InvalidLabel'],
    [{ ...good, neg: 'yes' }, 'InvalidLabel'],
    [{ ...good, val: 'Not Valid' }, 'InvalidLabel'],
    [{ ...good, cts: 'yesterday' }, 'InvalidLabel'],
    [{ ...good, uri: SRC }, 'InvalidLabel'], // a cid on an account label
    [{ ...good, cid: 'not-a-cid' }, 'InvalidLabel'],
    [{ ...good, src: 'nobody' }, 'InvalidLabel'],
    [[good], 'InvalidLabel'],
    ['label', 'InvalidLabel'],
  ]
  for (const [value, name] of bad) assert.throws(() => labelFromLex(value as never), { name })
  const err = (() => {
    try {
      labelFromLex({ ...good, val: 'Not Valid' })
    } catch (e) {
      return e as Error
    }
  })()
  assert.equal((err?.cause as Error | undefined)?.name, 'InvalidLabelValue')
})
