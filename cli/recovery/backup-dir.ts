/**
 * The on-disk layout of an `atfed account backup` directory, and the only
 * way files get into it:
 *
 *   DIR/manifest.json        {version, did, rev, commit, repoFile, records,
 *                             blobs: [{cid, size, mimeType}], time, source}
 *   DIR/repo-<rev>.car       the whole repo at `rev` (one root: the commit)
 *   DIR/blobs/<cid>          each blob, named by its CID
 *
 * Crash safety: every file is written under a temporary name
 * (`.<name>.tmp-<random>`), fsynced, renamed into place, and the directory
 * fsynced. The manifest is written LAST, so it only ever names files that
 * are complete; the repo file is named by its rev, so a new CAR never
 * replaces the one the current manifest names. Files the manifest no longer
 * names (the previous CAR, blobs no record references any more) are removed
 * only after the new manifest is in place, and temp files left by a crash
 * are swept at the start of the next run. So whatever moment a run stops,
 * DIR holds the previous or the new snapshot, complete.
 *
 * The manifest is parsed strictly (it is read back from disk, and `recover`
 * trusts nothing it says without checking the CAR and blobs it names):
 * `InvalidManifest`, `BackupNotFound`.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError } from '../../core/errors.ts'
import { BACKUP_MANIFEST_BYTES_MAX } from '../../core/limits.ts'
import { parseCid } from '../../core/data/cid.ts'
import { isDid, type Did } from '../../core/syntax/did.ts'
import { isTid, type Tid } from '../../core/syntax/tid.ts'

export const MANIFEST_FILE = 'manifest.json'
export const BLOBS_DIR = 'blobs'
const MANIFEST_VERSION = 1
const TEMP_MARK = '.tmp-'

export type BackupBlob = { cid: string; size: number; mimeType: string }

export type BackupManifest = {
  version: 1
  did: Did
  rev: Tid
  commit: string
  repoFile: string
  records: number
  blobs: BackupBlob[]
  time: string
  source: string
}

export function repoFileName(rev: Tid): string {
  return `repo-${rev}.car`
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Write `bytes` to `dir/name` via a fsynced temp file and a rename (see the module header). */
export function writeFileAtomic(dir: string, name: string, bytes: Uint8Array | string): void {
  const temp = join(dir, `.${name}${TEMP_MARK}${randomBytes(6).toString('hex')}`)
  const fd = openSync(temp, 'wx', 0o600)
  try {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes
    let written = 0
    while (written < data.length) written += writeSync(fd, data, written, data.length - written)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(temp, { force: true })
    throw err
  }
  closeSync(fd)
  renameSync(temp, join(dir, name))
  fsyncPath(dir)
}

/** Create DIR and DIR/blobs if needed, and remove temp files a crashed run left. */
export function prepareBackupDir(dir: string): void {
  mkdirSync(join(dir, BLOBS_DIR), { recursive: true, mode: 0o700 })
  for (const sub of [dir, join(dir, BLOBS_DIR)]) {
    for (const name of readdirSync(sub)) if (name.startsWith('.') && name.includes(TEMP_MARK)) rmSync(join(sub, name), { force: true })
  }
}

function invalid(message: string): AtfedError<'InvalidManifest'> {
  return new AtfedError('InvalidManifest', `backup manifest: ${message}`)
}

function parseBlob(raw: unknown): BackupBlob {
  const b = raw as { cid?: unknown; size?: unknown; mimeType?: unknown }
  if (typeof b !== 'object' || b === null || typeof b.cid !== 'string') throw invalid('a blob entry has no cid')
  try {
    parseCid(b.cid)
  } catch {
    throw invalid(`blob cid ${b.cid.slice(0, 80)} is not a CID`)
  }
  if (!Number.isSafeInteger(b.size) || (b.size as number) < 0) throw invalid(`blob ${b.cid} has a bad size`)
  if (typeof b.mimeType !== 'string' || b.mimeType.length > 256) throw invalid(`blob ${b.cid} has a bad mimeType`)
  return { cid: b.cid, size: b.size as number, mimeType: b.mimeType }
}

export function parseManifest(text: string): BackupManifest {
  let raw: { [key: string]: unknown }
  try {
    raw = JSON.parse(text) as typeof raw
  } catch {
    throw invalid('not JSON')
  }
  if (typeof raw !== 'object' || raw === null || raw['version'] !== MANIFEST_VERSION) throw invalid(`unsupported version`)
  const { did, rev, commit, repoFile, records, blobs, time, source } = raw
  if (!isDid(did)) throw invalid('did is not a DID')
  if (!isTid(rev)) throw invalid('rev is not a TID')
  if (typeof commit !== 'string' || typeof time !== 'string' || typeof source !== 'string') throw invalid('missing commit, time or source')
  if (repoFile !== repoFileName(rev)) throw invalid('repoFile does not match rev')
  if (!Number.isSafeInteger(records) || !Array.isArray(blobs)) throw invalid('missing records or blobs')
  return { version: 1, did, rev, commit, repoFile, records: records as number, blobs: blobs.map(parseBlob), time, source }
}

/** The manifest in `dir`, or null when there is none (a first backup). */
export function readManifest(dir: string): BackupManifest | null {
  const path = join(dir, MANIFEST_FILE)
  let size: number
  try {
    size = statSync(path).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  if (size > BACKUP_MANIFEST_BYTES_MAX) throw invalid(`larger than ${BACKUP_MANIFEST_BYTES_MAX} bytes`)
  return parseManifest(readFileSync(path, 'utf8'))
}

/** `readManifest`, but a missing manifest is `BackupNotFound`. */
export function requireManifest(dir: string): BackupManifest {
  const manifest = readManifest(dir)
  if (manifest === null) throw new AtfedError('BackupNotFound', `no ${MANIFEST_FILE} in ${dir}: not an atfed backup directory`)
  return manifest
}

export function writeManifest(dir: string, manifest: BackupManifest): void {
  writeFileAtomic(dir, MANIFEST_FILE, `${JSON.stringify(manifest, null, 1)}\n`)
}

/** Remove the repo files and blob files `manifest` does not name (after it is written). */
export function pruneBackupDir(dir: string, manifest: BackupManifest): number {
  let removed = 0
  for (const name of readdirSync(dir)) {
    if (/^repo-.*\.car$/.test(name) && name !== manifest.repoFile) {
      rmSync(join(dir, name), { force: true })
      removed++
    }
  }
  const keep = new Set(manifest.blobs.map((b) => b.cid))
  for (const name of readdirSync(join(dir, BLOBS_DIR))) {
    if (!name.startsWith('.') && !keep.has(name)) {
      rmSync(join(dir, BLOBS_DIR, name), { force: true })
      removed++
    }
  }
  return removed
}

export function blobPath(dir: string, cid: string): string {
  return join(dir, BLOBS_DIR, cid)
}
