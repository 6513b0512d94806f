/**
 * The operator's XRPC methods, behind HTTP Basic auth as `admin` with the
 * configured admin password (no password configured: every call is 401).
 * Deliberately small and lexicon-free (no Ozone `tools.ozone.*`): JSON in,
 * JSON out, the body checked here field by field.
 *
 *   POST /xrpc/app.atfed.labeler.createLabel  {uri, val, cid?, exp?}  → {seq, label}
 *     uri: a DID (account) or an at-uri with a DID authority (record, or a
 *     whole collection/repo); cid only with a record uri; exp a datetime in
 *     the future. The label is signed, stored and streamed at once.
 *   POST /xrpc/app.atfed.labeler.negateLabel  {uri, val}              → {seq, label}
 *     retracts our active label (uri, val): a signed `neg: true` label.
 *     400 `LabelNotFound` when there is none (never labeled, already
 *     negated, or expired).
 *
 * Errors by name: `InvalidLabelValue`, `InvalidLabelSubject`,
 * `InvalidDatetime`, `InvalidRequest` (shape, unknown fields, exp in the
 * past), 401 `AuthenticationRequired`, 503 `LabelQueueFull`.
 * `atfed labeler label` (cli/labeler.ts) calls these.
 */
import { timingSafeEqual } from 'node:crypto'
import { assert, isAtfedError } from '../../core/errors.ts'
import { lexToJson } from '../../core/data/json.ts'
import { LABELER_ADMIN_BODY_BYTES_MAX } from '../../core/limits.ts'
import { datetimeToMs, parseDatetime } from '../../core/syntax/datetime.ts'
import { parseAuthorization } from '../../core/xrpc/auth-header.ts'
import { XrpcError, invalidRequest } from '../../core/xrpc/errors.ts'
import type { XrpcRequest, XrpcRouter } from '../../core/xrpc/server.ts'
import type { LabelEmitter, LabelRequest } from './emitter.ts'
import { labelToLex } from './label.ts'
import type { SignedLabel } from './label.ts'

export const CREATE_LABEL_NSID = 'app.atfed.labeler.createLabel'
export const NEGATE_LABEL_NSID = 'app.atfed.labeler.negateLabel'

export type AdminContext = { emitter: LabelEmitter; adminPassword: string | null; now: () => number }

function unauthorized(message: string): XrpcError {
  return new XrpcError(401, 'AuthenticationRequired', message, { headers: { 'WWW-Authenticate': 'Basic realm="labeler admin"' } })
}

/** The router auth hook: Basic `admin:<password>`, compared in constant time. */
export function adminAuth(password: string | null): (request: XrpcRequest) => 'admin' {
  return (request) => {
    if (password === null) throw unauthorized('admin methods are disabled: no admin password is configured')
    const auth = parseAuthorization(request.req.headers.authorization)
    if (auth === null || auth.scheme !== 'Basic') throw unauthorized('admin credentials required (Basic auth, user "admin")')
    const given = Buffer.from(auth.token, 'base64')
    const expected = Buffer.from(`admin:${password}`, 'utf8')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw unauthorized('wrong admin credentials')
    return 'admin'
  }
}

function objectBody(body: unknown, allowed: readonly string[]): { readonly [key: string]: unknown } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidRequest('the body must be a JSON object')
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw invalidRequest(`unknown field ${JSON.stringify(key.slice(0, 64))} (allowed: ${allowed.join(', ')})`)
  }
  return body as { readonly [key: string]: unknown }
}

function str(body: { readonly [key: string]: unknown }, name: string, required: boolean): string | undefined {
  const value = body[name]
  if (value === undefined && !required) return undefined
  if (typeof value !== 'string') throw invalidRequest(`${name} must be a string`)
  return value
}

function parseCreate(body: unknown, nowMs: number): LabelRequest {
  const b = objectBody(body, ['uri', 'val', 'cid', 'exp'])
  const request: { -readonly [K in keyof LabelRequest]: LabelRequest[K] } = { uri: str(b, 'uri', true)!, val: str(b, 'val', true)! }
  const cid = str(b, 'cid', false)
  const exp = str(b, 'exp', false)
  if (cid !== undefined) request.cid = cid
  if (exp !== undefined) {
    if (datetimeToMs(parseDatetime(exp)) <= nowMs) throw invalidRequest('exp must be in the future')
    request.exp = exp
  }
  return request
}

function output(result: { seq: number; label: SignedLabel }): { encoding: 'application/json'; body: unknown } {
  return { encoding: 'application/json', body: { seq: result.seq, label: lexToJson(labelToLex(result.label)) } }
}

function queueFull(err: unknown): never {
  if (isAtfedError(err, 'LabelQueueFull')) throw new XrpcError(503, 'LabelQueueFull', err.message, { headers: { 'Retry-After': '1' } })
  throw err
}

export function registerAdminMethods(router: XrpcRouter, ctx: AdminContext): void {
  const options = { auth: adminAuth(ctx.adminPassword), input: { kind: 'json', bytesMax: LABELER_ADMIN_BODY_BYTES_MAX } } as const
  router.procedure(
    CREATE_LABEL_NSID,
    async ({ input }) => {
      const request = parseCreate(input?.body, ctx.now())
      const { outcomes } = await ctx.emitter.emit([request], { when: 'always' }).catch(queueFull)
      const outcome = outcomes[0]
      assert(outcome !== undefined && outcome.written, 'an unconditional label write was skipped')
      return output(outcome)
    },
    options,
  )
  router.procedure(
    NEGATE_LABEL_NSID,
    async ({ input }) => {
      const b = objectBody(input?.body, ['uri', 'val'])
      return output(await ctx.emitter.negate({ uri: str(b, 'uri', true)!, val: str(b, 'val', true)! }).catch(queueFull))
    },
    options,
  )
}
