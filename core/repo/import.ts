/**
 * Importing a repo CAR as an account's repo (account migration), with flat
 * memory and without ever exposing a half import:
 * 1. check the CAR completely (verify-repo.ts): in memory when it is at most
 *    `memoryBytesMax` bytes, else streamed into the staging key space
 *    `did:atfedimport:<sha256(did)>` and checked there (stage-car.ts). A bad
 *    CAR fails here and leaves nothing behind;
 * 2. mark the import in progress (a marker block in the staging space),
 *    then copy the reachable blocks (commit, MST nodes, records; not the
 *    junk a CAR may carry) into the account's key space. The account's head still names its
 *    old commit, whose blocks are untouched;
 * 3. switch the head in one durable batch, with the caller's `extra` ops
 *    (e.g. the firehose event): this is the moment the import happens;
 * 4. delete the old repo's blocks the new one lacks, then the staging space.
 * A kill -9 anywhere before step 3 leaves the account's head and every block
 * it reaches unchanged. The unreachable copies step 2 may have left are
 * found by the next import of that DID: it sees the staging space non-empty
 * and then sweeps the account's whole key range once it has a new repo in
 * place (an I/O failure in steps 2-4 keeps the staging space as that marker,
 * and so does a failed import that still owes a sweep). Only an old block
 * that the new CAR carries as junk can survive step 4.
 * Callers serialize imports and commits per DID.
 */
import { createHash } from 'node:crypto'
import { assert } from '../errors.ts'
import { REPO_IMPORT_MEMORY_BYTES_MAX } from '../limits.ts'
import { encodeCborWithCid } from '../data/cbor.ts'
import type { CID } from '../data/cid.ts'
import type { Did } from '../syntax/did.ts'
import { BlockBatch } from './block-batch.ts'
import type { BlockReader } from './block-reader.ts'
import type { LevelRepoStore, RepoHead, StoreBatchOp } from './block-store.ts'
import type { ByteSource } from './car/byte-queue.ts'
import type { CarBlock } from './car/section.ts'
import { walkRepoTree } from './repo-walk.ts'
import { checkCarInMemory } from './import-memory.ts'
import { bufferSmallCar, stageRepoCar } from './stage-car.ts'
import type { BufferedCar, ImportedRepo, StageRepoOptions } from './stage-car.ts'

export type ImportRepoOptions = Omit<StageRepoOptions, 'namespace' | 'did'> & {
  /** The account: the repo's commit must be for this DID. */
  did: Did
  /** Written in the same atomic batch as the new head. */
  extra?: StoreBatchOp[]
  /** CARs up to this size are checked in memory (default REPO_IMPORT_MEMORY_BYTES_MAX). */
  memoryBytesMax?: number
}

/** A checked repo, its blocks (commit, MST nodes, records; each once), and whether the CAR had a CID. */
type Checked = { repo: ImportedRepo; repoBlocks: Iterable<CarBlock>; has(cid: CID): boolean }

/** Put in the staging space while copies may exist in the account's key space. */
const IN_PROGRESS = encodeCborWithCid({ atfedImport: 'in progress' })

export async function importRepoCar(source: ByteSource, options: ImportRepoOptions): Promise<ImportedRepo> {
  const { store, did } = options
  const staging = stagingNamespace(did)
  let sweepPending = !(await isEmpty(store.iterateBlocks(staging))) // an earlier import died after step 1
  if (sweepPending) await store.clearBlocks(staging)
  const before = store.getHead(did)
  let buffered: BufferedCar | null = null
  let keepStaging = false
  try {
    buffered = await bufferSmallCar(source, options.memoryBytesMax ?? REPO_IMPORT_MEMORY_BYTES_MAX)
    const { repo, repoBlocks, has } = await check(buffered, { ...options, namespace: staging })
    await store.writeBlocks(staging, [IN_PROGRESS])
    keepStaging = true // from here on, a failure may leave copies in the account's key space
    await copyBlocks(store, { to: did, blocks: repoBlocks })
    const head = { commitCid: repo.commitCid, rev: repo.commit.rev, dataCid: repo.root }
    await store.applyCommit(did, { newBlocks: [], removedCids: [], head, extra: options.extra })
    await dropStale(store, { did, has, before: sweepPending ? 'sweep' : before })
    sweepPending = false
    keepStaging = false
    return repo
  } finally {
    if (buffered?.whole === null) await buffered.close()
    if (!keepStaging) {
      await store.clearBlocks(staging)
      if (sweepPending) await store.writeBlocks(staging, [IN_PROGRESS]) // still owed: keep the marker
    }
  }
}

/** Where an import of `did` is staged: fixed per DID, so the next import finds a crashed one. */
export function stagingNamespace(did: Did): Did {
  return `did:atfedimport:${createHash('sha256').update(did).digest('hex')}` as Did
}

async function check(buffered: BufferedCar, options: StageRepoOptions): Promise<Checked> {
  if (buffered.whole !== null) {
    const { index, ...repo } = checkCarInMemory(buffered.whole, options)
    return { repo, repoBlocks: index.readBlocks(), has: (cid) => index.has(cid) }
  }
  const { store, namespace } = options
  const repo = await stageRepoCar(buffered.stream, options)
  const has = (cid: CID) => store.getBlockSync(namespace, cid) !== undefined
  return { repo, repoBlocks: walkRepoBlocks(store.readerFor(namespace), repo), has }
}

/** The commit block, then every MST node and record block, read back from `reader`. */
function* walkRepoBlocks(reader: BlockReader, repo: ImportedRepo): Generator<CarBlock, void, undefined> {
  const commitBytes = reader.get(repo.commitCid)
  assert(commitBytes !== undefined, 'checked commit block vanished')
  yield { cid: repo.commitCid, bytes: commitBytes }
  for (const item of walkRepoTree(reader, repo.root)) {
    const bytes = item.type === 'node' ? item.bytes : reader.get(item.cid)
    assert(bytes !== undefined, 'checked record block vanished')
    yield { cid: item.cid, bytes }
  }
}

async function copyBlocks(store: LevelRepoStore, { to, blocks }: { to: Did; blocks: Iterable<CarBlock> }): Promise<void> {
  const batch = new BlockBatch((some) => store.writeBlocks(to, some))
  try {
    for (const block of blocks) await batch.add(block)
    await batch.drain()
  } finally {
    await batch.settle()
  }
}

/**
 * Deletes the account's blocks the new repo lacks: those of the old repo
 * (walked from its head; each node is read before it can be deleted), or with
 * 'sweep' every block in the account's range (after a crashed import).
 */
async function dropStale(
  store: LevelRepoStore,
  { did, has, before }: { did: Did; has(cid: CID): boolean; before: RepoHead | null | 'sweep' },
): Promise<void> {
  if (before === null) return
  const batch = new BlockBatch((stale) => store.deleteBlocks(did, stale.map((b) => b.cid)))
  const none = new Uint8Array(0)
  try {
    if (before === 'sweep') {
      for await (const block of store.iterateBlocks(did)) if (!has(block.cid)) await batch.add(block)
    } else {
      if (!has(before.commitCid)) await batch.add({ cid: before.commitCid, bytes: none })
      for (const item of walkRepoTree(store.readerFor(did), before.dataCid)) {
        if (!has(item.cid)) await batch.add({ cid: item.cid, bytes: none })
      }
    }
    await batch.drain()
  } finally {
    await batch.settle()
  }
}

async function isEmpty(source: AsyncGenerator<unknown>): Promise<boolean> {
  const step = await source.next()
  await source.return(undefined)
  return step.done === true
}
