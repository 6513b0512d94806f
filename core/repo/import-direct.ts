/**
 * The direct half of a streamed repo import (import.ts): for an account whose
 * key space holds few blocks (the migration case: a new account with only
 * its initial commit), the CAR's blocks are streamed straight into the
 * account's own key space instead of a staging space they would be copied
 * out of. This is safe because blocks are content-addressed and additive:
 * while the head still names the old commit, extra blocks change nothing a
 * reader can reach. The pieces, in the order import.ts uses them:
 *
 * - `PriorBlocks` remembers which blocks the key space held before (at most
 *   REPO_IMPORT_DIRECT_PRIOR_BLOCKS_MAX, else import.ts stages) and which of
 *   them the CAR carried too. Its `reader` hides the others, so the repo
 *   check sees exactly the CAR, as if it were alone in the key space;
 * - `rollBack` deletes every block that was not there before (a CAR that
 *   fails its check, or an I/O failure before the head moves);
 * - `markReachable` writes one one-byte mark per block of the checked repo
 *   (commit, MST nodes, leaves' records) into a scratch key space of marks
 *   only, where LevelDB sorts them by CID for us, so memory stays flat;
 * - `sweepUnreachable`, once the head names the new commit, walks the
 *   account's CIDs and the marks side by side (both in CID order) and deletes
 *   every block that is not marked: the old repo's, the CAR's junk, and what
 *   an earlier crashed import left.
 * Crash safety comes from import.ts's marker, written before the first block.
 */
import { REPO_IMPORT_DIRECT_PRIOR_BLOCKS_MAX } from '../limits.ts'
import { PRESENCE_BYTES } from '../presence-value.ts'
import type { CID } from '../data/cid.ts'
import type { Did } from '../syntax/did.ts'
import { BlockBatch } from './block-batch.ts'
import { cidKey } from './block-reader.ts'
import type { BlockReader } from './block-reader.ts'
import type { LevelRepoStore } from './block-store.ts'
import { walkRepoTree } from './repo-walk.ts'
import type { VerifiedRepo } from './verify-repo.ts'


export class PriorBlocks {
  readonly #present: Set<string>
  readonly #carried = new Set<string>()

  private constructor(present: Set<string>) {
    this.#present = present
  }

  /** What `did`'s key space holds now; null when that is more than the direct path takes. */
  static async read(store: LevelRepoStore, did: Did): Promise<PriorBlocks | null> {
    const present = new Set<string>()
    for await (const page of store.iterateCids(did)) {
      for (const cid of page) present.add(cidKey(cid))
      if (present.size > REPO_IMPORT_DIRECT_PRIOR_BLOCKS_MAX) return null
    }
    return new PriorBlocks(present)
  }

  has(cid: CID): boolean {
    return this.#present.has(cidKey(cid))
  }

  /** Notes a block of the CAR (call for each, as it streams in). */
  carried(cid: CID): void {
    if (this.#present.size === 0) return
    const key = cidKey(cid)
    if (this.#present.has(key)) this.#carried.add(key)
  }

  /** `did`'s blocks as the CAR alone would have them: an earlier block the CAR lacks is missing. */
  reader(store: LevelRepoStore, did: Did): BlockReader {
    const stored = store.readerFor(did)
    if (this.#present.size === 0) return stored
    return {
      get: (cid) => {
        const key = cidKey(cid)
        return this.#present.has(key) && !this.#carried.has(key) ? undefined : stored.get(cid)
      },
    }
  }
}

/** Deletes every block of `did` that was not there before the import began. */
export async function rollBack(store: LevelRepoStore, { did, prior }: { did: Did; prior: PriorBlocks }): Promise<void> {
  for await (const page of store.iterateCids(did)) {
    await store.deleteBlocks(did, page.filter((cid) => !prior.has(cid)))
  }
}

/** One one-byte mark per block of the checked repo, under `marks` (never empty: core/presence-value.ts). */
export async function markReachable(
  store: LevelRepoStore,
  { reader, repo, marks }: { reader: BlockReader; repo: VerifiedRepo; marks: Did },
): Promise<void> {
  const batch = new BlockBatch((some) => store.writeBlocks(marks, some))
  try {
    await batch.add({ cid: repo.commitCid, bytes: PRESENCE_BYTES })
    for (const item of walkRepoTree(reader, repo.root)) await batch.add({ cid: item.cid, bytes: PRESENCE_BYTES })
    await batch.drain()
  } finally {
    await batch.settle()
  }
}

/** Deletes every block of `did` that has no mark under `marks`. */
export async function sweepUnreachable(store: LevelRepoStore, { did, marks }: { did: Did; marks: Did }): Promise<void> {
  const markCids = markedCids(store, marks)
  let mark = await markCids.next()
  try {
    for await (const page of store.iterateCids(did)) {
      const stale: CID[] = []
      for (const cid of page) {
        while (!mark.done && compareBytes(mark.value.bytes, cid.bytes) < 0) mark = await markCids.next()
        if (mark.done || compareBytes(mark.value.bytes, cid.bytes) !== 0) stale.push(cid)
      }
      await store.deleteBlocks(did, stale)
    }
  } finally {
    await markCids.return()
  }
}

async function* markedCids(store: LevelRepoStore, marks: Did): AsyncGenerator<CID, void, undefined> {
  for await (const page of store.iterateCids(marks)) yield* page
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
