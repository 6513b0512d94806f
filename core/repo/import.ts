/**
 * Importing a repo CAR as an account's repo (account migration), with flat
 * memory and without ever exposing a half import. Three ways in, by size:
 *
 * - in memory (CAR at most `memoryBytesMax`, import-memory.ts): check the
 *   whole CAR first, then write exactly the blocks the check read (commit,
 *   MST nodes, records; never the junk a CAR may carry) into the account's
 *   key space. A bad CAR writes nothing;
 * - direct (bigger CAR, account key space holding at most
 *   REPO_IMPORT_DIRECT_PRIOR_BLOCKS_MAX blocks: a new account, the migration
 *   case; import-direct.ts): stream the blocks straight into the account's
 *   key space, check them there through a reader that hides the blocks the
 *   account had that the CAR lacks, mark the repo's blocks; a bad CAR rolls
 *   back exactly the blocks that were not there before;
 * - staged (bigger CAR, bigger account, or `direct: false`): stream into the
 *   staging key space `did:atfedimport:<sha256(did)>`, check there
 *   (stage-car.ts), then copy the repo's blocks into the account.
 *
 * Blocks are content-addressed, so extra blocks in the account's key space
 * change nothing while its head names the old commit, whose blocks are never
 * touched before the switch. Then, in every way:
 * 1. before the first block lands in the account's key space, a marker
 *    block goes into the staging space (and stays for the staged way);
 * 2. the head switches in one durable batch, with the caller's `extra` ops
 *    (e.g. the firehose event): this is the moment the import happens;
 * 3. what the new repo lacks is deleted: the old repo's blocks (walked from
 *    the old head), or, for the direct way and after a crashed import, every
 *    block without a mark (import-direct.ts `sweepUnreachable`); then the
 *    marks and the staging space, marker last.
 * A kill -9 anywhere before step 2 leaves the account's head and every block
 * it reaches unchanged. What it leaves besides is found by the next import of
 * that DID: it sees the marker and sweeps the account's key space once its
 * own repo is in place (an I/O failure after step 1 keeps the marker, and so
 * does a failed import that still owes a sweep). Until then, an export of
 * the account may carry those extra blocks (harmless: unreferenced).
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
import { markReachable, PriorBlocks, rollBack, sweepUnreachable } from './import-direct.ts'
import { checkCarInMemory } from './import-memory.ts'
import { bufferSmallCar, stageRepoCar, streamCarInto } from './stage-car.ts'
import { verifyRepoBlocks } from './verify-repo.ts'
import type { BufferedCar, ImportedRepo, StageRepoOptions } from './stage-car.ts'

export type ImportRepoOptions = Omit<StageRepoOptions, 'namespace' | 'did'> & {
  /** The account: the repo's commit must be for this DID. */
  did: Did
  /** Written in the same atomic batch as the new head. */
  extra?: StoreBatchOp[]
  /** CARs up to this size are checked in memory (default REPO_IMPORT_MEMORY_BYTES_MAX). */
  memoryBytesMax?: number
  /** False: a bigger CAR is always staged, never streamed into the account's key space (default true). */
  direct?: boolean
}

/**
 * A checked repo, its blocks (commit, MST nodes, records; each once), and
 * `has`: whether a block is kept (in memory: it is the new repo's; staged:
 * the CAR carried it, so an old block the CAR carries as junk survives).
 */
type Checked = { repo: ImportedRepo; repoBlocks: Iterable<CarBlock>; has(cid: CID): boolean }

/** Put in the staging space while copies may exist in the account's key space. */
const IN_PROGRESS = encodeCborWithCid({ atfedImport: 'in progress' })

/** One import in progress: where it stands, for the clean-up in `importRepoCar`'s `finally`. */
type ImportRun = {
  options: ImportRepoOptions
  staging: Did
  before: RepoHead | null
  /** An earlier import died leaving blocks in the account's key space; sweep them. */
  sweepPending: boolean
  /** Set once the account's key space may hold blocks of this import: keep the marker on failure. */
  keepStaging: boolean
}

export async function importRepoCar(source: ByteSource, options: ImportRepoOptions): Promise<ImportedRepo> {
  const { store, did } = options
  const staging = stagingNamespace(did)
  const sweepPending = !(await isEmpty(store.iterateBlocks(staging))) // an earlier import died after its marker
  if (sweepPending) await clearScratch(store, did)
  const run: ImportRun = { options, staging, before: store.getHead(did), sweepPending, keepStaging: false }
  let buffered: BufferedCar | null = null
  try {
    buffered = await bufferSmallCar(source, options.memoryBytesMax ?? REPO_IMPORT_MEMORY_BYTES_MAX)
    const prior = buffered.whole === null && options.direct !== false ? await PriorBlocks.read(store, did) : null
    const repo =
      buffered.whole === null && prior !== null
        ? await streamDirect(run, buffered.stream, prior)
        : await checkThenCopy(run, buffered)
    run.sweepPending = false
    run.keepStaging = false
    return repo
  } finally {
    if (buffered?.whole === null) await buffered.close()
    if (!run.keepStaging) {
      await clearScratch(store, did)
      if (run.sweepPending) await store.writeBlocks(staging, [IN_PROGRESS]) // still owed: keep the marker
    }
  }
}

