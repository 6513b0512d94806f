/**
 * The repo section's atfed side: the PDS's own path. A LevelRepoStore in a
 * real `level` directory under os.tmpdir(); each commit is the pure
 * `applyWrites` (core/repo/writes.ts: loads the tree from the store's
 * synchronous reader, encodes records, builds and signs the commit and the
 * firehose `#commit` CAR) followed by one durable `applyCommit` batch
 * (`sync: true`). Export is `exportRepoCar`; import + verify is
 * `importRepoCar` into a fresh store per run (the migration path: every
 * block re-hashed, full repo check with DID and signing key, the repo's
 * blocks written, the head switched), fed in 64 KiB pieces as a socket would;
 * the in-memory check is `verifyRepoCarBytes` (same checks, nothing stored).
 * `openMemoryRepo` is the pure core alone, like the reference: `applyWrites`
 * reading from and applied to a MemoryBlockMap (blocks removed, then added,
 * in the order `applyCommit` uses), no store.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { keypairFromPrivateKey } from '../core/crypto/keypair.ts'
import type { Keypair } from '../core/crypto/keypair.ts'
import { MemoryBlockMap } from '../core/repo/block-reader.ts'
import { LevelRepoStore } from '../core/repo/block-store.ts'
import type { RepoHead, RootDb } from '../core/repo/block-store.ts'
import { exportRepoCar } from '../core/repo/export.ts'
import { importRepoCar } from '../core/repo/import.ts'
import type { RepoWrite } from '../core/repo/repo-write.ts'
import { verifyRepoCarBytes } from '../core/repo/verify-repo.ts'
import { applyWrites, createInitialCommit } from '../core/repo/writes.ts'
import type { CommitResult } from '../core/repo/writes.ts'
import { parseDid } from '../core/syntax/did.ts'
import { TidClock } from '../core/syntax/tid.ts'
import { BENCH_DID, signingKeyBytes } from './repo-data.ts'
import type { RepoCommits, RepoDriver } from './repo-driver.ts'

const did = parseDid(BENCH_DID)
const CAR_FEED_CHUNK_BYTES = 65_536

type OpenStore = { store: LevelRepoStore; close(): Promise<void> }

async function openStore(prefix: string): Promise<OpenStore> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const db: RootDb = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const store = await LevelRepoStore.open(db)
  return {
    store,
    close: async () => {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** `car` in network-sized pieces, so the reader does the copying a socket would make it do. */
async function* chunked(car: Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  for (let offset = 0; offset < car.length; offset += CAR_FEED_CHUNK_BYTES) {
    yield car.subarray(offset, offset + CAR_FEED_CHUNK_BYTES)
  }
}

function openMemoryRepo(keypair: Keypair, clock: TidClock): RepoCommits {
  const blocks = new MemoryBlockMap()
  let head: RepoHead | null = null
  const apply = (result: CommitResult) => {
    for (const cid of result.removedCids) blocks.delete(cid)
    blocks.addAll(result.newBlocks)
    head = result.head
  }
  apply(createInitialCommit(did, keypair, { clock }))
  return {
    async commit(writes) {
      apply(applyWrites(head, writes as unknown as RepoWrite[], { keypair, did, reader: blocks, clock }))
    },
  }
}

export async function openOursDriver(): Promise<RepoDriver> {
  const keypair = keypairFromPrivateKey('k256', signingKeyBytes())
  const clock = new TidClock({ clockId: 0 })
  const main = await openStore('atfed-bench-repo-')
  const { store } = main
  const stored = (result: CommitResult) =>
    store.applyCommit(did, { newBlocks: result.newBlocks, removedCids: result.removedCids, head: result.head })
  await stored(createInitialCommit(did, keypair, { clock }))
  const imported: OpenStore[] = []

  return {
    async commit(writes) {
      const head = store.getHead(did)
      const result = applyWrites(head, writes as unknown as RepoWrite[], { keypair, did, reader: store.readerFor(did), clock })
      await stored(result)
    },
    openMemoryRepo: () => openMemoryRepo(keypair, clock),
    exportCar: () => exportRepoCar(store, did),
    async importAndVerify(car) {
      const target = await openStore('atfed-bench-import-') // a fresh store per run, closed at the end
      imported.push(target)
      const repo = await importRepoCar(chunked(car), { store: target.store, did, key: keypair.publicKey })
      return repo.records
    },
    async verifyInMemory(car) {
      return verifyRepoCarBytes(car, { did, key: keypair.publicKey }).records
    },
    async close() {
      await main.close()
      for (const target of imported) await target.close()
    },
  }
}
