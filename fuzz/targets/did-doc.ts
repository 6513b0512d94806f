/**
 * Fuzz target: DID document parsing as the resolver does it — the fetched
 * body's JSON (did-resolver.ts turns a JSON error into InvalidDidDocument the
 * same way), then `parseAtprotoIdentity` (did-resolver/did-document.ts):
 * shape check plus handle, signing key, PDS, labeler and feedgen. The DID
 * asked for is the document's own `id` when that is a DID (else a fixed one),
 * so mutants get past the id check. Documented errors: InvalidDidDocument,
 * DidDocumentMismatch.
 */
import { AtfedError } from '../../core/errors.ts'
import { isDid } from '../../core/syntax/did.ts'
import { parseAtprotoIdentity } from '../../did-resolver/did-document.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { tokens } from '../engine/target.ts'
import { SEED_DID, seedKeypair } from '../seeds/repo.ts'

const utf8 = new TextEncoder()

function seedDocs(): unknown[] {
  const k256 = seedKeypair('k256').publicKey.multikey
  const p256 = seedKeypair('p256').publicKey.multikey
  const did = SEED_DID
  return [
    {
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
      id: did,
      alsoKnownAs: ['at://alice.example.com'],
      verificationMethod: [{ id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: k256 }],
      service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://pds.example.com' }],
    },
    {
      id: 'did:web:labeler.example.com',
      alsoKnownAs: ['at://labeler.example.com', 'https://x'],
      verificationMethod: [
        { id: '#atproto', type: 'EcdsaSecp256r1VerificationKey2019', controller: 'did:web:labeler.example.com', publicKeyMultibase: p256 },
        { id: 'did:web:labeler.example.com#atproto_label', type: 'Multikey', controller: 'did:web:labeler.example.com', publicKeyMultibase: k256 },
      ],
      service: [
        { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'http://localhost:2583' },
        { id: '#atproto_labeler', type: 'AtprotoLabeler', serviceEndpoint: 'https://labeler.example.com' },
        { id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: { uri: 'https://feed.example.com' } },
      ],
    },
    { id: did },
  ]
}

export const target: FuzzTarget = {
  name: 'did-doc',
  expectedErrors: ['InvalidDidDocument', 'DidDocumentMismatch'],
  coverageDirs: ['did-resolver/did-document.ts', 'core/crypto/', 'core/syntax/'],
  json: true,
  seeds: () => seedDocs().map((doc) => utf8.encode(JSON.stringify(doc))),
  dictionary: tokens('"id"', '"type"', '"service"', '"verificationMethod"', '"alsoKnownAs"', '"serviceEndpoint"', '"publicKeyMultibase"', '"controller"', '#atproto', '#atproto_pds', 'Multikey', 'at://', 'https://', 'did:plc:', 'did:web:', 'null', '[]', '{}', '"zQ3sh', '"zDn', ':443', '@', '%2F'),
  run(bytes) {
    let json: unknown
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'))
    } catch (err) {
      throw new AtfedError('InvalidDidDocument', 'document is not JSON', { cause: err })
    }
    const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined
    parseAtprotoIdentity(isDid(id) ? id : SEED_DID, json)
  },
}
