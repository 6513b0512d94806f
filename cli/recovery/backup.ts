/**
 * `atfed account backup --did DID --out DIR [--pds URL] [--plc URL]`: a
 * complete, verifiable copy of an account's repo and blobs in DIR
 * (layout and crash safety: backup-dir.ts).
 *
 *  1 resolve the DID now (no cache): its `#atproto` key, and its PDS unless
 *    --pds names another server that serves getRepo (a mirror)
 *  2 the repo: first run `getRepo`; later runs `getRepo?since=<manifest rev>`
 *    merged into the previous snapshot (backup-repo.ts); either way the
 *    result is FULLY verified against the DID's current key before it is
 *    written. A previous snapshot that no longer checks is not trusted: the
 *    run falls back to a full fetch and says so
 *  3 the blobs: every CID `listBlobs` names (each parsed, so a hostile
 *    listing cannot name a path), fetching only those the manifest does not
 *    already hold; each is re-hashed against its CID (`BlobCidMismatch`)
 *  4 the manifest, last; then files it no longer names are removed.
 * The blob list is read just after the repo: a write landing in between can
 * add a blob the snapshot's records do not name yet (harmless) or leave one
 * for the next run.
 * A progress bar on stderr while blobs download; the summary is one JSON
 * line for the caller to print on stdout.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError } from '../../core/errors.ts'
import type { PublicKey } from '../../core/crypto/key-types.ts'
import { blockMatchesCid, parseCid } from '../../core/data/cid.ts'
import {
  BACKUP_BLOB_BYTES_MAX,
  BACKUP_BLOB_PAGES_MAX,
  BACKUP_BLOBS_PAGE_LIMIT,
  BACKUP_REPO_CAR_BYTES_MAX,
  BACKUP_REPO_TRANSFER_TIMEOUT_MS,
} from '../../core/limits.ts'
import { parseDid, type Did } from '../../core/syntax/did.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import {
  BLOBS_DIR,
  blobPath,
  prepareBackupDir,
  pruneBackupDir,
  readManifest,
  repoFileName,
  writeFileAtomic,
  writeManifest,
  type BackupBlob,
  type BackupManifest,
} from './backup-dir.ts'
import { mergeRepoDiff, type CheckedRepo } from './backup-repo.ts'
import { loadBackupRepo } from './backup-verify.ts'
import { formatBytes, ProgressLine, type ProgressSink } from './progress.ts'
import { describeError } from './step-log.ts'

export type BackupOptions = {
  did: string
  out: string
  pds?: string
  plc: string
  /** Dev flag: did:web documents on loopback/private addresses. */
  allowPrivate?: boolean
  log: (line: string) => void
  progress?: ProgressSink
}

export type BackupSummary = {
  did: string
  out: string
  source: string
  mode: 'full' | 'incremental'
  since: string | null
  rev: string
  commit: string
  records: number
  repoBytes: number
  fetchedRepoBytes: number
  blobs: { total: number; fetched: number; fetchedBytes: number }
  removedFiles: number
}

async function resolveNow(did: Did, opts: BackupOptions): Promise<{ key: PublicKey; pds: string }> {
  const resolver = new IdentityResolver({ plcUrl: opts.plc, allowPrivateAddresses: opts.allowPrivate === true })
  try {
    const identity = await resolver.resolveDid(did)
    if (identity.signingKey === null) throw new AtfedError('MissingSigningKey', `${did} has no #atproto key to verify its repo with`)
    const pds = opts.pds ?? identity.pds
    if (pds === null) throw new AtfedError('NoPds', `${did} names no PDS; pass --pds`)
    return { key: identity.signingKey, pds }
  } finally {
    resolver.close()
  }
}

/** The previous snapshot, or null (none, or it no longer checks: then a full fetch). */
function previousSnapshot(out: string, manifest: BackupManifest | null, log: (line: string) => void): CheckedRepo | null {
  if (manifest === null) return null
  try {
    return loadBackupRepo(out, manifest)
  } catch (err) {
    log(`backup: the previous snapshot does not check (${describeError(err)}); fetching the whole repo`)
    return null
  }
}

async function listAllBlobs(client: XrpcClient, did: Did): Promise<string[]> {
  const cids = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < BACKUP_BLOB_PAGES_MAX; page++) {
    const params = { did, limit: BACKUP_BLOBS_PAGE_LIMIT, ...(cursor === undefined ? {} : { cursor }) }
    const res = await client.query<{ cids?: unknown; cursor?: unknown }>('com.atproto.sync.listBlobs', params)
    if (!Array.isArray(res.body.cids)) throw new AtfedError('InvalidResponse', 'listBlobs: no cids array')
    for (const raw of res.body.cids) cids.add(parseCid(String(raw)).toString())
    if (typeof res.body.cursor !== 'string' || res.body.cids.length === 0) return [...cids]
    cursor = res.body.cursor
  }
  throw new AtfedError('TooManyBlobPages', `listBlobs did not end within ${BACKUP_BLOB_PAGES_MAX} pages`)
}

