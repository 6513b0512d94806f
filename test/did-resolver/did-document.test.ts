import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ECDH } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { base58btc } from 'multiformats/bases/base58'
import * as plc from '@did-plc/lib'
import { parseAtprotoIdentity, parseDidDocument, parseServiceEndpoint } from '../../did-resolver/did-document.ts'
import { parseDid } from '../../core/syntax/did.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { DID_DOC_ENTRIES_MAX, SERVICE_ENDPOINT_LENGTH_MAX } from '../../core/limits.ts'
import { makeDidDoc } from '../helpers/did-doc.ts'
import { makeRng } from '../helpers/prng.ts'
import { interopPath } from '../helpers/vectors.ts'

const DID = parseDid('did:plc:ewvi7nxzyoun6zhxrhs64oiz')
const K256_KEYS = (
  JSON.parse(readFileSync(interopPath('crypto/w3c_didkey_K256.json'), 'utf8')) as Array<{
    publicDidKey: string
  }>
).map((v) => v.publicDidKey)
const P256_KEYS = (
  JSON.parse(readFileSync(interopPath('crypto/w3c_didkey_P256.json'), 'utf8')) as Array<{
    publicDidKey: string
  }>
).map((v) => v.publicDidKey)
const KEY = K256_KEYS[0] as string

test('vector: the plc.directory shape parses into the atproto identity', () => {
  const doc = {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: DID,
    alsoKnownAs: ['https://example.com/not-atproto', 'at://Alice.Example.COM', 'at://second.example.com'],
    verificationMethod: [
      { id: `${DID}#atproto`, type: 'Multikey', controller: DID, publicKeyMultibase: KEY.slice(8) },
      { id: '#atproto_label', type: 'Multikey', controller: DID, publicKeyMultibase: (P256_KEYS[0] as string).slice(8) },
    ],
    service: [
      { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://PDS.example.com/' },
      { id: `${DID}#atproto_labeler`, type: 'AtprotoLabeler', serviceEndpoint: 'https://labeler.example.com:8443' },
      { id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: 'https://feeds.example.com' },
    ],
    authentication: ['#atproto'],
  }
  const id = parseAtprotoIdentity(DID, doc)
  assert.equal(id.did, DID)
  assert.equal(id.handle, 'alice.example.com')
  assert.equal(id.signingKey?.didKey, KEY)
  assert.equal(id.signingKey?.type, 'k256')
  assert.equal(id.pds, 'https://pds.example.com')
  assert.equal(id.labeler.key?.didKey, P256_KEYS[0])
  assert.equal(id.labeler.endpoint, 'https://labeler.example.com:8443')
  assert.equal(id.feedgen, 'https://feeds.example.com')
  assert.equal(id.doc, doc, 'the document is kept as it came, extra fields included')
})

test('vector: documents rendered by @did-plc/lib (legacy 2019 key types, uncompressed) parse to the same keys', () => {
  for (const key of [...K256_KEYS, ...P256_KEYS]) {
    const doc = plc.formatDidDoc({
      did: DID,
      rotationKeys: [key],
      verificationMethods: { atproto: key },
      alsoKnownAs: ['at://bob.test'],
      services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: 'http://localhost:2583' } },
    })
    const id = parseAtprotoIdentity(DID, doc)
    assert.equal(id.signingKey?.didKey, key)
    assert.equal(id.pds, 'http://localhost:2583')
    assert.equal(id.handle, 'bob.test')
  }
})

test('property: Multikey and legacy uncompressed forms of random keys give the same did:key', () => {
  const rng = makeRng(3)
  for (let i = 0; i < 40; i++) {
    const type = rng.pick(['k256', 'p256'] as const)
    const keypair = generateKeypair(type)
    const modern = parseAtprotoIdentity(DID, makeDidDoc({ did: DID, signingKey: keypair.publicKey.didKey }))
    assert.equal(modern.signingKey?.didKey, keypair.publicKey.didKey)
    const uncompressed = uncompress(keypair.publicKey.compressed, type)
    const legacyType = type === 'k256' ? 'EcdsaSecp256k1VerificationKey2019' : 'EcdsaSecp256r1VerificationKey2019'
    const legacy = parseAtprotoIdentity(DID, {
      id: DID,
      verificationMethod: [{ id: '#atproto', type: legacyType, controller: DID, publicKeyMultibase: base58btc.encode(uncompressed) }],
    })
    assert.equal(legacy.signingKey?.didKey, keypair.publicKey.didKey)
  }
})

function uncompress(compressed: Uint8Array, type: 'k256' | 'p256'): Uint8Array {
  const curve = type === 'k256' ? 'secp256k1' : 'prime256v1'
  return new Uint8Array(ECDH.convertKey(compressed, curve, undefined, undefined, 'uncompressed') as Buffer)
}

test('absent optional parts read as null / empty', () => {
  const id = parseAtprotoIdentity(DID, { id: DID })
  assert.equal(id.handle, null)
  assert.equal(id.signingKey, null)
  assert.equal(id.pds, null)
  assert.deepEqual(id.labeler, {})
  assert.equal(id.feedgen, null)
  // A PDS service of another type is not the PDS; a bad handle alias reads as no handle.
  const other = parseAtprotoIdentity(DID, {
    id: DID,
    alsoKnownAs: ['at://not a handle'],
    service: [{ id: '#atproto_pds', type: 'SomethingElse', serviceEndpoint: 'https://x.example.com' }],
  })
  assert.equal(other.pds, null)
  assert.equal(other.handle, null)
})

