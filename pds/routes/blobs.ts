/**
 * Blob methods: com.atproto.repo.uploadBlob, com.atproto.sync.getBlob,
 * com.atproto.sync.listBlobs, com.atproto.repo.listMissingBlobs. Also
 * registers the blob write hook (blobs/write-hook.ts) and the GC timer
 * (blobs/gc.ts) on the context; the store is blobs/registry.ts's.
 *
 * - uploadBlob: an access token of a non-taken-down account, or a
 *   service-auth JWT it minted for this method (blobs/upload-auth.ts; a
 *   deactivated account may upload: migration copies blobs before
 *   activating); any Content-Type (goat sends `*`/`*`), streamed to disk
 *   under the configured upload limit (describeServer's `blobUploadLimit`): a Content-Length or a
 *   stream past it is 413 `PayloadTooLarge`, exactly the limit is accepted.
 *   The body is never parsed, whatever its declared type. Per-IP bucket
 *   `uploadBlob`.
 * - getBlob: the stored type as Content-Type, with `X-Content-Type-Options:
 *   nosniff`, `Content-Security-Policy: default-src 'none'; sandbox` and
 *   `Content-Disposition: attachment; filename="<cid>"`, so a blob can
 *   never run as a page of this origin. Only blobs a record references are
 *   served; anything else is 400 `BlobNotFound` (400 as the reference's
 *   InvalidRequestError, with the lexicon's name).
 * - getBlob and listBlobs follow the reference's repo availability: unknown
 *   or deleted → `RepoNotFound`; taken down → `RepoTakendown`; deactivated →
 *   `RepoDeactivated`; the account itself and the admin always pass.
 * - listMissingBlobs: the caller's own account (access token; migration
 *   calls it while the new account is still deactivated).
 */
import type { Readable } from 'node:stream'
import { AtfedError } from '../../core/errors.ts'
import { parseCid, RAW_CODEC, type CID } from '../../core/data/cid.ts'
import { lexToJson } from '../../core/data/json.ts'
import { PDS_LIST_BLOBS_LIMIT_MAX } from '../../core/limits.ts'
import { parseDid, type Did } from '../../core/syntax/did.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import type { AccessCredentials, AdminCredentials } from '../auth/verifier.ts'
import { startBlobGc } from '../blobs/gc.ts'
import { listBlobs, listMissingBlobs } from '../blobs/listing.ts'
import { blobStoreFor } from '../blobs/registry.ts'
import { uploadBlobAuth, type UploadCredentials } from '../blobs/upload-auth.ts'
import { blobWriteHook } from '../blobs/write-hook.ts'
import type { PdsContext } from '../context.ts'
import { perIp } from '../rate-limits.ts'

type Body = { [key: string]: unknown }
type OptionalAuth = AccessCredentials | AdminCredentials | null

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

/** Reference `assertRepoAvailability` for blob reads. */
async function assertBlobsReadable(ctx: PdsContext, did: Did, auth: OptionalAuth): Promise<void> {
  const account = await ctx.accounts.get(did)
  if (account === null || account.status === 'deleted') throw new AtfedError('RepoNotFound', `Could not find repo for DID: ${did}`)
  if (auth !== null && (auth.type === 'admin' || auth.did === did)) return
  if (account.status === 'takendown') throw new AtfedError('RepoTakendown', `Repo has been takendown: ${did}`)
  if (account.status === 'deactivated') throw new AtfedError('RepoDeactivated', `Repo has been deactivated: ${did}`)
}

function parseBlobCid(text: unknown): CID | null {
  try {
    const cid = parseCid(String(text))
    return cid.code === RAW_CODEC ? cid : null
  } catch {
    throw new AtfedError('InvalidRequest', 'cid must be a CID')
  }
}

function blobHeaders(cid: CID, size: number): { [name: string]: string } {
  return {
    'Content-Length': String(size),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Content-Disposition': `attachment; filename="${cid.toString()}"`,
  }
}

export function registerBlobRoutes(router: XrpcRouter, ctx: PdsContext): void {
  const store = blobStoreFor(ctx)
  ctx.writeHooks.push(blobWriteHook(store))
  ctx.cleanups.push(startBlobGc(store))

  router.procedure<UploadCredentials>(
    'com.atproto.repo.uploadBlob',
    async ({ auth, input }) => {
      const body = input?.body as Readable
      const blob = await store.upload(auth.did, body, { declaredType: input?.encoding })
      return json({ blob: lexToJson(blob) })
    },
    {
      auth: uploadBlobAuth(ctx),
      input: { kind: 'bytes', bytesMax: ctx.config.blobUploadBytesMax },
      validateInput: null, // a blob declared as application/json is still just bytes
      rateLimits: [perIp('uploadBlob')],
    },
  )

  router.query<OptionalAuth>(
    'com.atproto.sync.getBlob',
    async ({ params, auth }) => {
      const p = params as { did: string; cid: string }
      const did = parseDid(p.did)
      await assertBlobsReadable(ctx, did, auth)
      const cid = parseBlobCid(p.cid)
      const blob = cid === null ? null : await store.openBlob(did, cid)
      if (cid === null || blob === null) throw new AtfedError('BlobNotFound', 'Blob not found')
      return { encoding: blob.mimeType, body: blob.stream, headers: blobHeaders(cid, blob.size) }
    },
    { auth: ctx.auth.optionalAccessOrAdmin() },
  )

  router.query<OptionalAuth>(
    'com.atproto.sync.listBlobs',
    async ({ params, auth }) => {
      const p = params as { did: string; since?: string; limit?: number; cursor?: string }
      const did = parseDid(p.did)
      await assertBlobsReadable(ctx, did, auth)
      const page = await listBlobs(store, did, {
        limit: Math.min(p.limit ?? 500, PDS_LIST_BLOBS_LIMIT_MAX),
        ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
        ...(p.since === undefined ? {} : { since: p.since }),
      })
      return json(page.cursor === undefined ? { cids: page.items } : { cursor: page.cursor, cids: page.items })
    },
    { auth: ctx.auth.optionalAccessOrAdmin() },
  )

  router.query<AccessCredentials>(
    'com.atproto.repo.listMissingBlobs',
    async ({ params, auth }) => {
      const p = params as { limit?: number; cursor?: string }
      const page = await listMissingBlobs(store, auth.did, {
        limit: Math.min(p.limit ?? 500, PDS_LIST_BLOBS_LIMIT_MAX),
        ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
      })
      return json(page.cursor === undefined ? { blobs: page.items } : { cursor: page.cursor, blobs: page.items })
    },
    { auth: ctx.auth.access() },
  )
}