async function fetchBlob(client: XrpcClient, did: Did, cid: string, out: string): Promise<BackupBlob> {
  const res = await client.query<Uint8Array>('com.atproto.sync.getBlob', { did, cid }, { responseBytesMax: BACKUP_BLOB_BYTES_MAX })
  const bytes = res.body
  if (!(bytes instanceof Uint8Array) || !blockMatchesCid(parseCid(cid), bytes)) {
    throw new AtfedError('BlobCidMismatch', `the server's bytes for blob ${cid} do not hash to that CID`)
  }
  writeFileAtomic(join(out, BLOBS_DIR), cid, bytes)
  return { cid, size: bytes.length, mimeType: res.encoding ?? 'application/octet-stream' }
}

async function backupBlobs(
  client: XrpcClient,
  ctx: { did: Did; out: string; manifest: BackupManifest | null; progress?: ProgressSink },
): Promise<{ blobs: BackupBlob[]; fetched: number; fetchedBytes: number }> {
  // A blob counts as held only while its file is there at the listed size (a damaged directory refetches).
  const held = new Map((ctx.manifest?.blobs ?? []).filter((b) => statSync(blobPath(ctx.out, b.cid), { throwIfNoEntry: false })?.size === b.size).map((b) => [b.cid, b]))
  const listed = await listAllBlobs(client, ctx.did)
  const missing = listed.filter((cid) => !held.has(cid))
  const bar = new ProgressLine({ label: 'blobs', total: missing.length, ...(ctx.progress === undefined ? {} : { sink: ctx.progress }) })
  const blobs: BackupBlob[] = []
  let fetchedBytes = 0
  for (const cid of listed) {
    const have = held.get(cid)
    if (have !== undefined) {
      blobs.push(have)
      continue
    }
    const blob = await fetchBlob(client, ctx.did, cid, ctx.out)
    fetchedBytes += blob.size
    bar.add(1, blob.size)
    blobs.push(blob)
  }
  if (missing.length > 0) bar.finish()
  return { blobs, fetched: missing.length, fetchedBytes }
}

export async function runBackup(opts: BackupOptions): Promise<BackupSummary> {
  const did = parseDid(opts.did)
  prepareBackupDir(opts.out)
  const manifest = readManifest(opts.out)
  if (manifest !== null && manifest.did !== did) {
    throw new AtfedError('BackupDidMismatch', `${opts.out} holds a backup of ${manifest.did}, not ${did}`)
  }
  const { key, pds } = await resolveNow(did, opts)
  const previous = previousSnapshot(opts.out, manifest, opts.log)
  const client = new XrpcClient({ service: pds })
  const since = previous === null ? null : previous.rev
  const car = await client.query<Uint8Array>('com.atproto.sync.getRepo', { did, ...(since === null ? {} : { since }) }, {
    timeoutMs: BACKUP_REPO_TRANSFER_TIMEOUT_MS,
    responseBytesMax: BACKUP_REPO_CAR_BYTES_MAX,
  })
  opts.log(`backup: repo ${since === null ? 'export' : `diff since ${since}`} from ${pds}: ${formatBytes(car.body.length)}`)
  const snapshot = mergeRepoDiff(previous, car.body, { did, key })
  const repoFile = repoFileName(snapshot.rev)
  if (previous === null || !previous.commitCid.equals(snapshot.commitCid)) {
    if (manifest?.repoFile === repoFile) throw new AtfedError('RevReused', `the server reuses rev ${snapshot.rev} for another commit`)
    writeFileAtomic(opts.out, repoFile, snapshot.car)
  }
  const blobs = await backupBlobs(client, { did, out: opts.out, manifest, ...(opts.progress === undefined ? {} : { progress: opts.progress }) })
  const next: BackupManifest = {
    version: 1,
    did,
    rev: snapshot.rev,
    commit: snapshot.commitCid.toString(),
    repoFile,
    records: snapshot.records,
    blobs: blobs.blobs,
    time: new Date().toISOString(),
    source: pds,
  }
  writeManifest(opts.out, next)
  const removedFiles = pruneBackupDir(opts.out, next)
  return {
    did,
    out: opts.out,
    source: pds,
    mode: since === null ? 'full' : 'incremental',
    since,
    rev: next.rev,
    commit: next.commit,
    records: next.records,
    repoBytes: snapshot.car.length,
    fetchedRepoBytes: car.body.length,
    blobs: { total: blobs.blobs.length, fetched: blobs.fetched, fetchedBytes: blobs.fetchedBytes },
    removedFiles,
  }
}
