/**
 * did:plc ops: our builder against the @did-plc/lib oracle (both directions),
 * seeded random op chains, the strict signature encoding, the DID document
 * shape, and the parser's negative space at every limit's edge.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as plcLib from '@did-plc/lib'
import { P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
import { generateKeypair, type Keypair } from '../../core/crypto/keypair.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import {
  PLC_ALSO_KNOWN_AS_LENGTH_MAX,
  PLC_ALSO_KNOWN_AS_MAX,
  PLC_DID_KEY_LENGTH_MAX,
  PLC_ID_LENGTH_MAX,
  PLC_OP_BYTES_MAX,
  PLC_ROTATION_KEYS_MAX,
  PLC_SERVICE_ENDPOINT_LENGTH_MAX,
  PLC_SERVICE_TYPE_LENGTH_MAX,
  PLC_SERVICES_MAX,
  PLC_VERIFICATION_METHODS_MAX,
} from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { opToData, opsToDidDocument } from '../../did-resolver/plc/document.ts'
import {
  createGenesisOp,
  createTombstone,
  createUpdateOp,
  decodeOpSig,
  signOp,
  verifyOpSignature,
} from '../../did-resolver/plc/op-builder.ts'
import { cidForOp, didForGenesis, parsePlcOp, type PlcOp, type PlcStateOp } from '../../did-resolver/plc/operation.ts'
import { validateAuditLog, type LogEntry } from '../../did-resolver/plc/validate.ts'
import { makeRng } from '../helpers/prng.ts'
import { seededKeypair } from '../helpers/plc.ts'

const k256 = generateKeypair('k256')
const p256 = generateKeypair('p256')
const signing = generateKeypair('k256')

function genesis(rotation: Keypair[] = [p256, k256], signer: Keypair = k256) {
  return createGenesisOp({
    signingKey: signing.publicKey.didKey,
    rotationKeys: rotation.map((k) => k.publicKey.didKey),
    handle: 'alice.test',
    pds: 'https://pds.example.com',
    signer,
  })
}

/** Lib IndexedOperation entries (with the lib's own CID class) for assureValidNextOp. */
async function libIndexed(did: string, ops: readonly PlcOp[], createdAt: Date) {
  return Promise.all(
    ops.map(async (op) => ({
      did,
      operation: op as plcLib.CompatibleOpOrTombstone,
      cid: (await plcLib.getLastOpWithCid([op as plcLib.CompatibleOpOrTombstone])).cid,
      nullified: false,
      createdAt,
    })),
  )
}

test('our genesis and updates verify with @did-plc/lib and derive the same DID', async () => {
  const g = genesis()
  assert.equal(g.did, await plcLib.didForCreateOp(g.op as plcLib.CompatibleOp))
  assert.match(g.did, /^did:plc:[a-z2-7]{24}$/)
  assert.equal(g.cid.toString(), (await plcLib.getLastOpWithCid([g.op as plcLib.Operation])).cid.toString())
  const u1 = createUpdateOp(g.op, { signer: p256, handle: 'bob.test', pds: 'https://other.example.com' })
  const u2 = createUpdateOp(u1.op, { signer: k256, signingKey: generateKeypair('p256').publicKey.didKey })
  const t = createTombstone(u2.op, { signer: p256 })
  const data = await plcLib.validateOperationLog(g.did, [g.op, u1.op, u2.op] as plcLib.CompatibleOpOrTombstone[])
  assert.deepEqual(data, opToData(g.did, u2.op))
  assert.equal(await plcLib.validateOperationLog(g.did, [g.op, u1.op, u2.op, t.op] as plcLib.CompatibleOpOrTombstone[]), null)
  // assureValidNextOp: a plain update, and a recovery fork by the higher-priority key.
  const now = new Date()
  await plcLib.assureValidNextOp(g.did, await libIndexed(g.did, [g.op], now), u1.op as plcLib.Operation)
  const evil = createUpdateOp(g.op, { signer: k256, rotationKeys: [k256.publicKey.didKey] })
  const fix = createUpdateOp(g.op, { signer: p256, handle: 'alice2.test' })
  const res = await plcLib.assureValidNextOp(g.did, await libIndexed(g.did, [g.op, evil.op], now), fix.op as plcLib.Operation)
  assert.deepEqual(res.nullified.map(String), [evil.cid.toString()])
})

