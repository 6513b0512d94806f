/**
 * Account migration, both roles (spec digest §5): getServiceAuth,
 * importRepo, the PLC operation methods, activate/deactivate and
 * checkAccountStatus. The logic lives in pds/migration/*; this file says
 * who may call what (reference credentials, spec digest §3.2):
 *
 *   getServiceAuth                 any session; taken-down sessions only for createAccount
 *   importRepo                     main password, not taken down (and deactivated)
 *   getRecommendedDidCredentials   any session
 *   requestPlcOperationSignature   main password, taken-down sessions too
 *   signPlcOperation               main password, taken-down sessions too
 *   submitPlcOperation             any session
 *   activateAccount                main password, not taken down
 *   deactivateAccount              main password, taken-down sessions too
 *   checkAccountStatus             any session, taken-down sessions too
 *
 * The PLC token: there is no mail, so requestPlcOperationSignature writes
 * the token to the server log (stdout) — that is how an operator hands it
 * to a user — and, on a server started with --dev, the admin-only query
 * `dev.atfed.admin.getPlcOperationToken?did=` (Basic admin auth) returns it,
 * which is what `atfed account migrate --from-admin-password` uses.
 *
 * createAccount with an existing DID (migration in) is registered with the
 * other server methods (routes/server.ts → accounts/create-account.ts).
 */
import type { Readable } from 'node:stream'
import { AtfedError } from '../../core/errors.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { activateAccount, checkAccountStatus, deactivateAccount } from '../migration/account-status.ts'
import { importRepo, prepareImportDir } from '../migration/import-repo.ts'
import { recommendedCredentials, signPlcUpdate, submitPlcUpdate, type PlcUpdateInput } from '../migration/plc-operations.ts'
import { issueServiceAuth, type ServiceAuthParams } from '../migration/service-auth.ts'
import { MigrationStore } from '../migration/store.ts'

type Body = { [key: string]: unknown }

function json(body: object): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body: body as Body }
}

type Auth = ReturnType<PdsContext['auth']['access']>

export function registerMigrationRoutes(router: XrpcRouter, ctx: PdsContext): void {
  const store = new MigrationStore(ctx.db)
  const auth = {
    anySession: ctx.auth.access({ allowTakendownScope: true }),
    fullSession: ctx.auth.access({ scopes: 'full', allowTakendownScope: true }),
    fullLive: ctx.auth.access({ scopes: 'full', checkTakedown: true }),
  }
  registerAccountMethods(router, ctx, { store, auth })
  registerPlcMethods(router, ctx, { store, auth })
  if (ctx.config.dev) registerDevTokenRoute(router, ctx, store)
}

type Shared = { store: MigrationStore; auth: { anySession: Auth; fullSession: Auth; fullLive: Auth } }

function registerAccountMethods(router: XrpcRouter, ctx: PdsContext, { store, auth }: Shared): void {
  const spoolDir = prepareImportDir(ctx.config.dataDir)
  router.query<AccessCredentials>(
    'com.atproto.server.getServiceAuth',
    ({ auth: creds, params }) => json({ token: issueServiceAuth(ctx, creds, params as ServiceAuthParams) }),
    { auth: auth.anySession },
  )
  router.procedure<AccessCredentials>(
    'com.atproto.repo.importRepo',
    async ({ auth: creds, input }) => {
      await importRepo(ctx, store, { account: creds.account, body: input?.body as Readable, spoolDir })
    },
    {
      auth: auth.fullLive,
      input: { kind: 'bytes', bytesMax: ctx.config.blobUploadBytesMax, encodings: ['application/vnd.ipld.car'] },
      validateInput: null,
    },
  )
  router.procedure<AccessCredentials>(
    'com.atproto.server.activateAccount',
    async ({ auth: creds }) => {
      await activateAccount(ctx, store, creds.did)
    },
    { auth: auth.fullLive },
  )
  router.procedure<AccessCredentials>(
    'com.atproto.server.deactivateAccount',
    async ({ auth: creds }) => {
      await deactivateAccount(ctx, creds.did)
    },
    { auth: auth.fullSession, input: { kind: 'json' } },
  )
  router.query<AccessCredentials>(
    'com.atproto.server.checkAccountStatus',
    async ({ auth: creds }) => json(await checkAccountStatus(ctx, creds.account)),
    { auth: auth.anySession },
  )
}

function registerPlcMethods(router: XrpcRouter, ctx: PdsContext, { store, auth }: Shared): void {
  router.query<AccessCredentials>(
    'com.atproto.identity.getRecommendedDidCredentials',
    ({ auth: creds }) => json(recommendedCredentials(ctx, creds.account)),
    { auth: ctx.auth.access() },
  )
  router.procedure<AccessCredentials>(
    'com.atproto.identity.requestPlcOperationSignature',
    async ({ auth: creds }) => {
      const { token, expiresAtMs } = await store.issuePlcToken(creds.did)
      const until = new Date(expiresAtMs).toISOString()
      console.log(`pds: PLC operation token for ${creds.did} (${creds.account.handle}): ${token} (valid until ${until})`)
    },
    { auth: auth.fullSession },
  )
  router.procedure<AccessCredentials>(
    'com.atproto.identity.signPlcOperation',
    async ({ auth: creds, input }) => {
      const body = input?.body as PlcUpdateInput & { token?: unknown }
      await store.checkPlcToken(creds.did, body.token)
      const operation = await signPlcUpdate(ctx, creds.did, body)
      await store.consumePlcToken(creds.did)
      return json({ operation })
    },
    { auth: auth.fullSession, input: { kind: 'json' } },
  )
  router.procedure<AccessCredentials>(
    'com.atproto.identity.submitPlcOperation',
    async ({ auth: creds, input }) => {
      await submitPlcUpdate(ctx, creds.account, (input?.body as { operation?: unknown }).operation)
    },
    { auth: ctx.auth.access(), input: { kind: 'json' } },
  )
}

/** --dev only: the admin reads a pending PLC token (see the module header). */
function registerDevTokenRoute(router: XrpcRouter, ctx: PdsContext, store: MigrationStore): void {
  router.query(
    'dev.atfed.admin.getPlcOperationToken',
    async ({ params }) => {
      const did = parseDid(String((params as { did?: unknown }).did ?? ''))
      const row = await store.peekPlcToken(did)
      if (row === null) throw new AtfedError('TokenNotFound', `no pending PLC operation token for ${did}`)
      return json({ token: row.token, expiresAt: new Date(row.expiresAtMs).toISOString() })
    },
    { auth: ctx.auth.admin() },
  )
}
