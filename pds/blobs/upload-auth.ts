/**
 * Who may call uploadBlob: a session access token (app passwords too) of a
 * non-taken-down account, OR a service-auth JWT one of our accounts minted
 * with getServiceAuth (the Bluesky video service uploads the transcoded
 * video this way; reference `authorizationOrUserServiceAuth`).
 *
 * The two are told apart by the token's `alg`: sessions are HS256, service
 * JWTs ES256/ES256K. A service JWT must have `aud` = our service DID (or
 * `<did>#atproto_pds`), `lxm` = com.atproto.repo.uploadBlob, and an `iss`
 * that is an account hosted here; it must be signed with that account's
 * current repo key, which we hold (so no DID-document fetch: a key we did
 * not sign with is refused even while the document still lists it).
 * Failures carry core/crypto/jwt.ts's names (401 `BadJwtSignature`, ...).
 * Deactivated accounts may upload (migration copies blobs before activating).
 */
import { AtfedError } from '../../core/errors.ts'
import { verifyServiceJwt } from '../../core/crypto/jwt.ts'
import { decodeBase64UrlStrict } from '../../core/crypto/jwt-compact.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseAuthorization } from '../../core/xrpc/auth-header.ts'
import type { XrpcRequest } from '../../core/xrpc/server.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'

export const UPLOAD_BLOB_NSID = 'com.atproto.repo.uploadBlob'

export type ServiceUploadCredentials = { type: 'service'; did: Did; aud: string }
export type UploadCredentials = AccessCredentials | ServiceUploadCredentials

/** True when a compact JWS says it is an ES256/ES256K token (garbage → false: the session check reports it). */
function isServiceJwt(token: string): boolean {
  const header = decodeBase64UrlStrict(token.split('.', 1)[0] ?? '')
  if (header === null) return false
  try {
    const alg = (JSON.parse(new TextDecoder().decode(header)) as { alg?: unknown }).alg
    return alg === 'ES256' || alg === 'ES256K'
  } catch {
    return false
  }
}

async function verifyServiceUpload(ctx: PdsContext, token: string): Promise<ServiceUploadCredentials> {
  const verified = await verifyServiceJwt(token, {
    audience: [ctx.serviceDid, `${ctx.serviceDid}#atproto_pds`],
    lxm: UPLOAD_BLOB_NSID,
    resolveSigningKey: async (iss, { keyId }) => {
      if (keyId !== 'atproto') throw new AtfedError('BadJwtIss', 'only the #atproto key signs for an account')
      const account = await ctx.accounts.get(iss)
      if (account === null || account.status === 'deleted') throw new AtfedError('UntrustedIss', 'jwt issuer is not an account here')
      return ctx.signingKeys.get(account).publicKey
    },
  })
  const account = await ctx.accounts.get(verified.issDid)
  if (account === null || account.status === 'deleted') throw new AtfedError('UntrustedIss', 'jwt issuer is not an account here')
  if (account.status === 'takendown') throw new AtfedError('AccountTakedown', 'Account has been taken down')
  return { type: 'service', did: verified.issDid, aud: verified.aud }
}

export function uploadBlobAuth(ctx: PdsContext): (request: XrpcRequest) => Promise<UploadCredentials> {
  const access = ctx.auth.access({ checkTakedown: true })
  return async (request) => {
    const auth = parseAuthorization(request.req.headers.authorization)
    if (auth !== null && auth.scheme === 'Bearer' && isServiceJwt(auth.token)) return verifyServiceUpload(ctx, auth.token)
    return access(request)
  }
}
