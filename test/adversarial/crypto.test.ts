/**
 * Adversarial cases §4.4 (signatures and keys), over HTTP: commits go to
 * the PDS as `importRepo` CARs signed by the account's own key but in a
 * forbidden form (high-S, DER), refused as `BadCommitSignature` with
 * nothing written; PLC operations go to our PLC directory (`POST /<did>`),
 * refused by name with the DID's log unchanged; a document whose #atproto
 * key is broken fails resolution by name. The wrong-key-after-rotation case
 * (4.4.3) runs against the real relay in test/relay/relay-hosts.test.ts;
 * the PLC rule cases (4.4.5) in test/plc/*.test.ts (over HTTP).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { base58btc } from 'multiformats/bases/base58'
import { base64url } from 'multiformats/bases/base64'
import { generateKeypair, type Keypair } from '../../core/crypto/keypair.ts'
import { parseAtprotoIdentity } from '../../did-resolver/did-document.ts'
import { DidResolver } from '../../did-resolver/did-resolver.ts'
import { signOp } from '../../did-resolver/plc/op-builder.ts'
import { didForGenesis, type PlcOperation, type UnsignedPlcOperation } from '../../did-resolver/plc/operation.ts'
import type { Did } from '../../core/syntax/did.ts'
import { getJson, postOp } from '../helpers/plc.ts'
import { carWith, refused, startImportTarget, type ImportTarget } from './import-target.ts'

const T = { timeout: 30_000 }
const ORDER = {
  k256: BigInt('0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141'),
  p256: BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551'),
}

const toBig = (b: Uint8Array) => BigInt('0x' + Buffer.from(b).toString('hex'))
const to32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'))

/** The same signature with s replaced by n - s (valid for lax verifiers, forbidden in atproto). */
function highS(sig: Uint8Array, type: 'k256' | 'p256'): Uint8Array {
  const out = new Uint8Array(sig)
  out.set(to32(ORDER[type] - toBig(sig.subarray(32))), 32)
  return out
}

/** The compact signature as ASN.1 DER (what OpenSSL-style signers emit). */
function der(sig: Uint8Array): Uint8Array {
  const int = (b: Uint8Array) => {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    const v = b[i]! & 0x80 ? [0, ...b.subarray(i)] : [...b.subarray(i)]
    return [0x02, v.length, ...v]
  }
  const body = [...int(sig.subarray(0, 32)), ...int(sig.subarray(32))]
  return Uint8Array.from([0x30, body.length, ...body])
}

const multikey = (prefix: number[], key: Uint8Array) => `did:key:${base58btc.encode(Uint8Array.from([...prefix, ...key]))}`