/** In memory, or staged: check the whole CAR first, then copy the repo's blocks into the account. */
async function checkThenCopy(run: ImportRun, buffered: BufferedCar): Promise<ImportedRepo> {
  const { store, did } = run.options
  const { repo, repoBlocks, has } = await check(buffered, { ...run.options, namespace: run.staging })
  await store.writeBlocks(run.staging, [IN_PROGRESS])
  run.keepStaging = true // from here on, a failure may leave copies in the account's key space
  await copyBlocks(store, { to: did, blocks: repoBlocks })
  await switchHead(run, repo)
  if (run.sweepPending) {
    const marks = marksNamespace(did)
    await markReachable(store, { reader: store.readerFor(did), repo, marks })
    await sweepUnreachable(store, { did, marks })
  } else {
    await dropStale(store, { did, has, before: run.before })
  }
  return repo
}

/** Streamed into the account's own key space (import-direct.ts), checked there, junk swept after. */
async function streamDirect(run: ImportRun, stream: ByteSource, prior: PriorBlocks): Promise<ImportedRepo> {
  const { store, did } = run.options
  await store.writeBlocks(run.staging, [IN_PROGRESS])
  run.keepStaging = true
  let repo: ImportedRepo
  try {
    const onBlock = (block: CarBlock) => prior.carried(block.cid)
    const { root, blocks, bytes } = await streamCarInto(stream, { ...run.options, namespace: did, onBlock })
    const reader = prior.reader(store, did)
    repo = { ...verifyRepoBlocks(reader, root, run.options), blocks, bytes }
    await markReachable(store, { reader, repo, marks: marksNamespace(did) })
  } catch (err) {
    await rollBack(store, { did, prior }).then(
      () => (run.keepStaging = false), // nothing of this import is left
      () => {}, // the marker stays: the next import sweeps; the caller hears the first failure
    )
    throw err
  }
  await switchHead(run, repo)
  await sweepUnreachable(store, { did, marks: marksNamespace(did) })
  return repo
}

/** The moment the import happens: the new head, with the caller's `extra` ops, in one durable batch. */
async function switchHead(run: ImportRun, repo: ImportedRepo): Promise<void> {
  const head = { commitCid: repo.commitCid, rev: repo.commit.rev, dataCid: repo.root }
  await run.options.store.applyCommit(run.options.did, { newBlocks: [], removedCids: [], head, extra: run.options.extra })
}

/** Where an import of `did` is staged: fixed per DID, so the next import finds a crashed one. */
export function stagingNamespace(did: Did): Did {
  return `did:atfedimport:${createHash('sha256').update(did).digest('hex')}` as Did
}

/** Where an import of `did` marks the blocks of the repo it keeps (import-direct.ts). */
export function marksNamespace(did: Did): Did {
  return `did:atfedmarks:${createHash('sha256').update(did).digest('hex')}` as Did
}

/** Marks first, marker last: a crash in between still leaves the marker. */
async function clearScratch(store: LevelRepoStore, did: Did): Promise<void> {
  await store.clearBlocks(marksNamespace(did))
  await store.clearBlocks(stagingNamespace(did))
}

async function check(buffered: BufferedCar, options: StageRepoOptions): Promise<Checked> {
  if (buffered.whole !== null) {
    const { index, ...repo } = checkCarInMemory(buffered.whole, options)
    return { repo, repoBlocks: index.readBlocks(), has: (cid) => index.wasRead(cid) }
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

/** Writes a synchronous source straight through (writeBlocks overlaps its batches itself). */
async function copyBlocks(store: LevelRepoStore, { to, blocks }: { to: Did; blocks: Iterable<CarBlock> }): Promise<void> {
  await store.writeBlocks(to, blocks)
}

/**
 * Deletes the old repo's blocks the new one lacks (walked from the old head;
 * each node is read before it can be deleted).
 */
async function dropStale(
  store: LevelRepoStore,
  { did, has, before }: { did: Did; has(cid: CID): boolean; before: RepoHead | null },
): Promise<void> {
  if (before === null) return
  const batch = new BlockBatch((stale) => store.deleteBlocks(did, stale.map((b) => b.cid)))
  const none = new Uint8Array(0)
  try {
    if (!has(before.commitCid)) await batch.add({ cid: before.commitCid, bytes: none })
    for (const item of walkRepoTree(store.readerFor(did), before.dataCid)) {
      if (!has(item.cid)) await batch.add({ cid: item.cid, bytes: none })
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
