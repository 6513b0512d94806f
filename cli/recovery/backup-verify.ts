/**
 * Reading a backup directory back, trusting nothing in it.
 *
 * `loadBackupRepo`: the CAR the manifest names, fully checked
 * (backup-repo.ts `checkRepoCar`: hashes, MST, records), and its commit and
 * rev must be the manifest's (`ManifestMismatch`). No signature check: the
 * key that signed it may have rotated since (the caller knows which keys
 * count).
 *
 * `verifyBackup` (what `recover` runs before it contacts anything): the
 * above, plus every blob file the manifest lists present, of the listed
 * size, and hashing to its CID. `backupSigner` then (once the PLC history
 * is read) finds which of the `#atproto` keys the DID has had signed the
 * commit. Any failure is ONE error, `BackupInvalid`, whose message says
 * what did not check (the underlying name first: `CidMismatch`,
 * `BadCommitSignature`, `MissingBlock`, `BlobCorrupt`, ...), with the
 * original as `cause`.
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { blockMatchesCid, parseCid } from '../../core/data/cid.ts'
import { BACKUP_BLOB_BYTES_MAX, BACKUP_REPO_CAR_BYTES_MAX } from '../../core/limits.ts'
import { decodeCommit, verifyCommitSignature } from '../../core/repo/commit.ts'
import { blobPath, requireManifest, type BackupManifest } from './backup-dir.ts'
import { checkRepoCar, type CheckedRepo } from './backup-repo.ts'

export function loadBackupRepo(dir: string, manifest: BackupManifest): CheckedRepo {
  const path = join(dir, manifest.repoFile)
  const size = statSync(path, { throwIfNoEntry: false })?.size
  if (size === undefined) throw new AtfedError('MissingRepoFile', `${manifest.repoFile} is missing`)
  if (size > BACKUP_REPO_CAR_BYTES_MAX) throw new AtfedError('RepoTooLarge', `${manifest.repoFile} is over ${BACKUP_REPO_CAR_BYTES_MAX} bytes`)
  const repo = checkRepoCar(readFileSync(path), { did: manifest.did })
  if (repo.commitCid.toString() !== manifest.commit || repo.rev !== manifest.rev) {
    throw new AtfedError('ManifestMismatch', `${manifest.repoFile} holds commit ${repo.commitCid.toString()} at rev ${repo.rev}, not the manifest's`)
  }
  return repo
}

function checkBlobs(dir: string, manifest: BackupManifest): number {
  let bytesTotal = 0
  for (const blob of manifest.blobs) {
    const path = blobPath(dir, parseCid(blob.cid).toString())
    let size: number
    try {
      size = statSync(path).size
    } catch {
      throw new AtfedError('BlobMissing', `blob ${blob.cid} is listed but its file is missing`)
    }
    if (size !== blob.size || size > BACKUP_BLOB_BYTES_MAX) throw new AtfedError('BlobCorrupt', `blob ${blob.cid} has ${size} bytes, not ${blob.size}`)
    if (!blockMatchesCid(parseCid(blob.cid), readFileSync(path))) throw new AtfedError('BlobCorrupt', `blob ${blob.cid} does not hash to its CID`)
    bytesTotal += size
  }
  return bytesTotal
}

export type VerifiedBackup = { manifest: BackupManifest; repo: CheckedRepo; blobBytes: number }

function invalid(dir: string, err: unknown): unknown {
  if (!isAtfedError(err) || err.name === 'BackupNotFound') return err
  return new AtfedError('BackupInvalid', `the backup in ${dir} does not verify (${err.name}: ${err.message}); nothing was changed anywhere`, { cause: err })
}

/** Everything in `dir` that needs no network (see the module header): the manifest, the CAR, the blobs. */
export function verifyBackup(dir: string): VerifiedBackup {
  try {
    const manifest = requireManifest(dir)
    const repo = loadBackupRepo(dir, manifest)
    return { manifest, repo, blobBytes: checkBlobs(dir, manifest) }
  } catch (err) {
    throw invalid(dir, err)
  }
}

/** The did:key of `keys` (signing keys the DID has had) that signed the backup's commit; `BackupInvalid` when none did. */
export function backupSigner(dir: string, backup: VerifiedBackup, keys: readonly string[]): string {
  const commit = decodeCommit(backup.repo.blockMap.get(backup.repo.commitCid)!)
  const signer = keys.find((key) => verifyCommitSignature(commit, key))
  if (signer !== undefined) return signer
  const did = backup.manifest.did
  throw invalid(dir, new AtfedError('BadCommitSignature', `the commit is signed by none of the ${keys.length} signing key(s) ${did} has had`))
}
