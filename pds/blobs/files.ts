/**
 * Blob bytes as content-addressed files: `DATA/blobs/<account>/<xx>/<cid>`.
 *
 * - `<account>` is the DID with ':' turned into '_' ('_' never occurs in a
 *   DID, so the mapping is one-to-one and the name is portable); `<xx>` is
 *   the last two characters of the CID string (the first ones are the same
 *   `bafkrei` for every blob), so no directory grows past ~1/1024 of an
 *   account's blobs.
 * - An upload streams into `DATA/blobs/tmp/<random>.tmp` while it is hashed
 *   (never held in memory), is fsynced, then renamed into place and the
 *   directory fsynced: a file at a CID path is always complete. A failed or
 *   abandoned upload removes its temp file; temp files left by a crash are
 *   removed at start (one process owns DATA: the level lock guarantees it).
 * - Installing a CID whose file is already there with the right size drops
 *   the new copy (content addressing makes them equal); a missing or short
 *   file is replaced (re-uploading heals a lost file).
 * Metadata (type, owner, state) is not here: see store.ts.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, mkdirSync, rmSync } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import * as Digest from 'multiformats/hashes/digest'
import { CID, RAW_CODEC, SHA256_CODE } from '../../core/data/cid.ts'
import { PDS_BLOB_SNIFF_BYTES } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'

/** An upload written to a temp file: where, its CID and size, and its first bytes for sniffing. */
export type TempBlob = { readonly path: string; readonly cid: CID; readonly size: number; readonly head: Uint8Array }

const TMP_DIR = 'tmp'
const FILE_MODE = 0o600

export function accountDirName(did: Did): string {
  return did.replaceAll(':', '_')
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export class BlobFiles {
  readonly root: string
  readonly tmpDir: string

  /** Creates the directories and removes temp files a crash left behind (at start, so synchronous). */
  static open(root: string): BlobFiles {
    const files = new BlobFiles(root)
    rmSync(files.tmpDir, { recursive: true, force: true })
    mkdirSync(files.tmpDir, { recursive: true, mode: 0o700 })
    return files
  }

  private constructor(root: string) {
    this.root = root
    this.tmpDir = join(root, TMP_DIR)
  }

  pathFor(did: Did, cid: CID | string): string {
    const text = cid.toString()
    return join(this.root, accountDirName(did), text.slice(-2), text)
  }

  /** Stream `body` into a temp file while hashing it; on any failure the temp file is gone. */
  async writeTemp(body: AsyncIterable<Uint8Array>): Promise<TempBlob> {
    const path = join(this.tmpDir, `${randomBytes(12).toString('hex')}.tmp`)
    const handle = await open(path, 'wx', FILE_MODE)
    const hash = createHash('sha256')
    const head = new Uint8Array(PDS_BLOB_SNIFF_BYTES)
    let size = 0
    try {
      for await (const chunk of body) {
        if (size < head.length) head.set(chunk.subarray(0, head.length - size), size)
        size += chunk.length
        hash.update(chunk)
        await handle.write(chunk)
      }
      await handle.sync()
    } catch (err) {
      await handle.close().catch(() => {})
      await rm(path, { force: true })
      throw err
    }
    await handle.close()
    const cid = CID.createV1(RAW_CODEC, Digest.create(SHA256_CODE, hash.digest()))
    return { path, cid, size, head: head.slice(0, Math.min(size, head.length)) }
  }

  /** Move a temp blob to its CID path (or drop it if an intact copy is there). */
  async install(did: Did, temp: TempBlob): Promise<void> {
    const target = this.pathFor(did, temp.cid)
    if ((await this.size(did, temp.cid)) === temp.size) {
      await this.discard(temp)
      return
    }
    await mkdir(dirname(target), { recursive: true, mode: 0o700 })
    await rename(temp.path, target)
    await fsyncDir(dirname(target))
  }

  async discard(temp: TempBlob): Promise<void> {
    await rm(temp.path, { force: true })
  }

  /** The stored file's size, or null when there is none. */
  async size(did: Did, cid: CID | string): Promise<number | null> {
    try {
      const info = await stat(this.pathFor(did, cid))
      return info.isFile() ? info.size : null
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  openRead(did: Did, cid: CID): Readable {
    return createReadStream(this.pathFor(did, cid))
  }

  /** Delete one blob file; a missing file is fine. */
  async remove(did: Did, cid: CID | string): Promise<void> {
    await rm(this.pathFor(did, cid), { force: true })
  }

  /** Delete every blob file of an account. */
  async removeAccount(did: Did): Promise<void> {
    await rm(join(this.root, accountDirName(did)), { recursive: true, force: true })
  }

  /** Names of the temp files now present (tests and diagnostics). */
  async tempFiles(): Promise<string[]> {
    return readdir(this.tmpDir)
  }
}
