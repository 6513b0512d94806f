/**
 * The signature step of service-JWT verification: fetch the issuer's key,
 * check it is the curve the header's `alg` names, verify, and on failure
 * fetch the key once more with `forceRefresh` (the issuer may have rotated
 * its key, e.g. after migrating to another PDS; our DID cache still has the
 * old one). The second attempt runs only when the fresh key differs.
 *
 * Resolver errors: an AtfedError named `UntrustedIss` or `BadJwt*` passes
 * through; any other AtfedError (DID not found, bad document, no such key,
 * resolver timeout) becomes `BadJwtIss` with the original as `cause`; other
 * errors (our bugs) propagate unchanged.
 */
import { AtfedError } from '../errors.ts'
import type { Did } from '../syntax/did.ts'
import { decodeMultikeyUnchecked } from './did-key.ts'
import type { CompactJwt } from './jwt-compact.ts'
import { jwtSignatureToCompact } from './jwt-signature.ts'
import { DID_KEY_PREFIX, jwtAlgForKeyType, type KeyType, type PublicKey } from './key-types.ts'
import { verifySignature } from './verify.ts'

/**
 * Returns the issuer's verification key: a `PublicKey` or a did:key string.
 * `keyId` is the DID-document verification method id without `#`
 * (`atproto`, or `atproto_label` for labelers).
 */
export type SigningKeyResolver = (
  did: Did,
  options: { forceRefresh: boolean; keyId: string },
) => Promise<PublicKey | string>

type SignatureCheck = {
  alg: 'ES256' | 'ES256K'
  did: Did
  keyId: string
  resolveSigningKey: SigningKeyResolver
}

function keyText(key: PublicKey | string): string {
  return typeof key === 'string' ? key : key.didKey
}

function keyType(key: PublicKey | string): KeyType | undefined {
  if (typeof key !== 'string') return key.type
  if (!key.startsWith(DID_KEY_PREFIX)) return undefined
  try {
    return decodeMultikeyUnchecked(key.slice(DID_KEY_PREFIX.length)).type
  } catch {
    return undefined
  }
}

/** True when `key` is of the curve `alg` names and the signature verifies under it. */
function signatureValid(jwt: CompactJwt, alg: string, key: PublicKey | string, signature: Uint8Array): boolean {
  const type = keyType(key)
  if (type === undefined || jwtAlgForKeyType(type) !== alg) return false
  try {
    return verifySignature(key, jwt.signingInput, signature, { allowMalleable: true })
  } catch {
    return false // an unparsable or off-curve key verifies nothing
  }
}

async function resolve(check: SignatureCheck, forceRefresh: boolean): Promise<PublicKey | string> {
  try {
    return await check.resolveSigningKey(check.did, { forceRefresh, keyId: check.keyId })
  } catch (err) {
    if (!(err instanceof AtfedError)) throw err
    if (err.name === 'UntrustedIss' || err.name.startsWith('BadJwt')) throw err
    throw new AtfedError('BadJwtIss', `could not get the signing key of ${check.did}: ${err.name}`, { cause: err })
  }
}

/** Throws `BadJwtSignature` unless the signature verifies (see the module header). */
export async function verifyJwtSignature(jwt: CompactJwt, check: SignatureCheck): Promise<void> {
  const signature = jwtSignatureToCompact(jwt.signature)
  if (signature === null) throw new AtfedError('BadJwtSignature', 'jwt signature is neither compact nor DER ECDSA')
  const key = await resolve(check, false)
  if (signatureValid(jwt, check.alg, key, signature)) return
  const fresh = await resolve(check, true)
  if (keyText(fresh) !== keyText(key) && signatureValid(jwt, check.alg, fresh, signature)) return
  throw new AtfedError('BadJwtSignature', 'jwt signature does not match jwt issuer')
}
