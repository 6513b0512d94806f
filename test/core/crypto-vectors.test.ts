// Interop vectors for core/crypto: the 6 atproto signature fixtures (both key
// encodings) and the W3C did:key vectors (5 secp256k1, 1 P-256).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { base58btc } from 'multiformats/bases/base58'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { p256 } from '@noble/curves/nist.js'
import { formatDidKey, parseDidKey, parseMultikey, parsePublicKeyFromDidDoc } from '../../core/crypto/did-key.ts'
import { keypairFromPrivateKey, parsePrivateKeyHex } from '../../core/crypto/keypair.ts'
import { verifySignature } from '../../core/crypto/verify.ts'
import type { KeyType } from '../../core/crypto/key-types.ts'
import { interopPath } from '../helpers/vectors.ts'

const DIR = interopPath('crypto')
const readJson = (name: string): unknown => JSON.parse(readFileSync(`${DIR}/${name}`, 'utf8'))

type SignatureFixture = {
  comment: string
  messageBase64: string
  algorithm: 'ES256' | 'ES256K'
  didDocSuite: string
  publicKeyDid: string
  publicKeyMultibase: string
  signatureBase64: string
  validSignature: boolean
  tags: string[]
}

const fixtures = readJson('signature-fixtures.json') as SignatureFixture[]
const k256Vectors = readJson('w3c_didkey_K256.json') as { privateKeyBytesHex: string; publicDidKey: string }[]
const p256Vectors = readJson('w3c_didkey_P256.json') as { privateKeyBytesBase58: string; publicDidKey: string }[]

const typeOfAlg = (alg: string): KeyType => (alg === 'ES256' ? 'p256' : 'k256')

test('fixture files have the expected case counts', () => {
  assert.equal(fixtures.length, 6)
  assert.equal(k256Vectors.length, 5)
  assert.equal(p256Vectors.length, 1)
  assert.deepEqual(fixtures.map((f) => f.validSignature), [true, true, false, false, false, false])
})

for (const f of fixtures) {
  test(`signature fixture: ${f.comment}`, () => {
    const message = Uint8Array.from(Buffer.from(f.messageBase64, 'base64'))
    const signature = Uint8Array.from(Buffer.from(f.signatureBase64, 'base64'))
    const type = typeOfAlg(f.algorithm)

    const fromDidKey = parseDidKey(f.publicKeyDid)
    assert.equal(fromDidKey.type, type)
    assert.equal(fromDidKey.didKey, f.publicKeyDid)
    assert.equal(fromDidKey.multikey, f.publicKeyDid.slice('did:key:'.length))

    // The legacy DID-document suite encodes the same key differently.
    const fromLegacy = parsePublicKeyFromDidDoc({ type: f.didDocSuite, publicKeyMultibase: f.publicKeyMultibase })
    assert.equal(fromLegacy.didKey, f.publicKeyDid)
    const fromMultikey = parsePublicKeyFromDidDoc({ type: 'Multikey', publicKeyMultibase: fromDidKey.multikey })
    assert.deepEqual(fromMultikey.compressed, fromDidKey.compressed)

    for (const key of [f.publicKeyDid, fromDidKey, fromLegacy]) {
      assert.equal(verifySignature(key, message, signature), f.validSignature)
    }
    // Malleable mode accepts the high-S twins but never DER.
    const malleable = verifySignature(f.publicKeyDid, message, signature, { allowMalleable: true })
    assert.equal(malleable, f.validSignature || f.tags.includes('high-s'))
    if (f.tags.includes('der-encoded')) assert.notEqual(signature.length, 64)
  })
}

test('W3C did:key vectors, secp256k1: private key → did:key', () => {
  for (const v of k256Vectors) {
    const kp = keypairFromPrivateKey('k256', parsePrivateKeyHex(v.privateKeyBytesHex))
    assert.equal(kp.publicKey.didKey, v.publicDidKey)
    assert.equal(kp.publicKey.type, 'k256')
    assert.ok(kp.publicKey.multikey.startsWith('zQ3s'))
    const parsed = parseDidKey(v.publicDidKey)
    assert.deepEqual(parsed.compressed, kp.publicKey.compressed)
    assert.equal(formatDidKey('k256', parsed.compressed), v.publicDidKey)
    // Cross-check the derived point with the reference implementation.
    assert.deepEqual(parsed.compressed, secp256k1.getPublicKey(kp.exportPrivateKey(), true))
  }
})

test('W3C did:key vector, P-256: private key → did:key', () => {
  for (const v of p256Vectors) {
    const kp = keypairFromPrivateKey('p256', base58btc.baseDecode(v.privateKeyBytesBase58))
    assert.equal(kp.publicKey.didKey, v.publicDidKey)
    assert.equal(kp.publicKey.type, 'p256')
    assert.ok(kp.publicKey.multikey.startsWith('zDnae'))
    const parsed = parseDidKey(v.publicDidKey)
    assert.equal(formatDidKey('p256', parsed.compressed), v.publicDidKey)
    assert.deepEqual(parsed.compressed, p256.getPublicKey(kp.exportPrivateKey(), true))
  }
})

test('spec examples parse to the right curve', () => {
  assert.equal(parseDidKey('did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo').type, 'p256')
  assert.equal(parseDidKey('did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc').type, 'k256')
  assert.equal(parseMultikey('zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc').type, 'k256')
})

test('legacy DID-document keys may also be uncompressed (65 bytes, no multicodec)', () => {
  const cases: [string, KeyType, string, Uint8Array][] = [
    ['EcdsaSecp256k1VerificationKey2019', 'k256', k256Vectors[0]!.publicDidKey, parsePrivateKeyHex(k256Vectors[0]!.privateKeyBytesHex)],
    ['EcdsaSecp256r1VerificationKey2019', 'p256', p256Vectors[0]!.publicDidKey, base58btc.baseDecode(p256Vectors[0]!.privateKeyBytesBase58)],
  ]
  for (const [suite, type, didKey, secret] of cases) {
    const uncompressed = (type === 'k256' ? secp256k1 : p256).getPublicKey(secret, false)
    assert.equal(uncompressed.length, 65)
    const key = parsePublicKeyFromDidDoc({ type: suite, publicKeyMultibase: base58btc.encode(uncompressed) })
    assert.equal(key.didKey, didKey)
  }
})
