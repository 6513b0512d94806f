/**
 * Proof of DID control by a PLC ROTATION key, for createAccount with an
 * existing DID when the account's signing key is gone (recovery without
 * the old PDS: `atfed account recover`).
 *
 * The standard migration token (service-auth.ts) is a service JWT signed by
 * the DID's `#atproto` key — which lives on the old PDS. When that PDS is
 * dead or hostile, the user still holds a rotation key (`atfed account
 * recovery-key add` put it first in `rotationKeys`). So createAccount also
 * accepts the SAME token shape — `iss` = the DID, `aud` = our service DID
 * (or `<did>#atproto_pds`), `lxm` = com.atproto.server.createAccount,
 * short-lived, ES256K/ES256 — signed instead by any key in the DID's
 * CURRENT PLC `rotationKeys`, read fresh from the directory (`/:did/data`,
 * never the identity cache). This is tried only after the `#atproto` check
 * failed (`BadJwtSignature`, or `BadJwtIss` when the document has no usable
 * `#atproto` key — a hostile PDS may have removed it), and only for did:plc
 * (a did:web has no rotation keys; its controller edits its document).
 *
 * Why it is safe: a rotation key can rewrite the whole DID document, so
 * proving one is at least as strong as proving the signing key. The account
 * is still created DEACTIVATED with a fresh signing key, and goes live only
 * after activateAccount finds the DID document pointing here — which needs
 * a PLC operation signed by a rotation key anyway.
 *
 * Errors: none of the keys verifies → 401 `BadJwtSignature`; the directory
 * unreachable → `BadJwtIss` (the caller cannot prove anything right now).
 * The other JWT checks (expiry, audience, lxm) are verifyServiceJwt's, with
 * its names. At most PLC_ROTATION_KEYS_MAX keys are tried.
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { verifyServiceJwt, type VerifiedServiceJwt } from '../../core/crypto/jwt.ts'
import { PLC_ROTATION_KEYS_MAX } from '../../core/limits.ts'
import { isPlcDid, type Did } from '../../core/syntax/did.ts'
import type { PdsContext } from '../context.ts'

export type RotationKeyProofOptions = {
  /** The DID whose rotation keys may sign; the caller checks that `iss` names it. */
  did: Did
  /** `aud` values we accept. */
  audience: readonly string[]
  lxm: string
}

async function currentRotationKeys(ctx: Pick<PdsContext, 'plc'>, did: Did): Promise<readonly string[]> {
  try {
    return (await ctx.plc.getDocumentData(did)).rotationKeys
  } catch (err) {
    if (isAtfedError(err)) throw new AtfedError('BadJwtIss', `could not read the PLC state of ${did}: ${err.name}`, { cause: err })
    throw err
  }
}

/** The token verified against one of `did`'s current PLC rotation keys (see the module header). */
export async function verifyRotationKeyToken(
  ctx: Pick<PdsContext, 'plc'>,
  token: string,
  options: RotationKeyProofOptions,
): Promise<VerifiedServiceJwt> {
  const { did } = options
  if (!isPlcDid(did)) throw new AtfedError('BadJwtSignature', 'jwt signature does not match jwt issuer')
  const keys = (await currentRotationKeys(ctx, did)).slice(0, PLC_ROTATION_KEYS_MAX)
  for (const key of keys) {
    try {
      return await verifyServiceJwt(token, { audience: options.audience, lxm: options.lxm, resolveSigningKey: async () => key })
    } catch (err) {
      if (!isAtfedError(err, 'BadJwtSignature')) throw err
    }
  }
  throw new AtfedError('BadJwtSignature', "jwt is signed by neither the DID's #atproto key nor one of its PLC rotation keys")
}
