/**
 * Repo blocks and repo heads for many accounts in one `level` database.
 *
 * Two key spaces (sublevel prefixes) of the root db, binary keys and values
 * (see store/keys.ts): blocks under DID ‖ 0x00 ‖ CID, heads under DID.
 * Consequences:
 * - a full export is one range scan (`iterateBlocks`, `nextv` pages), in CID
 *   order, from an implicit snapshot, so a concurrent commit cannot tear it;
 * - deleting an account is one head delete plus one range delete;
 * - MST reads are synchronous point reads (`getSync`) through `readerFor`.
 *
 * Every read and write goes to the root db with the sublevel prefix already
 * in the key (computed once per DID), never through a sublevel object: a
 * sublevel re-prefixes every key and routes each read and batch op through
 * abstract-level's generic option handling, which cost more than LevelDB
 * itself on import and commit paths. Our ops carry their encodings (`view`)
 * per op, so the root db's own encodings do not matter and a caller's extra
 * ops keep theirs.
 *
 * `applyCommit` is THE write: removed blocks, new blocks, the new head and the
 * caller's extra ops (e.g. the sequenced firehose event) go into ONE
 * `db.batch(ops, { sync: true })`, so a crash leaves either all of it or none.
 * Deletes come before puts so a block removed and re-added in the same commit
 * survives. Batches run on the root db: extra ops may target any sublevel of
 * it via the `sublevel` property.
 *
 * Not checked here (the write path checks before calling): that the head's
 * rev advances, that blocks hash to their CIDs, that a commit's blocks fit
 * COMMIT_BLOCKS_BYTES_MAX. Writers must serialize commits per DID.
 * Nothing here loads a whole repo into memory.
 */
import type { AbstractBatchOperation } from 'abstract-level'
import { Level } from 'level'
import { LEVEL_STORE_OPTIONS } from '../level-options.ts'
import { assert } from '../errors.ts'
import { BLOCK_STORE_SCAN_ENTRIES_MAX, BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX, BLOCK_STORE_WRITE_BATCH_BYTES_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { Did } from '../syntax/did.ts'
import type { BlockReader } from './block-reader.ts'
import { blocksOf } from './car/section.ts'
import type { BlockSource, CarBlock } from './car/section.ts'
import { blockKey, BlockKeys, blockKeyRange, cidFromBlockKey, rootKeyPrefix, scratchBlockKey, withDid } from './store/keys.ts'
import { decodeRepoHead, encodeRepoHead } from './store/repo-head.ts'

import type { RepoHead } from './store/repo-head.ts'

export type { RepoHead }
// Any `level` database; encodings are set per op, so the root's do not matter.
export type RootDb = Level<any, any>

/** A binary-keyed, binary-valued root db at `path` with the store's LevelDB options (not yet open). */
export function binaryStoreDb(path: string): RootDb {
  return new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view', ...LEVEL_STORE_OPTIONS })
}
export type StoreBatchOp = AbstractBatchOperation<RootDb, unknown, unknown>

export type CommitWrite = {
  newBlocks: BlockSource
  removedCids: Iterable<CID>
  head: RepoHead
  /** Written in the same atomic batch (e.g. the firehose event). */
  extra?: StoreBatchOp[]
}

/** Our keys and values are bytes; given per op and per read, so no option object is cloned. */
const BINARY = { keyEncoding: 'view', valueEncoding: 'view' } as const
type BinaryOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array; keyEncoding: 'view'; valueEncoding: 'view' }
  | { type: 'del'; key: Uint8Array; keyEncoding: 'view' }
const textDecoder = new TextDecoder()
const noop = () => {}

function putOp(key: Uint8Array, value: Uint8Array): BinaryOp {
  return { type: 'put', key, value, keyEncoding: 'view', valueEncoding: 'view' }
}

function delOp(key: Uint8Array): BinaryOp {
  return { type: 'del', key, keyEncoding: 'view' }
}

export class LevelRepoStore {
  readonly db: RootDb
  /** Root-db key prefixes of the two key spaces (the sublevel prefixes). */
  readonly #blocks: Uint8Array
  readonly #heads: Uint8Array

  /**
   * Waits for the db to open (the synchronous reads need it open). `name`
   * namespaces the two key spaces (sublevels [name, 'blocks'] and [name,
   * 'heads']), so several stores can share a db.
   */
  static async open(db: RootDb, options: { name?: string } = {}): Promise<LevelRepoStore> {
    const name = options.name ?? 'repo'
    const blocks = db.sublevel([name, 'blocks'])
    const heads = db.sublevel([name, 'heads'])
    assert(blocks.db === db, 'LevelRepoStore needs the root db, not a sublevel')
    await Promise.all([blocks.open(), heads.open()]) // waits for the root db, as sublevels do
    return new LevelRepoStore(db, rootKeyPrefix(blocks.prefix), rootKeyPrefix(heads.prefix))
  }

