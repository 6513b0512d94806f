/**
 * What the repo section asks of each side. One driver per side holds one
 * repo (did = BENCH_DID) and does the timed jobs; bench/repo.ts does the
 * timing, so both sides are measured by the same code.
 */
import type { CreateWrite } from './repo-data.ts'

export type RepoCommits = {
  /** One signed commit holding `writes`, applied to the side's block store. */
  commit(writes: readonly CreateWrite[]): Promise<void>
}

export type RepoDriver = RepoCommits & {
  /**
   * A second, empty repo whose commits only build blocks in memory (the pure
   * core, nothing stored), for the like-for-like commit row; null when
   * `commit` already works that way (the reference's MemoryBlockstore).
   */
  openMemoryRepo(): RepoCommits | null
  /** The whole repo as CAR bytes (commit first), as the side streams it. */
  exportCar(): AsyncIterable<Uint8Array>
  /** Import `car` and verify all of it (block hashes, tree, leaves, signature); returns the record count. */
  importAndVerify(car: Uint8Array): Promise<number>
  /** Verify all of `car` held in memory, storing nothing; returns the record count. */
  verifyInMemory(car: Uint8Array): Promise<number>
  close(): Promise<void>
}
