/**
 * The repo section's reference side: @atproto/repo on its MemoryBlockstore,
 * signing with @atproto/crypto's Secp256k1Keypair (the PDS's own stack).
 * Commits go through `repo.applyWrites` (formatCommit + applyCommit, which
 * also builds the firehose diff blocks); export is `getFullRepo`; import +
 * verify is `verifyRepoCar` with the DID and signing key given (re-hashes
 * every block, walks the whole tree, requires every leaf, checks the
 * signature). The reference has no import into a store of its own, so
 * `verifyRepoCar` serves both the import and the in-memory rows.
 */
import { Secp256k1Keypair } from '@atproto/crypto'
import { getFullRepo, MemoryBlockstore, Repo, verifyRepoCar } from '@atproto/repo'
import type { RecordWriteOp } from '@atproto/repo'
import { BENCH_DID, signingKeyBytes } from './repo-data.ts'
import type { RepoDriver } from './repo-driver.ts'

export async function openReferenceDriver(): Promise<RepoDriver> {
  const keypair = await Secp256k1Keypair.import(signingKeyBytes())
  const storage = new MemoryBlockstore()
  let repo = await Repo.create(storage, BENCH_DID, keypair)
  return {
    async commit(writes) {
      repo = await repo.applyWrites(writes as unknown as RecordWriteOp[], keypair)
    },
    openMemoryRepo: () => null, // `commit` already runs in memory
    exportCar: () => getFullRepo(storage, repo.cid),
    async importAndVerify(car) {
      const verified = await verifyRepoCar(car, BENCH_DID, keypair.did())
      return verified.creates.length
    },
    async verifyInMemory(car) {
      return (await verifyRepoCar(car, BENCH_DID, keypair.did())).creates.length
    },
    close: async () => {},
  }
}
