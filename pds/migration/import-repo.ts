/**
 * com.atproto.repo.importRepo: a migrating account's repo CAR becomes its
 * repo here, fully checked, then re-signed with the account's key here.
 *
 * Only a DEACTIVATED account imports (400 `AccountActive` otherwise): that
 * is the migration-in state, and replacing a live repo would need a
 * firehose story the reference does not have either (it allows it and
 * emits nothing). Re-importing is fine and converges (goat retries).
 *
 * Steps; the first five leave the account exactly as it was on failure:
 *  1. the body (bounded by the route: 413 past the limit) is spooled to
 *     DATA/tmp/imports/<random>.car, so the checks below can read it twice
 *     without holding it in memory;
 *  2. under the repo lock, the account is re-read (still deactivated);
 *  3. every DAG-CBOR block in the CAR must decode strictly (records
 *     included, which the repo check does not decode): `InvalidRecord`;
 *     the commit's rev may not be in the future (`FutureRev`);
 *  4. the DID's CURRENT `#atproto` key is fetched fresh (did-check.ts);
 *  5. core/repo/import.ts `importRepoCar`: one root, every block re-hashed,
 *     commit `did` = the account (`DidMismatch`), signature by that key
 *     (`BadCommitSignature`), complete canonical MST, every record present;
 *     then copy and switch the head, with the store's "import pending"
 *     marker in the SAME batch;
 *  6. the record-block counts (repo/record-refs.ts) are cleared and rebuilt
 *     from the new tree's leaves, in batches; the commit is re-signed with
 *     the account's key here at a higher rev (core/repo/writes.ts
 *     `resignCommit`, pure), and the blob references are re-indexed from
 *     every record at that rev (pds/blobs/reindex.ts: this is what
 *     listMissingBlobs and checkAccountStatus's blob counts read);
 *  7. ONE batch: the re-signed commit (the imported commit block goes) and
 *     the marker removed. No event: the account is not live;
 *     activateAccount announces the repo with a `#sync`.
 * A crash between 5 and 7 leaves the marker: activateAccount refuses
 * (`RepoImportIncomplete`) until an import completes (each step converges
 * when run again).
 *
 * Imports after the PLC update are refused unless the CAR is signed by the
 * key the DID document names at that moment (i.e. ours): export from the old
 * PDS before switching the identity, as the standard flow does.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AtfedError, assert } from '../../core/errors.ts'
import { decodeCbor } from '../../core/data/cbor.ts'
import type { CID } from '../../core/data/cid.ts'
import { DAG_CBOR_CODEC } from '../../core/data/cid.ts'
import { CAR_BLOCKS_MAX, PDS_IMPORT_REFS_BATCH_OPS_MAX } from '../../core/limits.ts'
import { readCarWithSingleRoot } from '../../core/repo/car/reader.ts'
import { checkRevNotFuture, decodeCommit } from '../../core/repo/commit.ts'
import { importRepoCar } from '../../core/repo/import.ts'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import { resignCommit } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import type { Account } from '../accounts/account.ts'
import { blobStoreFor } from '../blobs/registry.ts'
import { reindexRecordBlobsLocked, type IndexedRecord } from '../blobs/reindex.ts'
import type { PdsContext } from '../context.ts'
import { currentSigningKey } from './did-check.ts'
import type { MigrationStore } from './store.ts'

export type ImportResult = { commit: CID; rev: Tid; records: number; blocks: number }

/** Where import bodies are spooled; emptied at start (a crash may have left files). */
export function prepareImportDir(dataDir: string): string {
  const dir = join(dataDir, 'tmp', 'imports')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

function checkImportable(account: Account | null, did: Did): Account {
  if (account === null || account.status === 'deleted') throw new AtfedError('AccountNotFound', `Account not found: ${did}`)
  if (account.status === 'takendown') throw new AtfedError('AccountTakedown', 'Account has been taken down')
  if (account.status !== 'deactivated') {
    throw new AtfedError('AccountActive', 'importRepo is only accepted while the account is deactivated (migration in)')
  }
  return account
}

async function spool(body: Readable, dir: string): Promise<string> {
  const path = join(dir, `${randomBytes(12).toString('hex')}.car`)
  try {
    await pipeline(body, createWriteStream(path, { mode: 0o600 }))
  } catch (err) {
    await rm(path, { force: true })
    throw err
  }
  return path
}

/** Step 3: every DAG-CBOR block decodes strictly (the CAR reader re-hashes each one). */
async function checkBlocksDecode(path: string): Promise<void> {
  const car = await readCarWithSingleRoot(createReadStream(path))
  let blocks = 0
  for await (const block of car.blocks) {
    if (++blocks > CAR_BLOCKS_MAX) throw new AtfedError('TooManyBlocks', `CAR has more than ${CAR_BLOCKS_MAX} blocks`)
    if (block.cid.code !== DAG_CBOR_CODEC) continue
    if (block.cid.equals(car.root)) checkImportedRev(block.bytes)
    try {
      decodeCbor(block.bytes)
    } catch (err) {
      throw new AtfedError('InvalidRecord', `Could not parse block ${block.cid.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/**
 * A commit rev more than FUTURE_REV_TOLERANCE_MS ahead is refused (`FutureRev`): the
 * re-signed rev follows it, and relays drop every event of a repo whose rev is in
 * the future. A commit that does not decode is left to step 5 to name.
 */
function checkImportedRev(bytes: Uint8Array): void {
  let rev: Tid
  try {
    rev = decodeCommit(bytes).rev
  } catch {
    return
  }
  checkRevNotFuture(rev, Date.now())
}

/** Step 6: record-block counts from the new tree. */
async function rebuildRecordRefs(ctx: PdsContext, did: Did, root: CID): Promise<void> {
  await ctx.refs.clear(did)
  const leaves = Array.from(walkRepoLeaves(ctx.repos.readerFor(did), root), (leaf) => leaf.cid)
  const ops = ctx.refs.rebuildOps(did, leaves)
  for (let i = 0; i < ops.length; i += PDS_IMPORT_REFS_BATCH_OPS_MAX) {
    await ctx.db.batch(ops.slice(i, i + PDS_IMPORT_REFS_BATCH_OPS_MAX), { sync: false })
  }
}

/** Every record of the tree at `root`, decoded (step 3 made sure they decode). */
function* recordsOf(ctx: PdsContext, did: Did, root: CID): Generator<IndexedRecord> {
  const reader = ctx.repos.readerFor(did)
  for (const leaf of walkRepoLeaves(reader, root)) {
    const bytes = reader.get(leaf.cid)
    assert(bytes !== undefined, 'an imported record block is missing')
    yield { path: leaf.key, record: leaf.cid.code === DAG_CBOR_CODEC ? decodeCbor(bytes) : null }
  }
}

async function importLocked(ctx: PdsContext, store: MigrationStore, did: Did, path: string): Promise<ImportResult> {
  const account = checkImportable(await ctx.accounts.get(did), did)
  await checkBlocksDecode(path)
  const key = await currentSigningKey(ctx, did)
  const repo = await importRepoCar(createReadStream(path), { store: ctx.repos, did, key, extra: store.importStartedOps(did) })
  await rebuildRecordRefs(ctx, did, repo.root)
  const head = ctx.repos.getHead(did)
  assert(head !== null && head.commitCid.equals(repo.commitCid), 'the imported commit is not the head')
  const resigned = resignCommit(head, { did, keypair: ctx.signingKeys.get(account), reader: ctx.repos.readerFor(did) })
  await reindexRecordBlobsLocked(blobStoreFor(ctx), did, { records: recordsOf(ctx, did, repo.root), rev: resigned.rev })
  await ctx.repos.applyCommit(did, {
    newBlocks: resigned.newBlocks,
    removedCids: resigned.removedCids,
    head: resigned.head,
    extra: store.importFinishedOps(did),
  })
  return { commit: resigned.commitCid, rev: resigned.rev, records: repo.records, blocks: repo.blocks }
}

export async function importRepo(
  ctx: PdsContext,
  store: MigrationStore,
  options: { account: Account; body: Readable; spoolDir: string },
): Promise<ImportResult> {
  const did = checkImportable(options.account, options.account.did).did
  const path = await spool(options.body, options.spoolDir)
  try {
    return await ctx.writer.withRepoLock(did, () => importLocked(ctx, store, did, path))
  } finally {
    await rm(path, { force: true })
  }
}
