/**
 * Build DID documents for tests in the shape plc.directory renders today
 * (absolute verification-method ids, type Multikey, relative service ids).
 */
export type TestDidDocOptions = {
  did: string
  handle?: string
  /** A did:key; its multikey goes in `#atproto`. */
  signingKey?: string
  pds?: string
  services?: Array<{ id: string; type: string; serviceEndpoint: unknown }>
  methods?: Array<{ id: string; type: string; controller: string; publicKeyMultibase?: string }>
}

export function makeDidDoc(opts: TestDidDocOptions): Record<string, unknown> {
  const verificationMethod = [...(opts.methods ?? [])]
  if (opts.signingKey !== undefined) {
    verificationMethod.unshift({
      id: `${opts.did}#atproto`,
      type: 'Multikey',
      controller: opts.did,
      publicKeyMultibase: opts.signingKey.slice('did:key:'.length),
    })
  }
  const service = [...(opts.services ?? [])]
  if (opts.pds !== undefined) {
    service.unshift({ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: opts.pds })
  }
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: opts.did,
    alsoKnownAs: opts.handle === undefined ? [] : [`at://${opts.handle}`],
    verificationMethod,
    service,
  }
}
