// core/crypto keys: did:key / multikey negative space by error name, keypair
// and private-key text forms, and the bounded verify-key cache.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { base58btc } from 'multiformats/bases/base58'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { p256 } from '@noble/curves/nist.js'
import { formatDidKey, formatMultikey, parseDidKey, parseMultikey, parsePublicKeyFromDidDoc } from '../../core/crypto/did-key.ts'
import {
  exportPrivateMultikey,
  formatPrivateKeyHex,
  generateKeypair,
  importPrivateMultikey,
  keypairFromPrivateKey,
  parsePrivateKeyHex,
} from '../../core/crypto/keypair.ts'
import { clearVerifyKeyCache, verifyKeyCacheSize, verifySignature } from '../../core/crypto/verify.ts'
import { BoundedLru } from '../../core/crypto/key-cache.ts'
import { CURVES, type KeyType, type PublicKey } from '../../core/crypto/key-types.ts'
import { isLowS } from '../../core/crypto/signature.ts'
import { MULTIKEY_LENGTH_MAX, VERIFY_KEY_CACHE_ENTRIES_MAX } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'

const K256_DID = 'did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc'
const P256_DID = 'did:key:zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo'
const TYPES: KeyType[] = ['p256', 'k256']
const noble = { p256, k256: secp256k1 }

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts))
const multikeyOf = (bytes: Uint8Array): string => base58btc.encode(bytes)

/** A 33-byte 0x02-prefixed x that is NOT on the curve, found with noble (independent of our code). */
function offCurvePoint(type: KeyType, seed: number): Uint8Array {
  const rng = makeRng(seed)
  for (;;) {
    const candidate = concat(Uint8Array.of(0x02), rng.bytes(32))
    try {
      noble[type].Point.fromBytes(candidate)
    } catch {
      return candidate
    }
  }
}