test('ops made by @did-plc/lib parse, derive the same DID and verify with our code', async () => {
  const k = await Secp256k1Keypair.create()
  const p = await P256Keypair.create()
  const { op, did } = await plcLib.createOp({
    signingKey: p.did(),
    handle: 'carol.test',
    pds: 'https://pds.carol.test',
    rotationKeys: [k.did(), p.did()],
    signer: p,
  })
  const parsed = parsePlcOp(op)
  assert.equal(parsed.type, 'plc_operation')
  if (parsed.type !== 'plc_operation') return
  assert.equal(didForGenesis(parsed), did)
  assert.equal(verifyOpSignature(parsed, parsed.rotationKeys), p.did())
  const update = parsePlcOp(await plcLib.updateHandleOp(op, k, 'dave.test'))
  assert.equal(verifyOpSignature(update, parsed.rotationKeys), k.did())
  assert.equal(update.prev, cidForOp(parsed).toString())
})

test('seeded random op chains validate identically under our rules and @did-plc/lib', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rng = makeRng(seed)
    let keys = [seededKeypair(rng, rng.pick(['k256', 'p256'] as const)), seededKeypair(rng, 'k256')]
    const g = createGenesisOp({
      signingKey: seededKeypair(rng, 'p256').publicKey.didKey,
      rotationKeys: keys.map((k) => k.publicKey.didKey),
      handle: `user${seed}.test`,
      pds: 'https://pds.test',
      signer: rng.pick(keys),
    })
    const ops: PlcOp[] = [g.op]
    let last: PlcStateOp = g.op
    for (let i = 0; i < 5; i++) {
      const signer = rng.pick(keys)
      const change = rng.int(4)
      if (change === 0) last = createUpdateOp(last, { signer, handle: `h${seed}x${i}.test` }).op
      if (change === 1) last = createUpdateOp(last, { signer, pds: `https://pds${i}.test` }).op
      if (change === 2) last = createUpdateOp(last, { signer, signingKey: seededKeypair(rng, 'k256').publicKey.didKey }).op
      if (change === 3) {
        keys = [seededKeypair(rng, 'p256'), ...keys.slice(0, 1 + rng.int(2))]
        last = createUpdateOp(last, { signer, rotationKeys: keys.map((k) => k.publicKey.didKey) }).op
      }
      ops.push(last)
    }
    if (rng.int(3) === 0) ops.push(createTombstone(last, { signer: rng.pick(keys) }).op)
    const entries: LogEntry[] = ops.map((op, i) => ({
      did: g.did,
      operation: op,
      cid: cidForOp(op).toString(),
      nullified: false,
      createdAt: 1_000 + i,
    }))
    validateAuditLog(g.did, entries)
    const libData = await plcLib.validateOperationLog(g.did, ops as plcLib.CompatibleOpOrTombstone[])
    assert.deepEqual(libData, opToData(g.did, ops.at(-1)!), `seed ${seed}`)
  }
})

