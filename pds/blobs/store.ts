/**
 * The PDS's blobs: bytes as files (files.ts), metadata in level (layout.ts).
 *
 * `upload` streams the body to a temp file while hashing it (outside any
 * lock), sniffs the type (sniff.ts), then, holding the account's repo lock,
 * writes the metadata row FIRST and moves the file into place SECOND. So a
 * crash can leave metadata without a file (GC removes a temp row; a
 * referenced one shows up in listMissingBlobs and a re-upload heals it) but
 * never a file nobody knows about. Re-uploading a known blob keeps its
 * stored type and size (the record refs already quote them) and only
 * refreshes a temp blob's deadline. Uploading a blob that records already
 * reference (after an import) makes it permanent at once.
 *
 * The repo lock (writes.ts `withRepoLock`) is the one lock for an account's
 * blobs: uploads, the write hook (which runs inside the write path's lock)
 * and GC all take it, so GC never deletes a blob a concurrent write is
 * attaching, and an upload never races a deletion of the same CID.
 *
 * Reading (`openBlob`) serves only permanent blobs whose file is intact.
 * Methods named `…Locked` expect the caller to hold the account's repo lock.
 */
import type { Readable } from 'node:stream'
import { join } from 'node:path'
import type { BlobRef } from '../../core/data/blob-ref.ts'
import type { CID } from '../../core/data/cid.ts'
import { PDS_BLOB_REINDEX_BATCH_ROWS, PDS_BLOB_TEMP_GRACE_MS } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import { BlobFiles } from './files.ts'
import { accountRange, blobRefRange, decodeMeta, metaKey, metaOps, openBlobTables, type BlobMeta, type BlobTables } from './layout.ts'
import { chooseMimeType } from './sniff.ts'

export type RepoLock = <T>(did: Did, fn: () => Promise<T>) => Promise<T>

export type BlobStoreOptions = {
  /** Data directory; blob files go under `<dataDir>/blobs`. */
  dataDir: string
  /** The account's repo lock (RepoWriter.withRepoLock). */
  lock: RepoLock
  now?: () => number
}

export type OpenBlob = { mimeType: string; size: number; stream: Readable }

export class BlobStore {
  readonly db: RootDb
  readonly tables: BlobTables
  readonly files: BlobFiles
  readonly withLock: RepoLock
  readonly now: () => number

  /** Synchronous (runs at start-up): the sublevels open in the background, level defers operations until then. */
  static open(db: RootDb, options: BlobStoreOptions): BlobStore {
    const files = BlobFiles.open(join(options.dataDir, 'blobs'))
    return new BlobStore(db, { files, lock: options.lock, now: options.now ?? Date.now })
  }

  private constructor(db: RootDb, parts: { files: BlobFiles; lock: RepoLock; now: () => number }) {
    this.db = db
    this.tables = openBlobTables(db)
    this.files = parts.files
    this.withLock = parts.lock
    this.now = parts.now
  }

  async getMeta(did: Did, cid: CID | string): Promise<BlobMeta | null> {
    const text = this.tables.meta.getSync(metaKey(did, cid.toString()))
    return text === undefined ? null : decodeMeta(text)
  }

  /** True when some record of `did` references `cid`. */
  async isReferenced(did: Did, cid: string): Promise<boolean> {
    const keys = await this.tables.refs.keys({ ...blobRefRange(did, cid), limit: 1 }).all()
    return keys.length > 0
  }

  /** Store an uploaded body for `did`; returns the blob ref to put in records. */
  async upload(did: Did, body: AsyncIterable<Uint8Array>, options: { declaredType?: string } = {}): Promise<BlobRef> {
    const temp = await this.files.writeTemp(body)
    try {
      return await this.withLock(did, async () => {
        const cid = temp.cid.toString()
        const prev = await this.getMeta(did, cid)
        const referenced = await this.isReferenced(did, cid)
        const now = this.now()
        const next: BlobMeta = {
          mimeType: prev?.mimeType ?? chooseMimeType(temp.head, options.declaredType),
          size: temp.size,
          createdAt: prev?.createdAt ?? now,
          state: referenced ? 'permanent' : 'temp',
          deleteAfter: referenced ? null : now + PDS_BLOB_TEMP_GRACE_MS,
        }
        await this.db.batch(metaOps(this.tables, { did, cid }, prev, next), { sync: true })
        await this.files.install(did, temp)
        return { $type: 'blob', ref: temp.cid, mimeType: next.mimeType, size: next.size }
      })
    } finally {
      await this.files.discard(temp) // a no-op once installed
    }
  }

  /** A permanent blob's bytes, or null (unknown, not yet/no longer referenced, or its file is gone). */
  async openBlob(did: Did, cid: CID): Promise<OpenBlob | null> {
    const meta = await this.getMeta(did, cid)
    if (meta === null || meta.state !== 'permanent') return null
    const size = await this.files.size(did, cid)
    if (size !== meta.size) return null
    return { mimeType: meta.mimeType, size, stream: this.files.openRead(did, cid) }
  }

  /** Forget every blob of `did` and delete its files (account deletion). Hold the repo lock. */
  async deleteAccountLocked(did: Did): Promise<void> {
    await this.files.removeAccount(did) // files first: a crash leaves rows a second run removes, never stray files
    let ops: StoreBatchOp[] = []
    for await (const [key, text] of this.tables.meta.iterator(accountRange(did))) {
      ops.push(...metaOps(this.tables, { did, cid: key.slice(did.length + 1) }, decodeMeta(text), null))
      if (ops.length >= PDS_BLOB_REINDEX_BATCH_ROWS) {
        await this.db.batch(ops, { sync: true })
        ops = []
      }
    }
    await this.db.batch(ops, { sync: true })
    await Promise.all([this.tables.refs.clear(accountRange(did)), this.tables.records.clear(accountRange(did))])
  }
}
