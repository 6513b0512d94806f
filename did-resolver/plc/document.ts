/**
 * What the directory serves for a DID: the PLC data (`GET /:did/data`) and
 * the W3C DID document (`GET /:did`), both rendered from the latest op.
 *
 * Document shape (reference `formatDidDoc`, spec "Presentation as DID
 * Document"): `@context` starts with the DID and Multikey contexts, then adds
 * the ecdsa-2019 (p256) or secp256k1-2019 (k256) suite once per key type
 * present, in order of first use; every verification method is a Multikey
 * with an absolute id `<did>#<name>` and the did:key's multibase; services
 * get relative ids `#<name>`. Keys of other types (verification methods may be
 * any did:key) render as Multikey with no extra context. A tombstone renders
 * as nothing (null).
 */
import { parseDidKey } from '../../core/crypto/did-key.ts'
import type { Did } from '../../core/syntax/did.ts'
import { plcStateOf, type PlcOp, type PlcService } from './operation.ts'

export type PlcDocumentData = {
  did: Did
  rotationKeys: readonly string[]
  verificationMethods: { readonly [id: string]: string }
  alsoKnownAs: readonly string[]
  services: { readonly [id: string]: PlcService }
}

export type DidDocumentVerificationMethod = {
  id: string
  type: 'Multikey'
  controller: string
  publicKeyMultibase: string
}

export type DidDocumentService = { id: string; type: string; serviceEndpoint: string }

export type PlcDidDocument = {
  '@context': string[]
  id: string
  alsoKnownAs: string[]
  verificationMethod: DidDocumentVerificationMethod[]
  service: DidDocumentService[]
}

const DID_CONTEXT = 'https://www.w3.org/ns/did/v1'
const MULTIKEY_CONTEXT = 'https://w3id.org/security/multikey/v1'
const SUITE_CONTEXT = {
  p256: 'https://w3id.org/security/suites/ecdsa-2019/v1',
  k256: 'https://w3id.org/security/suites/secp256k1-2019/v1',
} as const

/** The `/:did/data` object, or null for a tombstone. */
export function opToData(did: Did, op: PlcOp): PlcDocumentData | null {
  if (op.type === 'plc_tombstone') return null
  return { did, ...plcStateOf(op) }
}

function suiteContext(didKey: string): string | null {
  try {
    return SUITE_CONTEXT[parseDidKey(didKey).type]
  } catch {
    return null
  }
}

/** The DID document for `did` whose latest op is `lastOp`, or null when it is a tombstone. */
export function opsToDidDocument(did: Did, lastOp: PlcOp): PlcDidDocument | null {
  const data = opToData(did, lastOp)
  if (data === null) return null
  const context = [DID_CONTEXT, MULTIKEY_CONTEXT]
  const verificationMethod = Object.entries(data.verificationMethods).map(([name, didKey]) => {
    const suite = suiteContext(didKey)
    if (suite !== null && !context.includes(suite)) context.push(suite)
    return {
      id: `${did}#${name}`,
      type: 'Multikey' as const,
      controller: did,
      publicKeyMultibase: didKey.replace(/^did:key:/, ''),
    }
  })
  const service = Object.entries(data.services).map(([name, s]) => ({
    id: `#${name}`,
    type: s.type,
    serviceEndpoint: s.endpoint,
  }))
  return { '@context': context, id: did, alsoKnownAs: [...data.alsoKnownAs], verificationMethod, service }
}