test('signatures: strict base64url, low-S, only the listed rotation keys', () => {
  const g = genesis()
  assert.equal(verifyOpSignature(g.op, [p256.publicKey.didKey, k256.publicKey.didKey]), k256.publicKey.didKey)
  assert.equal(verifyOpSignature(g.op, [p256.publicKey.didKey]), null)
  assert.equal(verifyOpSignature({ ...g.op, sig: `${g.op.sig}==` }, [k256.publicKey.didKey]), null)
  assert.equal(verifyOpSignature({ ...g.op, sig: `${g.op.sig}\n` }, [k256.publicKey.didKey]), null)
  assert.equal(verifyOpSignature({ ...g.op, handle: 'x' } as unknown as PlcOp, ['did:key:zBroken']), null)
  const sig = decodeOpSig(g.op.sig)!
  assert.equal(sig.length, 64)
  // The last of 86 chars carries 4 data bits and 2 padding bits that must be zero.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const lastIndex = alphabet.indexOf(g.op.sig.at(-1)!)
  assert.equal(lastIndex % 4, 0)
  assert.equal(decodeOpSig(g.op.sig.slice(0, -1) + alphabet[lastIndex | 1]), null)
  assert.equal(decodeOpSig(g.op.sig.slice(0, -1)), null)
  assert.equal(decodeOpSig(`${g.op.sig.slice(0, -2)}+${g.op.sig.at(-1)}`), null)
  const resigned = signOp({ type: 'plc_tombstone', prev: g.cid.toString() }, p256)
  assert.equal(verifyOpSignature(resigned, [k256.publicKey.didKey, p256.publicKey.didKey]), p256.publicKey.didKey)
  const tampered = { ...g.op, alsoKnownAs: ['at://mallory.test'] }
  assert.equal(verifyOpSignature(tampered, [k256.publicKey.didKey, p256.publicKey.didKey]), null)
})

test('opsToDidDocument renders the reference DID document shape', () => {
  const did = 'did:plc:7iza6de2dwap2sbkpav7c6c6' as Did
  const op = parsePlcOp({
    type: 'plc_operation',
    rotationKeys: [k256.publicKey.didKey],
    verificationMethods: { atproto: p256.publicKey.didKey, atproto_label: k256.publicKey.didKey, other: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' },
    alsoKnownAs: ['at://alice.test'],
    services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: 'https://example2.com' } },
    prev: null,
    sig: 'x',
  })
  assert.deepEqual(opsToDidDocument(did, op), {
    '@context': [
      'https://www.w3.org/ns/did/v1',
      'https://w3id.org/security/multikey/v1',
      'https://w3id.org/security/suites/ecdsa-2019/v1',
      'https://w3id.org/security/suites/secp256k1-2019/v1',
    ],
    id: did,
    alsoKnownAs: ['at://alice.test'],
    verificationMethod: [
      { id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: p256.publicKey.multikey },
      { id: `${did}#atproto_label`, type: 'Multikey', controller: did, publicKeyMultibase: k256.publicKey.multikey },
      { id: `${did}#other`, type: 'Multikey', controller: did, publicKeyMultibase: 'z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://example2.com' }],
  })
  assert.equal(opsToDidDocument(did, { type: 'plc_tombstone', prev: 'x', sig: 'y' }), null)
})

const BASE = () => structuredClone(genesis().op) as unknown as Record<string, unknown> & { services: Record<string, unknown> }
const rotationKey = () => generateKeypair('k256').publicKey.didKey
const vmKey = (i: number) => generateKeypair(i % 2 ? 'p256' : 'k256').publicKey.didKey

