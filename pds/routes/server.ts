/**
 * com.atproto.server.*: describeServer, createAccount and the password
 * session methods (createSession, getSession, refreshSession,
 * deleteSession). Session bodies follow the reference: `didDoc` only from
 * createAccount (the reference omits it from sessions unless configured,
 * and `@atproto/api` would move to the doc's endpoint), `email` only for
 * main-password sessions, `active`/`status` always.
 * App passwords, service auth, account status and deletion, invites and
 * email flows are other modules (see pds/server.ts for adding one).
 */
import { AtfedError } from '../../core/errors.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { accountStatusView, type Account } from '../accounts/account.ts'
import { createAccount, type CreateAccountInput } from '../accounts/create-account.ts'
import { login } from '../auth/login.ts'
import type { SessionTokens } from '../auth/sessions.ts'
import type { AccessCredentials, RefreshCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { perIp } from '../rate-limits.ts'

type Body = { [key: string]: unknown }

export function describeServer(ctx: PdsContext): Body {
  const { config } = ctx
  const links: Body = {}
  if (config.privacyPolicyUrl !== null) links['privacyPolicy'] = config.privacyPolicyUrl
  if (config.termsOfServiceUrl !== null) links['termsOfService'] = config.termsOfServiceUrl
  return {
    did: ctx.serviceDid,
    availableUserDomains: [...config.handleDomains],
    inviteCodeRequired: config.inviteRequired,
    phoneVerificationRequired: false,
    blobUploadLimit: config.blobUploadBytesMax,
    links,
    contact: config.contactEmail === null ? {} : { email: config.contactEmail },
  }
}

/** What getSession (and the session part of createSession/refreshSession) reports about an account. */
export function sessionInfo(account: Account, options: { withEmail: boolean }): Body {
  const view = accountStatusView(account)
  const out: Body = { handle: account.handle, did: account.did }
  if (options.withEmail && account.email !== null) {
    out['email'] = account.email
    out['emailConfirmed'] = account.emailConfirmedAt !== null
    out['emailAuthFactor'] = false
  }
  out['active'] = view.active
  if (view.status !== null) out['status'] = view.status
  return out
}

function sessionBody(account: Account, tokens: SessionTokens, withEmail: boolean): Body {
  return { accessJwt: tokens.accessJwt, refreshJwt: tokens.refreshJwt, ...sessionInfo(account, { withEmail }) }
}

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

export function registerServerRoutes(router: XrpcRouter, ctx: PdsContext): void {
  router.query('com.atproto.server.describeServer', () => json(describeServer(ctx)))

  router.procedure(
    'com.atproto.server.createAccount',
    async ({ input, req }) => {
      const created = await createAccount(ctx, input?.body as CreateAccountInput, { authorization: req.headers.authorization })
      const { account } = created
      const body: Body = { accessJwt: created.accessJwt, refreshJwt: created.refreshJwt, handle: account.handle, did: account.did }
      if (created.didDoc !== null) body['didDoc'] = created.didDoc
      return json(body)
    },
    { input: { kind: 'json' }, rateLimits: [perIp('createAccount')] },
  )

  router.procedure(
    'com.atproto.server.createSession',
    async ({ input }) => {
      const body = input?.body as { identifier?: unknown; password?: unknown; allowTakendown?: unknown }
      const result = await login(body.identifier, body.password, {
        accounts: ctx.accounts,
        durationMinMs: ctx.config.loginDurationMinMs,
        allowTakendown: body.allowTakendown === true,
        ...(ctx.loginHooks.checkAppPassword === undefined ? {} : { checkAppPassword: ctx.loginHooks.checkAppPassword }),
      })
      const tokens = await ctx.sessions.open(result.account.did, { scope: result.scope, appPassword: result.appPassword })
      return json(sessionBody(result.account, tokens, result.scope === 'com.atproto.access'))
    },
    {
      input: { kind: 'json' },
      rateLimits: [
        { bucket: 'createSession5m', key: (c) => loginKey(c.input?.body, c.req.ip) },
        { bucket: 'createSessionDay', key: (c) => loginKey(c.input?.body, c.req.ip) },
      ],
    },
  )

  router.query<AccessCredentials>(
    'com.atproto.server.getSession',
    ({ auth }) => json(sessionInfo(auth.account, { withEmail: auth.scope === 'com.atproto.access' })),
    { auth: ctx.auth.access({ allowSignupQueued: true }) },
  )

  router.procedure<RefreshCredentials>(
    'com.atproto.server.refreshSession',
    async ({ auth }) => {
      const account = await ctx.accounts.get(auth.did)
      if (account === null || account.status === 'deleted') {
        throw new AtfedError('InvalidRequest', `Could not find user info for account: ${auth.did}`)
      }
      if (account.status === 'takendown') throw new AtfedError('AccountTakedown', 'Account has been taken down')
      const rotated = await ctx.sessions.rotate(auth.claims.jti)
      if (rotated === null) throw new AtfedError('ExpiredToken', 'Token has been revoked')
      const row = await ctx.sessions.get(auth.claims.jti)
      return json(sessionBody(account, rotated, row?.scope === 'com.atproto.access'))
    },
    { auth: ctx.auth.refresh() },
  )

  router.procedure<RefreshCredentials>(
    'com.atproto.server.deleteSession',
    async ({ auth }) => {
      await ctx.sessions.revoke(auth.claims.jti)
    },
    { auth: ctx.auth.refresh({ allowExpired: true }) },
  )
}

function loginKey(body: unknown, ip: string | undefined): string {
  const identifier = (body as { identifier?: unknown } | undefined)?.identifier
  return `${typeof identifier === 'string' ? identifier.toLowerCase() : ''}-${ip ?? 'unknown'}`
}
