/**
 * Signatures: sign/s and verify/s for secp256k1 (k256) and P-256, atfed
 * (core/crypto: native libsecp256k1 or node:crypto) against @atproto/crypto
 * (@noble/curves).
 *
 * Same private keys (seeded) on both sides; messages are 200 random bytes
 * (about an unsigned commit). Each side verifies signatures it made itself,
 * by did:key string (what a relay has in hand), cycling through a pool of
 * MESSAGES so no cache can remember a result. Before timing, every pool
 * signature is checked to verify, so a broken side cannot look fast.
 */
import { P256Keypair, Secp256k1Keypair, verifySignature as refVerify } from '@atproto/crypto'
import { keypairFromPrivateKey } from '../core/crypto/keypair.ts'
import type { KeyType } from '../core/crypto/key-types.ts'
import { isValidPrivateScalar } from '../core/crypto/signature.ts'
import { cryptoBackend } from '../core/crypto/secp256k1-native.ts'
import { verifySignature } from '../core/crypto/verify.ts'
import { makeRng } from '../test/helpers/prng.ts'
import { measureRate } from './harness.ts'
import type { BenchSection, SectionContext, Side } from './harness.ts'

const MESSAGES = 64
const MESSAGE_BYTES = 200
const CURVES: readonly KeyType[] = ['k256', 'p256']

type Signer = {
  didKey: string
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>
  verify(didKey: string, message: Uint8Array, sig: Uint8Array): boolean | Promise<boolean>
}

function privateKeyFor(type: KeyType): Uint8Array {
  const rng = makeRng(type === 'k256' ? 256 : 2561)
  for (;;) {
    const d = rng.bytes(32)
    if (isValidPrivateScalar(type, d)) return d
  }
}

async function signerFor(side: Side, type: KeyType): Promise<Signer> {
  const d = privateKeyFor(type)
  if (side === 'ours') {
    const keypair = keypairFromPrivateKey(type, d)
    return { didKey: keypair.publicKey.didKey, sign: (m) => keypair.sign(m), verify: verifySignature }
  }
  const keypair = type === 'k256' ? await Secp256k1Keypair.import(d) : await P256Keypair.import(d)
  return { didKey: keypair.did(), sign: (m) => keypair.sign(m), verify: refVerify }
}

async function benchCurve(side: Side, type: KeyType, context: SectionContext): Promise<void> {
  const durationMs = context.quick ? 150 : 1500
  const signer = await signerFor(side, type)
  const rng = makeRng(7)
  const messages = Array.from({ length: MESSAGES }, () => rng.bytes(MESSAGE_BYTES))
  const sigs: Uint8Array[] = []
  for (const m of messages) sigs.push(await signer.sign(m))
  for (let i = 0; i < MESSAGES; i++) {
    if (!(await signer.verify(signer.didKey, messages[i]!, sigs[i]!))) throw new Error(`${side} ${type}: own signature fails`)
  }
  context.progress(`${type} sign`)
  const signRate = await measureRate((i) => signer.sign(messages[i % MESSAGES]!), { durationMs })
  context.progress(`${type} verify`)
  const verifyRate = await measureRate((i) => signer.verify(signer.didKey, messages[i % MESSAGES]!, sigs[i % MESSAGES]!), {
    durationMs,
  })
  const label = type === 'k256' ? 'secp256k1' : 'P-256'
  context.record({ name: `${label} verify`, value: verifyRate, unit: 'ops/s', higherIsBetter: true })
  context.record({ name: `${label} sign`, value: signRate, unit: 'ops/s', higherIsBetter: true })
}

export const section: BenchSection = {
  name: 'crypto',
  title: 'Signatures',
  sides: ['ours', 'reference'],
  async run(side, context) {
    if (side === 'ours') {
      const backend = cryptoBackend()
      const why = backend.nativeUnavailableReason === null ? '' : ` (${backend.nativeUnavailableReason})`
      context.info(`atfed backend: k256 ${backend.k256}${why}, p256 ${backend.p256} (OpenSSL ${backend.openssl})`)
    } else {
      context.info('reference backend: @atproto/crypto (@noble/curves, pure JS)')
    }
    for (const type of CURVES) await benchCurve(side, type, context)
  },
}