test('parser: shapes and types (InvalidOperation)', () => {
  const bad: [string, (op: Record<string, unknown>) => void][] = [
    ['unknown field', (op) => (op['extra'] = 1)],
    ['missing prev', (op) => delete op['prev']],
    ['missing sig', (op) => delete op['sig']],
    ['wrong type', (op) => (op['type'] = 'plc_update')],
    ['rotationKeys not array', (op) => (op['rotationKeys'] = 'did:key:x')],
    ['rotation key not did:key', (op) => (op['rotationKeys'] = ['did:web:example.com'])],
    ['ed25519 rotation key', (op) => (op['rotationKeys'] = ['did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'])],
    ['vm key not did:key', (op) => (op['verificationMethods'] = { atproto: 'zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF' })],
    ['vm key not base58', (op) => (op['verificationMethods'] = { atproto: 'did:key:z0OIl' })],
    ['service not object', (op) => (op['services'] = { atproto_pds: 'https://x' })],
    ['service extra field', (op) => (op['services'] = { s: { type: 't', endpoint: 'e', x: 1 } })],
    ['service endpoint number', (op) => (op['services'] = { s: { type: 't', endpoint: 1 } })],
    ['prev not a CID', (op) => (op['prev'] = 'bafy-not-a-cid')],
    ['prev raw-codec CID', (op) => (op['prev'] = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')],
    ['prev as base58 CIDv0', (op) => (op['prev'] = 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')],
    ['duplicate alsoKnownAs', (op) => (op['alsoKnownAs'] = ['at://a.test', 'at://a.test'])],
    ['sig not a string', (op) => (op['sig'] = 5)],
  ]
  for (const [what, mutate] of bad) {
    const op = BASE()
    mutate(op)
    assert.throws(() => parsePlcOp(op), { name: 'InvalidOperation' }, what)
  }
  assert.throws(() => parsePlcOp(null), { name: 'InvalidOperation' })
  assert.throws(() => parsePlcOp([]), { name: 'InvalidOperation' })
  assert.throws(() => parsePlcOp({ type: 'plc_tombstone', prev: genesis().cid.toString() }), { name: 'InvalidOperation' })
  const legacy = { type: 'create', signingKey: rotationKey(), recoveryKey: rotationKey(), handle: 'a.test', service: 'https://x', prev: null, sig: 's' }
  assert.throws(() => parsePlcOp(legacy), { name: 'InvalidOperation' })
  assert.equal(parsePlcOp(legacy, { allowLegacy: true }).type, 'create')
  // A __proto__ map key stays a plain own property.
  const proto = parsePlcOp(JSON.parse(JSON.stringify(BASE()).replace('"atproto_pds"', '"__proto__"')))
  assert.equal(proto.type === 'plc_operation' && Object.keys(proto.services)[0], '__proto__')
})

test('parser: every count and length limit at its edge (LimitExceeded)', () => {
  const cases: [string, (op: Record<string, unknown>, n: number) => void, number][] = [
    ['rotationKeys', (op, n) => (op['rotationKeys'] = Array.from({ length: n }, rotationKey)), PLC_ROTATION_KEYS_MAX],
    [
      'verificationMethods',
      (op, n) => (op['verificationMethods'] = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, vmKey(i)]))),
      PLC_VERIFICATION_METHODS_MAX,
    ],
    ['alsoKnownAs', (op, n) => (op['alsoKnownAs'] = Array.from({ length: n }, (_, i) => `at://h${i}.test`)), PLC_ALSO_KNOWN_AS_MAX],
    ['alsoKnownAs length', (op, n) => (op['alsoKnownAs'] = ['a'.repeat(n)]), PLC_ALSO_KNOWN_AS_LENGTH_MAX],
    [
      'services',
      (op, n) => (op['services'] = Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, { type: 't', endpoint: 'e' }]))),
      PLC_SERVICES_MAX,
    ],
    ['service id length', (op, n) => (op['services'] = { ['s'.repeat(n)]: { type: 't', endpoint: 'e' } }), PLC_ID_LENGTH_MAX],
    ['vm id length', (op, n) => (op['verificationMethods'] = { ['v'.repeat(n)]: vmKey(0) }), PLC_ID_LENGTH_MAX],
    ['service type', (op, n) => (op['services'] = { s: { type: 't'.repeat(n), endpoint: 'e' } }), PLC_SERVICE_TYPE_LENGTH_MAX],
    ['service endpoint', (op, n) => (op['services'] = { s: { type: 't', endpoint: 'e'.repeat(n) } }), PLC_SERVICE_ENDPOINT_LENGTH_MAX],
    ['vm did:key length', (op, n) => (op['verificationMethods'] = { v: `did:key:z${'2'.repeat(n - 9)}` }), PLC_DID_KEY_LENGTH_MAX],
  ]
  for (const [what, set, max] of cases) {
    const ok = BASE()
    set(ok, max)
    assert.doesNotThrow(() => parsePlcOp(ok), what)
    const over = BASE()
    set(over, max + 1)
    assert.throws(() => parsePlcOp(over), { name: 'LimitExceeded' }, what)
  }
})