describe('adversarial §4.4: signatures and keys (importRepo and the PLC directory over HTTP)', { timeout: 120_000 }, () => {
  let t: ImportTarget
  before(async () => {
    t = await startImportTarget()
  })
  after(() => t.stop())

  /** A genesis op for a fresh DID with `rotation` as its rotation key, signed by it; `sigOf` rewrites the signature. */
  function genesis(rotation: Keypair, over: Partial<UnsignedPlcOperation> = {}, sigOf?: (sig: Uint8Array) => Uint8Array) {
    const unsigned: UnsignedPlcOperation = {
      type: 'plc_operation',
      rotationKeys: [rotation.publicKey.didKey],
      verificationMethods: { atproto: generateKeypair('k256').publicKey.didKey },
      alsoKnownAs: ['at://crypto-case.test'],
      services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: 'https://pds.example.com' } },
      prev: null,
      ...over,
    }
    let op: PlcOperation = signOp(unsigned, rotation)
    if (sigOf !== undefined) op = { ...op, sig: base64url.baseEncode(sigOf(base64url.baseDecode(op.sig))) }
    return { op, did: didForGenesis(op) }
  }

  /** The directory refuses `op` for `did` with one of `names`, has no log for it after, and still answers. */
  async function plcRefuses(did: string, op: unknown, names: string[]): Promise<void> {
    const reply = await postOp(t.world.plc.url, did, op)
    const error = (reply.body as { error?: string }).error ?? ''
    assert.ok(names.includes(error), `${reply.status} ${JSON.stringify(reply.body)}`)
    assert.equal(reply.status, 400)
    assert.equal((await getJson(`${t.world.plc.url}/${did}`)).status, 404, 'nothing stored')
    assert.equal((await getJson(`${t.world.plc.url}/${t.did}`)).status, 200, 'the directory answers')
  }

  /** alice's commit re-signed by her key, then its signature rewritten by `sigOf`. */
  function commitCarWithSig(sigOf: (sig: Uint8Array) => Uint8Array): Uint8Array {
    return carWith(t, (c) => c, { sig: sigOf })
  }

  it('4.4.1 high-S signatures: on a commit (importRepo) → BadCommitSignature; on K-256 and P-256 PLC ops → InvalidSignature', T, async () => {
    assert.equal(t.keyA.type, 'k256')
    await refused(t, commitCarWithSig((sig) => highS(sig, 'k256')), { error: 'BadCommitSignature' })
    for (const type of ['k256', 'p256'] as const) {
      const rotation = generateKeypair(type)
      const bad = genesis(rotation, {}, (sig) => highS(sig, type))
      await plcRefuses(bad.did, bad.op, ['InvalidSignature'])
      const good = genesis(rotation)
      assert.equal((await postOp(t.world.plc.url, good.did, good.op)).status, 200, 'the low-S original is fine')
    }
  })

  it('4.4.2 DER-encoded signatures where compact is required: commit → InvalidCommit (sig is not 64 bytes), PLC op → InvalidSignature', T, async () => {
    await refused(t, commitCarWithSig(der), { error: 'InvalidCommit' })
    const rotation = generateKeypair('p256')
    const bad = genesis(rotation, {}, der)
    await plcRefuses(bad.did, bad.op, ['InvalidSignature'])
  })

  it('4.4.4 did:keys with an unknown multicodec, truncated, off the curve, or the point at infinity: InvalidOperation / InvalidDidDocument', T, async () => {
    const good = generateKeypair('k256').publicKey.didKey
    const raw = base58btc.decode(good.slice('did:key:'.length))
    const badKeys = [
      multikey([0xed, 0x01], new Uint8Array(32).fill(7)), // ed25519: not an atproto curve
      `did:key:${base58btc.encode(raw.subarray(0, 20))}`, // truncated
      multikey([0xe7, 0x01], Uint8Array.from([0x02, ...new Uint8Array(32).fill(0xff)])), // x >= p: no such point
      multikey([0xe7, 0x01], Uint8Array.from([0x00])), // the point at infinity
    ]
    const resolver = new DidResolver({ plcUrl: t.world.plc.url })
    for (const key of badKeys) {
      const rotation = generateKeypair('k256')
      // As a rotation key: refused by the directory (the op could never be verified).
      const asRotation = genesis(rotation, { rotationKeys: [key, rotation.publicKey.didKey] })
      await plcRefuses(asRotation.did, asRotation.op, ['InvalidOperation'])
      // As the #atproto signing key: refused too, or — if the directory keeps it — resolution fails by name.
      const asSigning = genesis(rotation, { verificationMethods: { atproto: key } })
      const reply = await postOp(t.world.plc.url, asSigning.did, asSigning.op)
      if (reply.status === 200) {
        // The directory keeps verification methods as strings (as the reference does); readers refuse them.
        const doc = await resolver.resolveDid(asSigning.did as Did)
        assert.throws(() => parseAtprotoIdentity(asSigning.did as Did, doc), { name: 'InvalidDidDocument' }, key)
      } else {
        assert.ok(['InvalidOperation', 'InvalidDidKey', 'InvalidKey'].includes((reply.body as { error: string }).error), JSON.stringify(reply.body))
      }
    }
    assert.equal((await getJson(`${t.world.plc.url}/${t.did}`)).status, 200)
  })
})
