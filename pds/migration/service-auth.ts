/**
 * Service-auth JWTs at both ends of a migration.
 *
 * Minting (`issueServiceAuth`, com.atproto.server.getServiceAuth; reference
 * `api/server/getServiceAuth.ts`), signed with the account's repo signing
 * key (core/crypto/jwt.ts `createServiceJwt`):
 * - `aud` must be a DID or `did#service` (`InvalidRequest`);
 * - `exp` (unix seconds), when given: in the past, more than
 *   SERVICE_JWT_LIFETIME_MAX_S (1 h) ahead, or more than
 *   SERVICE_JWT_NO_LXM_LIFETIME_MAX_S (60 s) ahead without `lxm` →
 *   `BadExpiration`; default: now + SERVICE_JWT_LIFETIME_DEFAULT_S (60 s);
 * - a PROTECTED `lxm` (account, PLC and app-password management) is never
 *   issued; a PRIVILEGED one (chat, createAccount) needs a main-password
 *   session or a privileged app password; a taken-down session may only get
 *   `lxm = com.atproto.server.createAccount`, so it can still migrate away.
 *   All `InvalidRequest`.
 *
 * Checking the token a migrating account brings to createAccount
 * (`verifyMigrationToken`): a Bearer service JWT with `aud` = our service
 * DID (or `<did>#atproto_pds`), `lxm` = com.atproto.server.createAccount,
 * `iss` = exactly the DID being created, signed by the `#atproto` key of
 * the DID's document (cached; fetched fresh once when the signature fails,
 * core/crypto/jwt-verify-key.ts). No token, or one for another DID → 401
 * `AuthenticationRequired`; a bad token → 401 with the JWT check's name
 * (`BadJwtSignature`, `JwtExpired`, `BadJwtAudience`, ...). When the
 * signature is not the `#atproto` key's (or the document has no usable
 * `#atproto` key), a did:plc token signed by one of the DID's current PLC
 * rotation keys is accepted too (recovery without the old PDS:
 * rotation-key-auth.ts).
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { createServiceJwt, parseDidReference, verifyServiceJwt, type VerifiedServiceJwt } from '../../core/crypto/jwt.ts'
import type { PublicKey } from '../../core/crypto/key-types.ts'
import { SERVICE_JWT_LIFETIME_DEFAULT_S, SERVICE_JWT_LIFETIME_MAX_S, SERVICE_JWT_NO_LXM_LIFETIME_MAX_S } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseAuthorization } from '../../core/xrpc/auth-header.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { freshIdentity } from './did-check.ts'
import { verifyRotationKeyToken } from './rotation-key-auth.ts'
import { PROTECTED_METHODS } from '../protected-methods.ts'

export const CREATE_ACCOUNT_NSID = 'com.atproto.server.createAccount'


/** Methods that need full access or a privileged app password (reference `PRIVILEGED_METHODS`). */
export function isPrivilegedMethod(nsid: string): boolean {
  return nsid === CREATE_ACCOUNT_NSID || nsid.startsWith('chat.bsky.')
}

export type ServiceAuthParams = { aud: string; exp?: number | undefined; lxm?: string | undefined }

function badExpiration(message: string): AtfedError {
  return new AtfedError('BadExpiration', message)
}

function checkExpiration(exp: number, iatS: number, nowMs: number, hasLxm: boolean): void {
  const aheadMs = exp * 1000 - nowMs
  if (aheadMs < 0 || exp <= iatS) throw badExpiration('expiration is in past')
  if (aheadMs > SERVICE_JWT_LIFETIME_MAX_S * 1000) {
    throw badExpiration('cannot request a token with an expiration more than an hour in the future')
  }
  if (!hasLxm && aheadMs > SERVICE_JWT_NO_LXM_LIFETIME_MAX_S * 1000) {
    throw badExpiration('cannot request a method-less token with an expiration more than a minute in the future')
  }
}

function checkMethod(lxm: string | null, creds: AccessCredentials): void {
  if (creds.scope === 'com.atproto.takendown' && lxm !== CREATE_ACCOUNT_NSID) {
    throw new AtfedError('InvalidRequest', `a taken-down account may only request tokens for ${CREATE_ACCOUNT_NSID}`)
  }
  if (lxm === null) return
  if (PROTECTED_METHODS.has(lxm)) {
    throw new AtfedError('InvalidRequest', `cannot request a service auth token for the following protected method: ${lxm}`)
  }
  if (isPrivilegedMethod(lxm) && creds.scope === 'com.atproto.appPass') {
    throw new AtfedError('InvalidRequest', `insufficient access to request a service auth token for the following method: ${lxm}`)
  }
}

/** getServiceAuth: a service JWT for the caller (see the module header for every rule). */
export function issueServiceAuth(
  ctx: Pick<PdsContext, 'signingKeys'>,
  creds: AccessCredentials,
  params: ServiceAuthParams,
  nowMs: number = Date.now(),
): string {
  if (parseDidReference(params.aud) === null) throw new AtfedError('InvalidRequest', 'aud must be a DID or a did#service reference')
  const lxm = params.lxm ?? null
  const iat = Math.floor(nowMs / 1000)
  if (params.exp !== undefined) checkExpiration(params.exp, iat, nowMs, lxm !== null)
  checkMethod(lxm, creds)
  return createServiceJwt({
    iss: creds.did,
    aud: params.aud,
    lxm,
    iat,
    exp: params.exp ?? iat + SERVICE_JWT_LIFETIME_DEFAULT_S,
    keypair: ctx.signingKeys.get(creds.account),
  })
}

function missingAuth(did: Did): AtfedError {
  return new AtfedError('AuthenticationRequired', `Missing auth to create account with did: ${did}`)
}

async function accountKey(ctx: Pick<PdsContext, 'idResolver'>, did: Did, forceRefresh: boolean): Promise<PublicKey> {
  const identity = forceRefresh ? await freshIdentity(ctx, did) : await ctx.idResolver.resolveDid(did)
  if (identity.signingKey === null) throw new AtfedError('MissingSigningKey', `${did} has no #atproto key`)
  return identity.signingKey
}

/** createAccount with an existing `did`: the caller must prove control of it (see the module header). */
export async function verifyMigrationToken(
  ctx: Pick<PdsContext, 'idResolver' | 'serviceDid' | 'plc'>,
  authorization: string | undefined,
  did: Did,
): Promise<void> {
  const auth = parseAuthorization(authorization)
  if (auth === null || auth.scheme !== 'Bearer') throw missingAuth(did)
  const audience = [ctx.serviceDid, `${ctx.serviceDid}#atproto_pds`]
  let verified: VerifiedServiceJwt
  try {
    verified = await verifyServiceJwt(auth.token, {
      audience,
      lxm: CREATE_ACCOUNT_NSID,
      resolveSigningKey: async (iss, { forceRefresh, keyId }) => {
        if (keyId !== 'atproto') throw new AtfedError('BadJwtIss', 'only the #atproto key signs for an account')
        return accountKey(ctx, iss, forceRefresh)
      },
    })
  } catch (err) {
    // Not the #atproto key's signature, or no usable #atproto key: a rotation key may still prove control.
    if (!isAtfedError(err, 'BadJwtSignature') && !isAtfedError(err, 'BadJwtIss')) throw err
    verified = await verifyRotationKeyToken(ctx, auth.token, { did, audience, lxm: CREATE_ACCOUNT_NSID })
  }
  if (verified.iss !== did) throw missingAuth(did)
}
