/**
 * Does an account's DID document point at this PDS? (reference
 * `isValidDidDocForService` / `assertValidDidDocumentForService`).
 *
 * For did:plc the PLC state (`/:did/data`, fetched fresh from the directory)
 * must have our rotation key among `rotationKeys`, `atproto_pds` of type
 * AtprotoPersonalDataServer at exactly our public URL, and `#atproto` =
 * the account's signing key here. For did:web only the last two can be
 * checked, from the document fetched fresh (a did:web's controller is its
 * domain, not us).
 *
 * Everything here bypasses the identity cache: migration is exactly when a
 * cached document is stale. `freshIdentity` is also what importRepo and the
 * createAccount service token check use to get the DID's current key.
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import type { PublicKey } from '../../core/crypto/key-types.ts'
import { isPlcDid, type Did } from '../../core/syntax/did.ts'
import { parseAtprotoIdentity, type AtprotoIdentity } from '../../did-resolver/did-document.ts'
import type { Account } from '../accounts/account.ts'
import type { PdsContext } from '../context.ts'

const PDS_SERVICE_TYPE = 'AtprotoPersonalDataServer'

/** The DID's document, fetched now (not from the cache). Resolution failures → `UnresolvableDid`. */
export async function freshIdentity(ctx: Pick<PdsContext, 'idResolver'>, did: Did): Promise<AtprotoIdentity> {
  try {
    return parseAtprotoIdentity(did, await ctx.idResolver.dids.resolveDid(did))
  } catch (err) {
    if (isAtfedError(err)) throw new AtfedError('UnresolvableDid', `could not resolve ${did}: ${err.message}`, { cause: err })
    throw err
  }
}

/** The `#atproto` key of the DID's current document; `UnresolvableDid` / `MissingSigningKey`. */
export async function currentSigningKey(ctx: Pick<PdsContext, 'idResolver'>, did: Did): Promise<PublicKey> {
  const { signingKey } = await freshIdentity(ctx, did)
  if (signingKey === null) throw new AtfedError('MissingSigningKey', `${did} has no #atproto key in its DID document`)
  return signingKey
}

type DocFacts = { rotationKeys: readonly string[] | null; signingKey: string | null; pds: { type: string; endpoint: string } | null }

async function docFacts(ctx: PdsContext, did: Did): Promise<DocFacts> {
  if (isPlcDid(did)) {
    const data = await ctx.plc.getDocumentData(did)
    const pds = data.services['atproto_pds']
    return { rotationKeys: data.rotationKeys, signingKey: data.verificationMethods['atproto'] ?? null, pds: pds ?? null }
  }
  const identity = await freshIdentity(ctx, did)
  return {
    rotationKeys: null,
    signingKey: identity.signingKey?.didKey ?? null,
    pds: identity.pds === null ? null : { type: PDS_SERVICE_TYPE, endpoint: identity.pds },
  }
}

/** Why the DID document does not point here, or null when it does. */
export async function didDocProblem(ctx: PdsContext, account: Pick<Account, 'did' | 'signingKey'>): Promise<string | null> {
  let facts: DocFacts
  try {
    facts = await docFacts(ctx, account.did)
  } catch (err) {
    if (isAtfedError(err)) return `could not resolve the DID document: ${err.message}`
    throw err
  }
  if (facts.rotationKeys !== null && !facts.rotationKeys.includes(ctx.rotationKey.publicKey.didKey)) {
    return "the DID's rotation keys do not include this PDS's rotation key"
  }
  if (facts.pds === null || facts.pds.type !== PDS_SERVICE_TYPE) return 'the DID document has no atproto_pds service'
  if (facts.pds.endpoint !== ctx.publicUrl) return `the DID document's atproto_pds is ${facts.pds.endpoint}, not ${ctx.publicUrl}`
  if (facts.signingKey !== ctx.signingKeys.get(account).publicKey.didKey) {
    return "the DID document's #atproto key is not this account's signing key here"
  }
  return null
}

/** Throws `InvalidRequest` naming the problem unless the DID document points here. */
export async function assertDidDocPointsHere(ctx: PdsContext, account: Pick<Account, 'did' | 'signingKey'>): Promise<void> {
  const problem = await didDocProblem(ctx, account)
  if (problem !== null) throw new AtfedError('InvalidRequest', `DID document is not set up for this PDS: ${problem}`)
}
