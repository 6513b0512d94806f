/**
 * com.atproto.identity.resolveHandle and updateHandle. (The PLC-operation
 * methods for migration — getRecommendedDidCredentials,
 * requestPlcOperationSignature, signPlcOperation, submitPlcOperation — are
 * another module.)
 *
 * resolveHandle: a handle hosted here answers from the account store; an
 * unknown handle under one of our domains is 400 `HandleNotFound` without
 * any lookup; anything else goes through the identity resolver (DNS TXT +
 * HTTPS well-known, cached).
 *
 * updateHandle (reference `api/identity/updateHandle.ts`), under the
 * account's repo lock so two changes cannot interleave:
 *  1. the handle: under our domains, the service-handle rules
 *     (handle-rules.ts); elsewhere it must already resolve to the caller's
 *     DID (400 `InvalidRequest` otherwise); taken by another account →
 *     `HandleNotAvailable`;
 *  2. the DID document: for did:plc, an update op with the new handle,
 *     signed by our rotation key, submitted to PLC (skipped when the document
 *     already says so); for did:web, the document must already claim it;
 *  3. ONE batch: the account row, the handle index and `#identity{handle}`;
 *  4. the resolver's cache entry for the DID is refreshed.
 */
import { AtfedError } from '../../core/errors.ts'
import { isPlcDid, type Did } from '../../core/syntax/did.ts'
import type { Handle } from '../../core/syntax/handle.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import { checkServiceHandle, normalizeHandle, serviceDomainOf } from '../accounts/handle-rules.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { perDid } from '../rate-limits.ts'
import { identityEvent } from '../sequencer.ts'

async function resolveHandle(ctx: PdsContext, input: unknown): Promise<Did> {
  const handle = normalizeHandle(input)
  const local = await ctx.accounts.didForHandle(handle)
  if (local !== null) return local
  const notFound = () => new AtfedError('HandleNotFound', 'Unable to resolve handle')
  if (serviceDomainOf(handle, ctx.config.handleDomains) !== null) throw notFound()
  try {
    return await ctx.idResolver.resolveHandle(handle)
  } catch (err) {
    throw new AtfedError('HandleNotFound', 'Unable to resolve handle', { cause: err })
  }
}

async function checkHandleFor(ctx: PdsContext, handle: Handle, did: Did): Promise<void> {
  const domain = serviceDomainOf(handle, ctx.config.handleDomains)
  if (domain !== null) return checkServiceHandle(handle, domain)
  const resolved = await ctx.idResolver.resolveHandle(handle).catch(() => null)
  if (resolved !== did) throw new AtfedError('InvalidRequest', 'External handle did not resolve to DID')
}

/** Make the DID document name `handle` (PLC update signed by our rotation key). */
async function updateDidDocument(ctx: PdsContext, did: Did, handle: Handle): Promise<void> {
  if (!isPlcDid(did)) {
    const identity = await ctx.idResolver.refresh(did)
    if (identity.doc.alsoKnownAs?.[0] !== `at://${handle}`) {
      throw new AtfedError('InvalidRequest', 'The did:web document must list the new handle first in alsoKnownAs')
    }
    return
  }
  try {
    const last = await ctx.plc.getLastOp(did)
    if (last.type === 'plc_tombstone') throw new AtfedError('InvalidRequest', `${did} is tombstoned`)
    if (last.type === 'plc_operation' && last.alsoKnownAs[0] === `at://${handle}`) return
    const update = createUpdateOp(last, { signer: ctx.rotationKey, handle })
    await ctx.plc.submitOp(did, update.op)
  } catch (err) {
    if (err instanceof AtfedError && (err.name === 'InvalidRequest' || err.name === 'InvalidPlcInput')) throw err
    throw new XrpcError(502, 'UpstreamFailure', `could not update the DID document: ${(err as Error).message}`, { cause: err })
  }
}

export async function updateHandle(ctx: PdsContext, did: Did, input: unknown): Promise<void> {
  const handle = normalizeHandle(input)
  await ctx.writer.withRepoLock(did, async () => {
    const account = await ctx.accounts.get(did)
    if (account === null) throw new AtfedError('AccountNotFound', 'Account not found')
    await checkHandleFor(ctx, handle, did)
    const owner = await ctx.accounts.didForHandle(handle)
    if (owner !== null && owner !== did) throw new AtfedError('HandleNotAvailable', `Handle already taken: ${handle}`)
    const reservation = owner === did ? null : await ctx.accounts.reserve(handle, null)
    try {
      await updateDidDocument(ctx, did, handle)
      const ops = ctx.accounts.updateHandleOps(account, handle)
      await ctx.writer.storeWithEvents(ops, [identityEvent(did, handle)])
    } finally {
      reservation?.release()
    }
  })
  ctx.idResolver.refresh(did).catch(() => undefined)
}

export function registerIdentityRoutes(router: XrpcRouter, ctx: PdsContext): void {
  router.query('com.atproto.identity.resolveHandle', async ({ params }) => ({
    encoding: 'application/json',
    body: { did: await resolveHandle(ctx, (params as { handle: string }).handle) },
  }))

  router.procedure<AccessCredentials>(
    'com.atproto.identity.updateHandle',
    async ({ auth, input }) => {
      await updateHandle(ctx, auth.did, (input?.body as { handle?: unknown }).handle)
    },
    {
      auth: ctx.auth.access({ checkTakedown: true }),
      input: { kind: 'json' },
      rateLimits: [perDid('updateHandle5m'), perDid('updateHandleDay')],
    },
  )
}
