/**
 * The `Authorization` header, and the service-JWT auth hook for XRPC methods
 * (feed generators, labelers, the PDS's uploadBlob/createAccount).
 *
 * `parseAuthorization` follows the reference PDS: exactly two
 * space-separated parts, the scheme case-insensitive and one of Bearer,
 * Basic, DPoP; anything else is 400 `InvalidToken`. No header is `null`.
 *
 * `serviceAuth` builds a router `auth` hook: the Bearer token must be a
 * service JWT whose `aud` is one of `audience` and whose `lxm` is the NSID
 * being called (core/crypto/jwt.ts has every check and error name). A missing
 * token is 401 `MissingJwt`, or `null` credentials when `optional` (a
 * logged-out feed request).
 */
import { AtfedError } from '../errors.ts'
import { verifyServiceJwt, type SigningKeyResolver, type VerifiedServiceJwt } from '../crypto/jwt.ts'
import type { XrpcRequest } from './server.ts'

export type AuthScheme = 'Bearer' | 'Basic' | 'DPoP'

const SCHEMES: { readonly [upper: string]: AuthScheme } = { BEARER: 'Bearer', BASIC: 'Basic', DPOP: 'DPoP' }

export function parseAuthorization(header: string | undefined): { scheme: AuthScheme; token: string } | null {
  if (header === undefined || header === '') return null
  const parts = header.split(' ')
  if (parts.length !== 2 || parts[1] === '') throw new AtfedError('InvalidToken', 'Malformed authorization header')
  const scheme = SCHEMES[parts[0]!.toUpperCase()]
  if (scheme === undefined) throw new AtfedError('InvalidToken', 'Unsupported authorization type')
  return { scheme, token: parts[1]! }
}

/** The Bearer token of a request, or null when it has none (another scheme throws nothing here). */
export function bearerToken(headers: { authorization?: string | undefined }): string | null {
  const auth = parseAuthorization(headers.authorization)
  return auth?.scheme === 'Bearer' ? auth.token : null
}

export type ServiceAuthOptions = {
  /** Every `aud` accepted: our DID and/or `did#serviceId`. */
  audience: readonly string[]
  resolveSigningKey: SigningKeyResolver
}

export function serviceAuth(opts: ServiceAuthOptions & { optional: true }): (r: XrpcRequest) => Promise<VerifiedServiceJwt | null>
export function serviceAuth(opts: ServiceAuthOptions & { optional?: false }): (r: XrpcRequest) => Promise<VerifiedServiceJwt>
export function serviceAuth(
  opts: ServiceAuthOptions & { optional?: boolean },
): (r: XrpcRequest) => Promise<VerifiedServiceJwt | null> {
  return async (request) => {
    const token = bearerToken(request.req.headers)
    if (token === null) {
      if (opts.optional === true) return null
      throw new AtfedError('MissingJwt', 'missing jwt')
    }
    return await verifyServiceJwt(token, {
      audience: opts.audience,
      lxm: request.nsid,
      resolveSigningKey: opts.resolveSigningKey,
    })
  }
}
