// secp256k1 backends: the native libsecp256k1 binding is the one in use, and
// it agrees with node:crypto (the fallback) and noble (the reference) on keys,
// point validity and signatures. The fallback path runs in a child process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { createHash } from 'node:crypto'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { K256_NODE_OPS, k256NativeOps, curveOps } from '../../core/crypto/curves.ts'
import { assertNativeSecp256k1, cryptoBackend } from '../../core/crypto/secp256k1-native.ts'
import { isLowS } from '../../core/crypto/signature.ts'
import { makeRng } from '../helpers/prng.ts'

const CASES = 60
const sha256 = (bytes: Uint8Array): Uint8Array => Uint8Array.from(createHash('sha256').update(bytes).digest())

test('the native libsecp256k1 binding is loaded and selected', () => {
  const backend = cryptoBackend()
  assert.equal(backend.k256, 'libsecp256k1-native')
  assert.equal(backend.p256, 'node-crypto')
  assert.equal(backend.nativeUnavailableReason, null)
  assert.doesNotThrow(() => assertNativeSecp256k1())
  const native = k256NativeOps()
  assert.notEqual(native, null)
  assert.notEqual(curveOps('k256'), K256_NODE_OPS)
  // The binding entry (not index.js, which silently falls back to elliptic) resolves.
  const require = createRequire(import.meta.url)
  assert.match(require.resolve('secp256k1/bindings'), /secp256k1[\\/]bindings\.js$/)
})

test('native, node:crypto and noble agree on keys and signatures (seeded)', () => {
  const native = k256NativeOps()!
  const rng = makeRng(0x5ec9)
  for (let i = 0; i < CASES; i++) {
    const secret = rng.bytes(32)
    secret[0] = secret[0]! & 0x7f // stay below n
    secret[31] = secret[31]! | 1 // never zero
    const compressed = native.publicFromPrivate(secret)
    assert.deepEqual(compressed, K256_NODE_OPS.publicFromPrivate(secret))
    assert.deepEqual(compressed, secp256k1.getPublicKey(secret, true))

    const message = rng.bytes(rng.int(256))
    const nativeSig = native.makeSigner(secret)(message)
    const nodeSig = K256_NODE_OPS.makeSigner(secret)(message)
    const nobleSig = secp256k1.sign(message, secret)
    // Both libsecp256k1 and noble use RFC 6979 nonces: byte-identical signatures.
    assert.deepEqual(nativeSig, nobleSig)
    assert.ok(isLowS('k256', nativeSig) && isLowS('k256', nodeSig))

    const verifiers = [native.makeVerifier(compressed), K256_NODE_OPS.makeVerifier(compressed)]
    for (const sig of [nativeSig, nodeSig, nobleSig]) {
      for (const verify of verifiers) assert.equal(verify(message, sig), true)
      assert.equal(secp256k1.verify(sig, message, compressed), true)
    }
    const other = Uint8Array.from([...message, 1])
    for (const verify of verifiers) assert.equal(verify(other, nativeSig), false)
  }
})

test('native and node:crypto agree with noble on which points are on the curve', () => {
  const native = k256NativeOps()!
  const rng = makeRng(0xc0de)
  let valid = 0
  for (let i = 0; i < 200; i++) {
    const candidate = Uint8Array.from([2 + rng.int(2), ...rng.bytes(32)])
    let nobleSays = true
    try {
      secp256k1.Point.fromBytes(candidate)
    } catch {
      nobleSays = false
    }
    assert.equal(native.pointIsValid(candidate), nobleSays)
    assert.equal(K256_NODE_OPS.pointIsValid(candidate), nobleSays)
    if (nobleSays) valid++
  }
  assert.ok(valid > 50 && valid < 150, `about half of random x are on the curve, got ${valid}`)
})

test('backend contracts: libsecp256k1 rejects high-S by itself, OpenSSL does not', () => {
  const native = k256NativeOps()!
  const secret = sha256(new TextEncoder().encode('contract key'))
  const message = new TextEncoder().encode('contract')
  const sig = native.makeSigner(secret)(message)
  const n = secp256k1.Point.Fn.ORDER
  const s = BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex'))
  const high = Uint8Array.from(Buffer.concat([sig.subarray(0, 32), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]))
  const compressed = native.publicFromPrivate(secret)
  assert.equal(native.makeVerifier(compressed)(message, high), false)
  // This is why verify.ts checks low-S itself before reaching OpenSSL.
  assert.equal(K256_NODE_OPS.makeVerifier(compressed)(message, high), true)
})

test('fallback: ATFED_SECP256K1_BACKEND=node runs on node:crypto, warns once, strict mode refuses', () => {
  const script = `
    import { cryptoBackend, assertNativeSecp256k1 } from './core/crypto/secp256k1-native.ts'
    import { generateKeypair } from './core/crypto/keypair.ts'
    import { verifySignature } from './core/crypto/verify.ts'
    const fixture = 'did:key:zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc'
    const msg = Buffer.from('oWVoZWxsb2V3b3JsZA', 'base64')
    const sig = Buffer.from('5WpdIuEUUfVUYaozsi8G0B3cWO09cgZbIIwg1t2YKdUn/FEznOndsz/qgiYb89zwxYCbB71f7yQK5Lr7NasfoA', 'base64')
    const high = Buffer.from('5WpdIuEUUfVUYaozsi8G0B3cWO09cgZbIIwg1t2YKdXYA67MYxYiTMAVfdnkDCMN9S5B3vHosRe07aORmoshoQ', 'base64')
    const kp = generateKeypair('k256')
    const results = [
      verifySignature(fixture, msg, sig), verifySignature(fixture, msg, high),
      verifySignature(kp.publicKey, msg, kp.sign(msg)), verifySignature(kp.publicKey, msg, kp.sign(msg)),
    ]
    let strict = 'no error'
    try { assertNativeSecp256k1() } catch (e) { strict = e.name }
    console.log(JSON.stringify({ backend: cryptoBackend().k256, results, strict }))
  `
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, ATFED_SECP256K1_BACKEND: 'node' },
    encoding: 'utf8',
    timeout: 20_000,
  })
  assert.equal(child.status, 0, child.stderr)
  assert.deepEqual(JSON.parse(child.stdout.trim()), {
    backend: 'node-crypto-fallback',
    results: [true, false, true, true],
    strict: 'NativeCryptoUnavailable',
  })
  assert.equal(child.stderr.split('ATFED_SECP256K1_FALLBACK').length - 1, 1, child.stderr)
})
