/**
 * The reference PDS's rate limits (core/limits.ts holds the numbers), as
 * named buckets of one in-memory `RateLimiter`, and the rules routes attach
 * to their methods. Keys: the client IP, the caller's DID, or both; a rule
 * whose key is unknown for a request (no auth yet) is skipped.
 *
 * Turned off with ATFED_PDS_RATE_LIMITS=false (benchmarks, trusted setups).
 */
import {
  RATE_LIMIT_CREATE_ACCOUNT_IP,
  RATE_LIMIT_CREATE_SESSION_5MIN,
  RATE_LIMIT_CREATE_SESSION_DAY,
  RATE_LIMIT_DELETE_ACCOUNT_IP,
  RATE_LIMIT_EMAIL_REQUEST_DAY_DID,
  RATE_LIMIT_EMAIL_REQUEST_HOUR_DID,
  RATE_LIMIT_GET_REPO_IP,
  RATE_LIMIT_GLOBAL_IP,
  RATE_LIMIT_REPO_WRITE_DAY_DID,
  RATE_LIMIT_REPO_WRITE_HOUR_DID,
  RATE_LIMIT_REQUEST_PASSWORD_RESET_DAY_IP,
  RATE_LIMIT_REQUEST_PASSWORD_RESET_HOUR_IP,
  RATE_LIMIT_RESET_PASSWORD_IP,
  RATE_LIMIT_UPDATE_HANDLE_5MIN_DID,
  RATE_LIMIT_UPDATE_HANDLE_DAY_DID,
  RATE_LIMIT_UPLOAD_BLOB_IP,
} from '../core/limits.ts'
import { RateLimiter } from '../core/xrpc/rate-limit.ts'
import { clientIp, type RateLimitRule, type XrpcHandlerContext, type XrpcRequest } from '../core/xrpc/server.ts'

export const RATE_LIMIT_BUCKETS = {
  global: RATE_LIMIT_GLOBAL_IP,
  repoWriteHour: RATE_LIMIT_REPO_WRITE_HOUR_DID,
  repoWriteDay: RATE_LIMIT_REPO_WRITE_DAY_DID,
  createSession5m: RATE_LIMIT_CREATE_SESSION_5MIN,
  createSessionDay: RATE_LIMIT_CREATE_SESSION_DAY,
  createAccount: RATE_LIMIT_CREATE_ACCOUNT_IP,
  uploadBlob: RATE_LIMIT_UPLOAD_BLOB_IP,
  getRepo: RATE_LIMIT_GET_REPO_IP,
  updateHandle5m: RATE_LIMIT_UPDATE_HANDLE_5MIN_DID,
  updateHandleDay: RATE_LIMIT_UPDATE_HANDLE_DAY_DID,
  deleteAccount: RATE_LIMIT_DELETE_ACCOUNT_IP,
  resetPassword: RATE_LIMIT_RESET_PASSWORD_IP,
  requestPasswordResetHour: RATE_LIMIT_REQUEST_PASSWORD_RESET_HOUR_IP,
  requestPasswordResetDay: RATE_LIMIT_REQUEST_PASSWORD_RESET_DAY_IP,
  emailRequestHour: RATE_LIMIT_EMAIL_REQUEST_HOUR_DID,
  emailRequestDay: RATE_LIMIT_EMAIL_REQUEST_DAY_DID,
} as const

export type RateLimitBucket = keyof typeof RATE_LIMIT_BUCKETS

export function createPdsRateLimiter(now?: () => number): RateLimiter {
  return new RateLimiter({ buckets: RATE_LIMIT_BUCKETS, ...(now === undefined ? {} : { now }) })
}

/** Methods the global per-IP bucket does not count (the reference exempts getRepo). */
const GLOBAL_EXEMPT = new Set(['com.atproto.sync.getRepo'])

export const GLOBAL_RATE_LIMITS: readonly RateLimitRule<XrpcRequest>[] = [
  { bucket: 'global', key: (request) => (GLOBAL_EXEMPT.has(request.nsid) ? null : clientIp(request)) },
]

type Ctx = XrpcHandlerContext<unknown, unknown>

export function perIp(bucket: RateLimitBucket): RateLimitRule<Ctx> {
  return { bucket, key: (ctx) => clientIp(ctx) }
}

/** Keyed by the authenticated caller's DID (auth hooks return `{did}`). */
export function perDid(bucket: RateLimitBucket, points?: (ctx: Ctx) => number): RateLimitRule<Ctx> {
  const rule: RateLimitRule<Ctx> = {
    bucket,
    key: (ctx) => {
      const did = (ctx.auth as { did?: unknown } | undefined)?.did
      return typeof did === 'string' ? did : null
    },
  }
  return points === undefined ? rule : { ...rule, points }
}
