/**
 * Opening a repo CAR file for the `atfed car` commands: every check of a repo
 * import (one root, re-hashed blocks, commit, complete canonical MST, record
 * blocks present; the signature when a key is given) and then a block reader
 * for listing and unpacking.
 *
 * Memory stays flat whatever the file size:
 * - a file of at most `memoryBytesMax` (CAR_CLI_MEMORY_BYTES_MAX) is read
 *   into memory and checked there (fast; bounded by the constant);
 * - a bigger one is streamed from disk (fs.createReadStream) into a
 *   temporary level store under os.tmpdir() and checked from there
 *   (stage-car.ts `stageRepoCar`). `close()` removes that directory; a process
 *   exit removes it too, should the command die before closing.
 */
import { createReadStream, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CAR_CLI_MEMORY_BYTES_MAX } from '../core/limits.ts'
import type { PublicKey } from '../core/crypto/key-types.ts'
import type { Did } from '../core/syntax/did.ts'
import type { BlockReader } from '../core/repo/block-reader.ts'
import { binaryStoreDb, LevelRepoStore } from '../core/repo/block-store.ts'
import type { RootDb } from '../core/repo/block-store.ts'
import { stageRepoCar } from '../core/repo/stage-car.ts'
import type { ImportedRepo } from '../core/repo/stage-car.ts'
import { verifyRepoCarBytes } from '../core/repo/verify-repo.ts'

export type OpenedCar = { repo: ImportedRepo; reader: BlockReader; close(): Promise<void> }

/** The key space of the temporary store (it holds one repo, whatever its DID). */
const SCRATCH_NAMESPACE = 'did:web:car.atfed.invalid' as Did

export async function openRepoCarFile(
  path: string,
  options: { key?: PublicKey; memoryBytesMax?: number } = {},
): Promise<OpenedCar> {
  const { size } = await stat(path)
  const check = options.key === undefined ? {} : { key: options.key }
  if (size <= (options.memoryBytesMax ?? CAR_CLI_MEMORY_BYTES_MAX)) {
    const verified = verifyRepoCarBytes(await readFile(path), check)
    const { blockMap, ...repo } = verified
    return { repo, reader: blockMap, close: async () => {} }
  }
  const dir = await mkdtemp(join(tmpdir(), 'atfed-car-'))
  const removeOnExit = () => rmSync(dir, { recursive: true, force: true })
  process.once('exit', removeOnExit)
  const db: RootDb = binaryStoreDb(dir)
  const close = async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
    process.off('exit', removeOnExit)
  }
  try {
    await db.open()
    const store = await LevelRepoStore.open(db)
    const repo = await stageRepoCar(createReadStream(path), { ...check, store, namespace: SCRATCH_NAMESPACE })
    return { repo, reader: store.readerFor(SCRATCH_NAMESPACE), close }
  } catch (err) {
    await close()
    throw err
  }
}

export async function withRepoCarFile<T>(
  path: string,
  options: { key?: PublicKey; memoryBytesMax?: number },
  use: (car: OpenedCar) => Promise<T>,
): Promise<T> {
  const car = await openRepoCarFile(path, options)
  try {
    return await use(car)
  } finally {
    await car.close()
  }
}