test('parseDidKey / parseMultikey reject malformed keys as InvalidDidKey', () => {
  const k256 = parseDidKey(K256_DID)
  const prefix = CURVES.k256.publicPrefix
  const uncompressed = secp256k1.Point.fromBytes(k256.compressed).toBytes(false)
  const bad: [string, string][] = [
    ['not a did:key', 'did:plc:yk4dd2qkboz2yv6tpubpc6co'],
    ['empty did:key', 'did:key:'],
    ['did:key without multibase prefix', 'did:key:Q3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc'],
    ['base16 multibase', 'did:key:f' + Buffer.from(base58btc.decode(k256.multikey)).toString('hex')],
    ['invalid base58 char', K256_DID.slice(0, -1) + '0'],
    ['ed25519 multicodec', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'],
    ['truncated point', 'did:key:' + multikeyOf(concat(prefix, k256.compressed.subarray(0, 32)))],
    ['extra byte', 'did:key:' + multikeyOf(concat(prefix, k256.compressed, Uint8Array.of(0)))],
    ['uncompressed with multicodec', 'did:key:' + multikeyOf(concat(prefix, uncompressed))],
    ['prefix byte 0x04 on 33 bytes', 'did:key:' + multikeyOf(concat(prefix, Uint8Array.of(0x04), k256.compressed.subarray(1)))],
    ['k256 point not on curve', 'did:key:' + multikeyOf(concat(prefix, offCurvePoint('k256', 1)))],
    ['p256 point not on curve', 'did:key:' + multikeyOf(concat(CURVES.p256.publicPrefix, offCurvePoint('p256', 2)))],
    ['x = field prime', 'did:key:' + multikeyOf(concat(prefix, Buffer.from('02' + 'ff'.repeat(27) + 'fefffffc2f', 'hex')))],
    ['multibase text over the limit', 'did:key:z' + '1'.repeat(MULTIKEY_LENGTH_MAX)],
    ['trailing space', K256_DID + ' '],
  ]
  for (const [label, input] of bad) {
    assert.throws(() => parseDidKey(input), { name: 'InvalidDidKey' }, label)
    assert.throws(() => verifySignature(input, new Uint8Array(1), new Uint8Array(64)), { name: 'InvalidDidKey' }, label)
  }
  assert.throws(() => parseMultikey(K256_DID), { name: 'InvalidDidKey' })
  assert.throws(() => parseDidKey(42 as unknown as string), { name: 'InvalidDidKey' })
})

test('parsePublicKeyFromDidDoc: types and legacy forms, negative space', () => {
  const k256 = parseDidKey(K256_DID)
  const p = parseDidKey(P256_DID)
  const legacyK = 'EcdsaSecp256k1VerificationKey2019'
  assert.equal(parsePublicKeyFromDidDoc({ type: 'Multikey', publicKeyMultibase: k256.multikey }).didKey, K256_DID)
  assert.equal(parsePublicKeyFromDidDoc({ type: legacyK, publicKeyMultibase: multikeyOf(k256.compressed) }).didKey, K256_DID)
  const bad: [string, { type: string; publicKeyMultibase: string }][] = [
    ['unknown type', { type: 'Ed25519VerificationKey2020', publicKeyMultibase: k256.multikey }],
    ['prototype key as type', { type: 'toString', publicKeyMultibase: k256.multikey }],
    ['Multikey without multicodec', { type: 'Multikey', publicKeyMultibase: multikeyOf(k256.compressed) }],
    ['legacy with multicodec', { type: legacyK, publicKeyMultibase: k256.multikey }],
    ['legacy compressed point off curve', { type: legacyK, publicKeyMultibase: multikeyOf(offCurvePoint('k256', 3)) }],
    ['legacy 65 bytes with 0x06 prefix', { type: legacyK, publicKeyMultibase: multikeyOf(concat(Uint8Array.of(6), new Uint8Array(64).fill(1))) }],
    ['legacy 64 bytes', { type: legacyK, publicKeyMultibase: multikeyOf(new Uint8Array(64).fill(1)) }],
    ['legacy uncompressed off curve', { type: 'EcdsaSecp256r1VerificationKey2019', publicKeyMultibase: multikeyOf(concat(Uint8Array.of(4), p.compressed.subarray(1), p.compressed.subarray(1))) }],
  ]
  for (const [label, method] of bad) {
    assert.throws(() => parsePublicKeyFromDidDoc(method), { name: 'InvalidDidKey' }, label)
  }
})

test('formatDidKey / formatMultikey check the compressed point shape', () => {
  const k256 = parseDidKey(K256_DID)
  assert.equal(formatDidKey('k256', k256.compressed), K256_DID)
  assert.equal(formatMultikey('k256', k256.compressed), k256.multikey)
  assert.throws(() => formatDidKey('k256', k256.compressed.subarray(0, 32)), { name: 'InvalidDidKey' })
  assert.throws(() => formatDidKey('k256', secp256k1.Point.fromBytes(k256.compressed).toBytes(false)), { name: 'InvalidDidKey' })
  assert.throws(() => formatDidKey('ed25519' as KeyType, k256.compressed), { name: 'InvalidDidKey' })
})

test('keypairs: multikey prefixes, low-S compact signatures, round trips (seeded)', () => {
  const rng = makeRng(7)
  for (const type of TYPES) {
    const kp = generateKeypair(type)
    assert.ok(kp.publicKey.multikey.startsWith(type === 'p256' ? 'zDnae' : 'zQ3s'))
    assert.equal(parseDidKey(kp.publicKey.didKey).didKey, kp.publicKey.didKey)
    for (let i = 0; i < 40; i++) {
      const message = rng.bytes(rng.int(200))
      const sig = kp.sign(message)
      assert.equal(sig.length, 64)
      assert.ok(isLowS(type, sig))
      assert.ok(verifySignature(kp.publicKey, message, sig))
    }
    // exportPrivateKey returns a copy; mutating it changes nothing.
    const secret = kp.exportPrivateKey()
    secret.fill(0)
    assert.notDeepEqual(kp.exportPrivateKey(), secret)
    const again = keypairFromPrivateKey(type, kp.exportPrivateKey())
    assert.equal(again.publicKey.didKey, kp.publicKey.didKey)
  }
})

test('keypairFromPrivateKey rejects out-of-range and wrong-length scalars', () => {
  for (const type of TYPES) {
    const n = CURVES[type].order
    const scalar = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))
    for (const bad of [scalar(0n), scalar(n), scalar(n + 1n), new Uint8Array(32).fill(0xff), new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)]) {
      assert.throws(() => keypairFromPrivateKey(type, bad), { name: 'InvalidPrivateKey' })
    }
    const edge = keypairFromPrivateKey(type, scalar(n - 1n))
    const message = Uint8Array.of(1, 2, 3)
    assert.ok(verifySignature(edge.publicKey, message, edge.sign(message)))
    assert.ok(verifySignature(keypairFromPrivateKey(type, scalar(1n)).publicKey.didKey, message, keypairFromPrivateKey(type, scalar(1n)).sign(message)))
  }
  assert.throws(() => keypairFromPrivateKey('ed25519' as KeyType, new Uint8Array(32).fill(1)), { name: 'InvalidPrivateKey' })
  assert.throws(() => generateKeypair('ed25519' as KeyType), { name: 'InvalidPrivateKey' })
})

