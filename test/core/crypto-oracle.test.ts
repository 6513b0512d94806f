// core/crypto against two independent oracles: @atproto/crypto (the reference
// implementation) and @noble/curves v2. Seeded random messages per curve: our
// signatures verify with theirs, theirs verify with ours, and the strict rules
// (high-S, DER, length, r/s range, hash-once) hold.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { p256 } from '@noble/curves/nist.js'
import { P256Keypair, Secp256k1Keypair, verifySignature as atprotoVerify } from '@atproto/crypto'
import { keypairFromPrivateKey, type Keypair } from '../../core/crypto/keypair.ts'
import { verifySignature } from '../../core/crypto/verify.ts'
import { CURVES, type KeyType } from '../../core/crypto/key-types.ts'
import { makeRng, type Rng } from '../helpers/prng.ts'

const MESSAGES_PER_CURVE = 200
const KEYS_PER_CURVE = 4
const noble = { p256, k256: secp256k1 }
const sha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash('sha256').update(bytes).digest())

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const scalarBytes = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'))

/** The high-S twin (s → n − s), computed here independently of core/crypto. */
function flipS(type: KeyType, sig: Uint8Array): Uint8Array {
  const s = BigInt('0x' + toHex(sig.subarray(32)))
  return Uint8Array.from(Buffer.concat([sig.subarray(0, 32), scalarBytes(CURVES[type].order - s)]))
}

async function theirKeypair(type: KeyType, secret: Uint8Array) {
  return type === 'p256' ? P256Keypair.import(secret, { exportable: true }) : Secp256k1Keypair.import(secret, { exportable: true })
}

function seededKeypairs(type: KeyType, rng: Rng): Keypair[] {
  const out: Keypair[] = []
  while (out.length < KEYS_PER_CURVE) {
    try {
      out.push(keypairFromPrivateKey(type, rng.bytes(32)))
    } catch {
      // out-of-range scalar: draw again
    }
  }
  return out
}

for (const type of ['k256', 'p256'] as const) {
  test(`${type}: ${MESSAGES_PER_CURVE} seeded messages agree with @atproto/crypto and noble`, async () => {
    const rng = makeRng(type === 'k256' ? 0x6b323536 : 0x70323536)
    const ours = seededKeypairs(type, rng)
    const theirs = await Promise.all(ours.map((kp) => theirKeypair(type, kp.exportPrivateKey())))
    ours.forEach((kp, i) => assert.equal(theirs[i]!.did(), kp.publicKey.didKey))
    for (let i = 0; i < MESSAGES_PER_CURVE; i++) {
      const k = rng.int(KEYS_PER_CURVE)
      const kp = ours[k]!
      const did = kp.publicKey.didKey
      const message = rng.bytes(rng.int(300))
      const label = `${type} #${i}`

      const sig = kp.sign(message)
      assert.equal(verifySignature(kp.publicKey, message, sig), true, label)
      assert.equal(await atprotoVerify(did, message, sig), true, label)
      assert.equal(noble[type].verify(sig, message, kp.publicKey.compressed, { lowS: true }), true, label)

      const theirSig = await theirs[k]!.sign(message)
      assert.equal(verifySignature(did, message, theirSig), true, label)
      const nobleSig = noble[type].sign(message, kp.exportPrivateKey())
      assert.equal(verifySignature(did, message, nobleSig), true, label)

      // Wrong message or wrong key: false.
      const tampered = Uint8Array.from(message.length > 0 ? message : [0])
      tampered[rng.int(tampered.length)]! ^= 1 << rng.int(8)
      if (message.length === 0) tampered[0] = 1
      assert.equal(verifySignature(did, tampered, sig), false, label)
      assert.equal(verifySignature(ours[(k + 1) % KEYS_PER_CURVE]!.publicKey, message, sig), false, label)

      if (i % 10 === 0) {
        // The high-S twin is a genuine signature (noble, non-strict), yet rejected strictly.
        const high = flipS(type, sig)
        assert.equal(noble[type].verify(high, message, kp.publicKey.compressed, { lowS: false }), true, label)
        assert.equal(verifySignature(did, message, high), false, label)
        assert.equal(verifySignature(did, message, high, { allowMalleable: true }), true, label)
        assert.equal(await atprotoVerify(did, message, high, { allowMalleableSig: true }), true, label)
        assert.equal(await atprotoVerify(did, message, high), false, label)
      }
    }
  })

  test(`${type}: DER, wrong lengths and out-of-range r/s are rejected without throwing`, () => {
    const kp = seededKeypairs(type, makeRng(99))[0]!
    const message = new TextEncoder().encode('atproto')
    const sig = kp.sign(message)
    const der = noble[type].Signature.fromBytes(sig, 'compact').toBytes('der')
    assert.equal(noble[type].verify(der, message, kp.publicKey.compressed, { format: 'der' }), true)
    const n = scalarBytes(CURVES[type].order)
    const zero = new Uint8Array(32)
    const rejects: [string, Uint8Array][] = [
      ['DER', der],
      ['63 bytes', sig.subarray(0, 63)],
      ['65 bytes', Uint8Array.from([...sig, 0])],
      ['empty', new Uint8Array(0)],
      ['r = 0', Uint8Array.from([...zero, ...sig.subarray(32)])],
      ['s = 0', Uint8Array.from([...sig.subarray(0, 32), ...zero])],
      ['r = n', Uint8Array.from([...n, ...sig.subarray(32)])],
      ['s = n', Uint8Array.from([...sig.subarray(0, 32), ...n])],
      ['all 0xff', new Uint8Array(64).fill(0xff)],
    ]
    for (const [label, bad] of rejects) {
      assert.equal(verifySignature(kp.publicKey, message, bad), false, label)
      assert.equal(verifySignature(kp.publicKey, message, bad, { allowMalleable: true }), false, label)
    }
    assert.equal(verifySignature(kp.publicKey, message, sig), true)
  })

  test(`${type}: SHA-256 is applied exactly once`, () => {
    const kp = seededKeypairs(type, makeRng(5))[0]!
    const message = new TextEncoder().encode('hash me once')
    const digest = sha256(message)
    // noble with prehash:false signs exactly the 32 bytes it is given.
    const overDigest = noble[type].sign(digest, kp.exportPrivateKey(), { prehash: false })
    assert.equal(verifySignature(kp.publicKey, message, overDigest), true)
    const overDoubleDigest = noble[type].sign(sha256(digest), kp.exportPrivateKey(), { prehash: false })
    assert.equal(verifySignature(kp.publicKey, message, overDoubleDigest), false)
    assert.equal(verifySignature(kp.publicKey, digest, overDoubleDigest), true)
    // Our signature is over sha256(message), not sha256(sha256(message)).
    assert.equal(noble[type].verify(kp.sign(message), digest, kp.publicKey.compressed, { prehash: false }), true)
  })
}