  private constructor(db: RootDb, blocks: Uint8Array, heads: Uint8Array) {
    this.db = db
    this.#blocks = blocks
    this.#heads = heads
  }

  getHead(did: Did): RepoHead | null {
    const bytes = this.db.getSync(withDid(this.#heads, did, false), BINARY) as Uint8Array | undefined
    return bytes === undefined ? null : decodeRepoHead(bytes)
  }

  getBlockSync(did: Did, cid: CID): Uint8Array | undefined {
    return this.db.getSync(blockKey(this.#prefix(did), cid), BINARY) as Uint8Array | undefined
  }

  /** A synchronous reader over one repo's blocks, for the MST. */
  readerFor(did: Did): BlockReader {
    const keyFor = scratchBlockKey(this.#prefix(did)) // getSync copies the key before it returns
    const db = this.db
    return { get: (cid: CID) => db.getSync(keyFor(cid), BINARY) as Uint8Array | undefined }
  }

  /** Several blocks in one call (getBlocks); undefined where missing. */
  async getBlocks(did: Did, cids: readonly CID[]): Promise<(Uint8Array | undefined)[]> {
    const prefix = this.#prefix(did)
    return this.db.getMany(
      cids.map((cid) => blockKey(prefix, cid)),
      BINARY,
    ) as Promise<(Uint8Array | undefined)[]>
  }

  /** Every block of one repo, in CID order, read in pages from one snapshot. */
  async *iterateBlocks(did: Did): AsyncGenerator<CarBlock, void, undefined> {
    for await (const page of this.iterateBlockPages(did)) yield* page
  }

  /**
   * `iterateBlocks` a page at a time (at most BLOCK_STORE_SCAN_ENTRIES_MAX
   * blocks each): one async step per page instead of per block, for export.
   * The snapshot is taken by the first `next()`.
   */
  async *iterateBlockPages(did: Did): AsyncGenerator<CarBlock[], void, undefined> {
    const prefix = this.#prefix(did)
    const iterator = this.db.iterator({ ...blockKeyRange(prefix), ...BINARY })
    try {
      for (;;) {
        const entries = (await iterator.nextv(BLOCK_STORE_SCAN_ENTRIES_MAX)) as Array<[Uint8Array, Uint8Array]>
        if (entries.length === 0) return
        yield entries.map(([key, bytes]) => ({ cid: cidFromBlockKey(prefix, key), bytes }))
      }
    } finally {
      await iterator.close()
    }
  }

  /** The CIDs of one repo's blocks, in CID order, in pages, keys only (from one snapshot). */
  async *iterateCids(did: Did): AsyncGenerator<CID[], void, undefined> {
    const prefix = this.#prefix(did)
    const iterator = this.db.keys({ ...blockKeyRange(prefix), keyEncoding: 'view' })
    try {
      for (;;) {
        const keys = (await iterator.nextv(BLOCK_STORE_SCAN_ENTRIES_MAX)) as Uint8Array[]
        if (keys.length === 0) return
        yield keys.map((key) => cidFromBlockKey(prefix, key))
      }
    } finally {
      await iterator.close()
    }
  }

  /** One atomic, durable batch: removed blocks, new blocks, head, extra ops. */
  async applyCommit(did: Did, write: CommitWrite): Promise<void> {
    await this.db.batch(this.commitOps(did, write), { sync: true })
  }

  /**
   * The ops `applyCommit` writes, for a caller that writes several commits
   * in one batch of its own (the PDS's group commit, pds/commit-queue.ts).
   * Keep each commit's ops together and in order, commits in commit order.
   */
  commitOps(did: Did, write: CommitWrite): StoreBatchOp[] {
    const keys = new BlockKeys(this.#prefix(did))
    const ops: Array<BinaryOp | StoreBatchOp> = []
    for (const cid of write.removedCids) ops.push(delOp(keys.key(cid)))
    for (const { cid, bytes } of blocksOf(write.newBlocks)) ops.push(putOp(keys.key(cid), bytes))
    ops.push(putOp(withDid(this.#heads, did, false), encodeRepoHead(write.head)))
    if (write.extra !== undefined) ops.push(...write.extra)
    return ops as StoreBatchOp[]
  }

  /**
   * Bulk block load (repo import), in batches of at most
   * BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX blocks and about
   * BLOCK_STORE_WRITE_BATCH_BYTES_MAX bytes. Not atomic and not durable on its
   * own: finish with `applyCommit` (which sets the head, syncs the log, and
   * is the point the import becomes real). Returns the number of blocks written.
   * Chained batches (for thousands of ops they cost less than an array batch,
   * which clones every op); one batch is written while the next fills, and a
   * synchronous source is read without a wait per block.
   */
  async writeBlocks(did: Did, blocks: Iterable<CarBlock> | AsyncIterable<CarBlock>): Promise<number> {
    const keys = new BlockKeys(this.#prefix(did))
    let batch = this.db.batch()
    let bytes = 0
    let written = 0
    let inFlight: Promise<void> | null = null
    /** Puts a block; when the batch is full, starts writing it and returns the write before it, to wait for. */
    const put = (block: CarBlock): Promise<void> | null => {
      batch.put(keys.key(block.cid), block.bytes, BINARY)
      bytes += block.bytes.length
      if (batch.length < BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX && bytes < BLOCK_STORE_WRITE_BATCH_BYTES_MAX) return null
      const full = batch
      batch = this.db.batch()
      bytes = 0
      written += full.length
      const previous = inFlight
      inFlight = full.write({ sync: false })
      inFlight.catch(() => {}) // observed when waited for; not unhandled meanwhile
      return previous
    }
    try {
      if (Symbol.iterator in blocks) {
        for (const block of blocks) {
          const wait = put(block) // no wait per block, only per batch
          if (wait !== null) await wait
        }
      } else {
        for await (const block of blocks) await put(block)
      }
      written += batch.length
      if (batch.length > 0) await batch.write({ sync: false })
      await inFlight
      return written
    } finally {
      await batch.close() // no-op once written; releases a batch a failed source left open
      await (inFlight as Promise<void> | null)?.catch(noop)
    }
  }

  /** Deletes these blocks of one repo (not durable on its own; import clean-up). */
  async deleteBlocks(did: Did, cids: Iterable<CID>): Promise<void> {
    const keys = new BlockKeys(this.#prefix(did))
    let batch = this.db.batch()
    try {
      for (const cid of cids) {
        batch.del(keys.key(cid), BINARY)
        if (batch.length >= BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX) {
          await batch.write({ sync: false })
          batch = this.db.batch()
        }
      }
      if (batch.length > 0) await batch.write({ sync: false })
    } finally {
      await batch.close()
    }
  }

  /**
   * Removes the head (atomically with `extra`, durably), then every block in
   * one range delete. A crash in between leaves orphan blocks and no head;
   * calling again finishes the job (it is idempotent).
   */
  async deleteRepo(did: Did, options: { extra?: StoreBatchOp[] } = {}): Promise<void> {
    const ops: Array<BinaryOp | StoreBatchOp> = [delOp(withDid(this.#heads, did, false))]
    if (options.extra !== undefined) ops.push(...options.extra)
    await this.db.batch(ops as StoreBatchOp[], { sync: true })
    await this.clearBlocks(did)
  }

  /** Range-deletes every block of one key space, head untouched (not durable on its own). */
  async clearBlocks(did: Did): Promise<void> {
    await this.db.clear({ ...blockKeyRange(this.#prefix(did)), keyEncoding: 'view' })
  }

  /** Heads in DID order, after `after` (exclusive), at most `limit` (listRepos). */
  async listHeads(options: { after?: Did; limit: number }): Promise<Array<{ did: Did; head: RepoHead }>> {
    assert(Number.isInteger(options.limit) && options.limit > 0, 'listHeads limit must be a positive integer')
    assert(options.limit <= BLOCK_STORE_SCAN_ENTRIES_MAX, 'listHeads limit is over BLOCK_STORE_SCAN_ENTRIES_MAX')
    const all = blockKeyRange(this.#heads)
    const from = options.after === undefined ? { gte: all.gte } : { gt: withDid(this.#heads, options.after, false) }
    const entries = (await this.db.iterator({ ...from, lt: all.lt, limit: options.limit, ...BINARY }).all()) as Array<
      [Uint8Array, Uint8Array]
    >
    const skip = this.#heads.length
    return entries.map(([key, bytes]) => ({ did: textDecoder.decode(key.subarray(skip)) as Did, head: decodeRepoHead(bytes) }))
  }

  /** Root-db prefix of one repo's block keys: blocks prefix ‖ DID ‖ 0x00. */
  #prefix(did: Did): Uint8Array {
    return withDid(this.#blocks, did, true)
  }
}