test('private key hex form', () => {
  const hex = '9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c'
  assert.equal(formatPrivateKeyHex(parsePrivateKeyHex(hex)), hex)
  assert.equal(formatPrivateKeyHex(parsePrivateKeyHex(hex.toUpperCase())), hex)
  for (const bad of [hex.slice(1), hex + '0', ' ' + hex.slice(1), hex.slice(0, -1) + 'g', '0x' + hex.slice(2), '']) {
    assert.throws(() => parsePrivateKeyHex(bad), { name: 'InvalidPrivateKey' })
  }
  assert.throws(() => formatPrivateKeyHex(new Uint8Array(31)), { name: 'InvalidPrivateKey' })
})

test('private multikey form: multicodec bytes, round trip, negative space', () => {
  for (const type of TYPES) {
    const kp = generateKeypair(type)
    const text = exportPrivateMultikey(kp)
    const bytes = base58btc.decode(text)
    assert.deepEqual([...bytes.subarray(0, 2)], type === 'p256' ? [0x86, 0x26] : [0x81, 0x26])
    assert.equal(bytes.length, 34)
    const back = importPrivateMultikey(text)
    assert.equal(back.type, type)
    assert.equal(back.publicKey.didKey, kp.publicKey.didKey)
    const message = Uint8Array.of(9)
    assert.ok(verifySignature(kp.publicKey, message, back.sign(message)))
    const prefix = CURVES[type].privatePrefix
    for (const bad of [
      kp.publicKey.multikey, // a public key is not a private key
      base58btc.encode(concat(prefix, kp.exportPrivateKey().subarray(0, 31))),
      base58btc.encode(concat(prefix, kp.exportPrivateKey(), Uint8Array.of(0))),
      base58btc.encode(concat(prefix, new Uint8Array(32))),
      text.slice(1),
      text + '0',
      'z' + '2'.repeat(MULTIKEY_LENGTH_MAX),
    ]) {
      assert.throws(() => importPrivateMultikey(bad), { name: 'InvalidPrivateKey' }, bad)
    }
  }
})

test('BoundedLru evicts the least recently used entry', () => {
  const lru = new BoundedLru<string, number>(3)
  lru.set('a', 1)
  lru.set('b', 2)
  lru.set('c', 3)
  assert.equal(lru.get('a'), 1) // a is now the most recent
  lru.set('d', 4)
  assert.equal(lru.get('b'), undefined)
  assert.deepEqual([lru.get('a'), lru.get('c'), lru.get('d')], [1, 3, 4])
  const rng = makeRng(11)
  for (let i = 0; i < 500; i++) {
    lru.set(String(rng.int(50)), i)
    assert.ok(lru.size <= 3)
  }
  assert.throws(() => new BoundedLru(0), { name: 'AssertionError' })
})

test('verify cache: bounded, and a hand-built inconsistent PublicKey cannot poison it', () => {
  assert.ok(VERIFY_KEY_CACHE_ENTRIES_MAX >= 1_000)
  clearVerifyKeyCache()
  const a = generateKeypair('k256')
  const b = generateKeypair('k256')
  const message = Uint8Array.of(1)
  const sigB = b.sign(message)
  // didKey says A, bytes say B: the bytes are what get verified...
  const forged: PublicKey = { ...a.publicKey, compressed: b.publicKey.compressed }
  assert.equal(verifySignature(forged, message, sigB), true)
  // ...and A's did:key must still reject B's signature afterwards.
  assert.equal(verifySignature(a.publicKey.didKey, message, sigB), false)
  assert.equal(verifySignature(a.publicKey, message, sigB), false)
  assert.equal(verifySignature(a.publicKey.didKey, message, a.sign(message)), true)
  assert.ok(verifyKeyCacheSize() <= 3)
  clearVerifyKeyCache()
  assert.equal(verifyKeyCacheSize(), 0)
})
