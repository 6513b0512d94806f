/**
 * What `atfed account recover` asks of the NEW PDS, each call safe to repeat:
 *
 * - `openAccount`: log in with the DID and password when the account is
 *   already there (a resumed recovery); otherwise createAccount with the
 *   existing DID, proving control of it with a service JWT (`iss` = the DID,
 *   `aud` = the PDS's service DID, `lxm` = createAccount) signed by the
 *   user's ROTATION key — the new PDS checks it against the DID's current
 *   PLC rotationKeys (pds/migration/rotation-key-auth.ts). Only the JWT
 *   leaves this process, never the key. The account starts deactivated.
 * - `importRepo`: the backup's CAR (importRepo re-imports idempotently; it
 *   checks the commit against the DID's CURRENT key, which is still the old
 *   PDS's until our PLC operation, so this runs before it).
 * - `uploadMissingBlobs`: listMissingBlobs → the bytes from the backup →
 *   uploadBlob. A blob the backup does not hold is reported, not fatal (as
 *   in a standard migration: media never blocks moving an account).
 */
import { readFileSync } from 'node:fs'
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { AtfedError } from '../../core/errors.ts'
import { BACKUP_BLOB_PAGES_MAX, BACKUP_BLOBS_PAGE_LIMIT, BACKUP_REPO_TRANSFER_TIMEOUT_MS, RECOVERY_CREATE_TOKEN_LIFETIME_S } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { XrpcClient, XrpcClientError } from '../../core/xrpc/client.ts'
import { blobPath, type BackupManifest } from './backup-dir.ts'
import { ProgressLine, type ProgressSink } from './progress.ts'

const CREATE_ACCOUNT_NSID = 'com.atproto.server.createAccount'

export type AccountInput = { did: Did; handle: string; password: string; email?: string; inviteCode?: string }
export type OpenedAccount = { accessJwt: string; handle: string; created: boolean }

type Session = { did: string; handle: string; accessJwt: string }

async function tryLogin(pds: XrpcClient, did: Did, password: string): Promise<Session | null> {
  try {
    return (await pds.procedure<Session>('com.atproto.server.createSession', { identifier: did, password })).body
  } catch (err) {
    if (err instanceof XrpcClientError && err.status === 401 && err.error === 'AuthenticationRequired') return null
    throw err
  }
}

export async function openAccount(pds: XrpcClient, input: AccountInput & { userKey: Keypair }): Promise<OpenedAccount> {
  const existing = await tryLogin(pds, input.did, input.password)
  if (existing !== null) return { accessJwt: existing.accessJwt, handle: existing.handle, created: false }
  const serviceDid = (await pds.query<{ did: string }>('com.atproto.server.describeServer')).body.did
  const iat = Math.floor(Date.now() / 1000)
  const token = createServiceJwt({
    iss: input.did,
    aud: serviceDid,
    lxm: CREATE_ACCOUNT_NSID,
    iat,
    exp: iat + RECOVERY_CREATE_TOKEN_LIFETIME_S,
    keypair: input.userKey,
  })
  const body = {
    did: input.did,
    handle: input.handle,
    password: input.password,
    ...(input.email === undefined ? {} : { email: input.email }),
    ...(input.inviteCode === undefined ? {} : { inviteCode: input.inviteCode }),
  }
  const created = (await pds.procedure<Session>(CREATE_ACCOUNT_NSID, body, { token })).body
  return { accessJwt: created.accessJwt, handle: created.handle, created: true }
}

export async function importRepo(pds: XrpcClient, token: string, car: Uint8Array): Promise<void> {
  await pds.procedure('com.atproto.repo.importRepo', car, { token, encoding: 'application/vnd.ipld.car', timeoutMs: BACKUP_REPO_TRANSFER_TIMEOUT_MS })
}

export type BlobUpload = { uploaded: number; missing: string[] }

async function listMissing(pds: XrpcClient, token: string): Promise<string[]> {
  const cids = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < BACKUP_BLOB_PAGES_MAX; page++) {
    const params = { limit: BACKUP_BLOBS_PAGE_LIMIT, ...(cursor === undefined ? {} : { cursor }) }
    const res = await pds.query<{ blobs: Array<{ cid: string }>; cursor?: string }>('com.atproto.repo.listMissingBlobs', params, { token })
    for (const blob of res.body.blobs) cids.add(blob.cid)
    if (res.body.cursor === undefined || res.body.blobs.length === 0) return [...cids]
    cursor = res.body.cursor
  }
  throw new AtfedError('TooManyBlobPages', `listMissingBlobs did not end within ${BACKUP_BLOB_PAGES_MAX} pages`)
}

export async function uploadMissingBlobs(
  pds: XrpcClient,
  token: string,
  options: { dir: string; manifest: BackupManifest; progress?: ProgressSink },
): Promise<BlobUpload> {
  const held = new Map(options.manifest.blobs.map((b) => [b.cid, b]))
  const wanted = await listMissing(pds, token)
  const bar = new ProgressLine({ label: 'upload blobs', total: wanted.length, ...(options.progress === undefined ? {} : { sink: options.progress }) })
  const result: BlobUpload = { uploaded: 0, missing: [] }
  for (const cid of wanted) {
    const blob = held.get(cid)
    if (blob === undefined) {
      result.missing.push(cid)
      continue
    }
    const bytes = readFileSync(blobPath(options.dir, cid))
    await pds.procedure('com.atproto.repo.uploadBlob', bytes, { token, encoding: blob.mimeType })
    result.uploaded++
    bar.add(1, bytes.length)
  }
  if (wanted.length > 0) bar.finish()
  return result
}