test('malformed auxiliary entries (labeler, feedgen) read as absent', () => {
  const id = parseAtprotoIdentity(DID, {
    id: DID,
    verificationMethod: [{ id: '#atproto_label', type: 'Multikey', controller: DID, publicKeyMultibase: 'zgarbage' }],
    service: [
      { id: '#atproto_labeler', type: 'AtprotoLabeler', serviceEndpoint: 'ftp://labeler.example.com' },
      { id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: 'https://feeds.example.com/path' },
    ],
  })
  assert.deepEqual(id.labeler, {})
  assert.equal(id.feedgen, null)
})

test('service endpoints: http(s) origins only', () => {
  assert.equal(parseServiceEndpoint('https://pds.example.com'), 'https://pds.example.com')
  assert.equal(parseServiceEndpoint('https://pds.example.com/'), 'https://pds.example.com')
  assert.equal(parseServiceEndpoint('http://localhost:2583'), 'http://localhost:2583')
  for (const bad of [
    'ftp://pds.example.com',
    'https://user:pw@pds.example.com',
    'https://pds.example.com/xrpc',
    'https://pds.example.com/?x=1',
    'https://pds.example.com/#frag',
    'https://pds.example.com?',
    'pds.example.com',
    'javascript:alert(1)',
    `https://${'a'.repeat(SERVICE_ENDPOINT_LENGTH_MAX)}.com`,
    42,
    { uri: 'https://pds.example.com' },
  ]) {
    assert.equal(parseServiceEndpoint(bad), null, String(bad))
  }
})

test('negative: id mismatch is DidDocumentMismatch', () => {
  assert.throws(() => parseDidDocument(DID, { id: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }), { name: 'DidDocumentMismatch' })
  assert.throws(() => parseAtprotoIdentity(DID, makeDidDoc({ did: 'did:web:example.com' })), {
    name: 'DidDocumentMismatch',
  })
})

test('negative: malformed documents are InvalidDidDocument', () => {
  const method = { id: '#atproto', type: 'Multikey', controller: DID, publicKeyMultibase: KEY.slice(8) }
  const cases: unknown[] = [
    null,
    'did:plc:x',
    [],
    {},
    { id: 42 },
    { id: DID, alsoKnownAs: 'at://alice.test' },
    { id: DID, alsoKnownAs: [42] },
    { id: DID, verificationMethod: [{ id: '#atproto', type: 'Multikey' }] },
    { id: DID, verificationMethod: [{ ...method, publicKeyMultibase: 7 }] },
    { id: DID, verificationMethod: {} },
    { id: DID, service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer' }] },
    { id: DID, service: [{ id: '#x', type: 'X', serviceEndpoint: 5 }] },
    { id: DID, alsoKnownAs: Array(DID_DOC_ENTRIES_MAX + 1).fill('at://a.test') },
    { id: DID, service: Array.from({ length: DID_DOC_ENTRIES_MAX + 1 }, (_, i) => ({ id: `#s${i}`, type: 'X', serviceEndpoint: 'https://a.test' })) },
    // duplicate ids, relative and absolute forms of the same id included
    { id: DID, verificationMethod: [method, { ...method, id: `${DID}#atproto` }] },
    { id: DID, service: [
      { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://a.example.com' },
      { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://b.example.com' },
    ] },
  ]
  for (const doc of cases) assert.throws(() => parseDidDocument(DID, doc), { name: 'InvalidDidDocument' }, JSON.stringify(doc))
  // Exactly DID_DOC_ENTRIES_MAX entries is fine.
  parseDidDocument(DID, { id: DID, alsoKnownAs: Array(DID_DOC_ENTRIES_MAX).fill('at://a.test') })
})

test('negative: a present but broken #atproto key or #atproto_pds endpoint fails the document', () => {
  const base = { id: DID }
  const broken: unknown[] = [
    { ...base, verificationMethod: [{ id: '#atproto', type: 'Multikey', controller: DID, publicKeyMultibase: 'zQ3shnotakey' }] },
    { ...base, verificationMethod: [{ id: '#atproto', type: 'Multikey', controller: DID }] },
    { ...base, verificationMethod: [{ id: '#atproto', type: 'JsonWebKey2020', controller: DID, publicKeyMultibase: KEY.slice(8) }] },
    { ...base, service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://pds.example.com/path' }] },
    { ...base, service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'gopher://pds.example.com' }] },
    { ...base, service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: { uri: 'https://x.com' } }] },
  ]
  for (const doc of broken) assert.throws(() => parseAtprotoIdentity(DID, doc), { name: 'InvalidDidDocument' }, JSON.stringify(doc))
  // An id of another DID that merely ends in #atproto is not our key.
  const foreign = parseAtprotoIdentity(DID, {
    ...base,
    verificationMethod: [{ id: 'did:plc:zzzzzzzzzzzzzzzzzzzzzzzz#atproto', type: 'Multikey', controller: DID, publicKeyMultibase: KEY.slice(8) }],
  })
  assert.equal(foreign.signingKey, null)
})