test('parser: DAG-CBOR size edge (OperationTooLarge above PLC_OP_BYTES_MAX)', () => {
  // Ten services with long endpoints (each within its own length limit), the last one tuned to the byte.
  const withEndpoints = (lengths: number[]) => {
    const op = BASE()
    op.services = Object.fromEntries(lengths.map((n, i) => [`s${i}`, { type: 't', endpoint: 'e'.repeat(n) }]))
    return op
  }
  const sized = (bytes: number) => {
    for (let n = 256; n <= PLC_SERVICE_ENDPOINT_LENGTH_MAX; n++) {
      const extra = bytes - encodeCbor(withEndpoints(Array(10).fill(n))).length
      if (extra < 0 || n + extra > PLC_SERVICE_ENDPOINT_LENGTH_MAX) continue
      const op = withEndpoints([...Array(9).fill(n), n + extra])
      assert.equal(encodeCbor(op).length, bytes)
      return op
    }
    assert.fail(`cannot build an op of ${bytes} bytes`)
  }
  assert.doesNotThrow(() => parsePlcOp(sized(PLC_OP_BYTES_MAX)))
  assert.throws(() => parsePlcOp(sized(PLC_OP_BYTES_MAX + 1)), { name: 'OperationTooLarge' })
})

test('builder refuses what the directory would (InvalidPlcInput, InvalidHandle)', () => {
  const base = { signingKey: signing.publicKey.didKey, handle: 'alice.test', pds: 'https://pds.test', signer: k256 }
  const keys = (n: number) => Array.from({ length: n }, rotationKey)
  assert.throws(() => createGenesisOp({ ...base, rotationKeys: [p256.publicKey.didKey] }), { name: 'InvalidPlcInput' })
  assert.throws(() => createGenesisOp({ ...base, rotationKeys: [] }), { name: 'InvalidPlcInput' })
  assert.throws(() => createGenesisOp({ ...base, rotationKeys: [k256.publicKey.didKey, ...keys(5)] }), { name: 'InvalidPlcInput' })
  assert.doesNotThrow(() => createGenesisOp({ ...base, rotationKeys: [k256.publicKey.didKey, ...keys(4)] }))
  const dup = [k256.publicKey.didKey, k256.publicKey.didKey]
  assert.throws(() => createGenesisOp({ ...base, rotationKeys: dup }), { name: 'InvalidPlcInput' })
  const one = [k256.publicKey.didKey]
  for (const pds of ['ftp://pds.test', 'https://pds.test/xrpc', 'https://u:p@pds.test', 'not a url', 'https://pds.test/?a=1']) {
    assert.throws(() => createGenesisOp({ ...base, rotationKeys: one, pds }), { name: 'InvalidPlcInput' }, pds)
  }
  assert.equal(createGenesisOp({ ...base, rotationKeys: one, pds: 'https://PDS.test/' }).op.services['atproto_pds']!.endpoint, 'https://pds.test')
  assert.throws(() => createGenesisOp({ ...base, rotationKeys: one, handle: 'not a handle' }), { name: 'InvalidHandle' })
  assert.throws(() => createGenesisOp({ ...base, rotationKeys: one, signingKey: 'did:key:zNope' }), { name: 'InvalidPlcInput' })
  const g = genesis()
  assert.throws(() => createUpdateOp(g.op, { signer: signing, handle: 'x.test' }), { name: 'InvalidPlcInput' })
  assert.throws(() => createTombstone(g.op, { signer: signing }), { name: 'InvalidPlcInput' })
  // Labeler entries: set and remove extra methods and services; handle replaces the at:// entry only.
  const u = createUpdateOp(g.op, {
    signer: p256,
    handle: 'new.test',
    verificationMethods: { atproto_label: k256.publicKey.didKey },
    services: { atproto_labeler: { type: 'AtprotoLabeler', endpoint: 'https://labeler.test' } },
  })
  assert.deepEqual(u.op.alsoKnownAs, ['at://new.test'])
  assert.deepEqual(Object.keys(u.op.verificationMethods), ['atproto', 'atproto_label'])
  const v = createUpdateOp(u.op, { signer: p256, verificationMethods: { atproto_label: null }, services: { atproto_labeler: null } })
  assert.deepEqual(Object.keys(v.op.verificationMethods), ['atproto'])
  assert.deepEqual(Object.keys(v.op.services), ['atproto_pds'])
})
