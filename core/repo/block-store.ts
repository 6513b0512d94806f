/**
 * Repo blocks and repo heads for many accounts in one `level` database.
 *
 * Two sublevels of the root db, binary keys and values (see store/keys.ts):
 * blocks under DID ‖ 0x00 ‖ CID, heads under DID. Consequences:
 * - a full export is one range scan (`iterateBlocks`, `nextv` pages), in CID
 *   order, from an implicit snapshot, so a concurrent commit cannot tear it;
 * - deleting an account is one head delete plus one range delete;
 * - MST reads are synchronous point reads (`getSync`) through `readerFor`.
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
import type { AbstractBatchOperation, AbstractSublevel } from 'abstract-level'
import type { Level } from 'level'
import { assert } from '../errors.ts'
import { BLOCK_STORE_SCAN_ENTRIES_MAX, BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { Did } from '../syntax/did.ts'
import type { BlockReader } from './block-reader.ts'
import { blocksOf } from './car/section.ts'
import type { BlockSource, CarBlock } from './car/section.ts'
import { blockKey, blockKeyPrefix, blockKeyRange, cidFromBlockKey, didKey } from './store/keys.ts'
import { decodeRepoHead, encodeRepoHead } from './store/repo-head.ts'
import type { RepoHead } from './store/repo-head.ts'

export type { RepoHead }
// Any `level` database; encodings are set per sublevel, so the root's do not matter.
export type RootDb = Level<any, any>
export type StoreBatchOp = AbstractBatchOperation<RootDb, unknown, unknown>
type BinarySublevel = AbstractSublevel<RootDb, string | Buffer | Uint8Array, Uint8Array, Uint8Array>

export type CommitWrite = {
  newBlocks: BlockSource
  removedCids: Iterable<CID>
  head: RepoHead
  /** Written in the same atomic batch (e.g. the firehose event). */
  extra?: StoreBatchOp[]
}

const BINARY = { keyEncoding: 'view', valueEncoding: 'view' } as const
const textDecoder = new TextDecoder()

export class LevelRepoStore {
  readonly db: RootDb
  readonly #blocks: BinarySublevel
  readonly #heads: BinarySublevel

  /**
   * Opens the store's sublevels (the synchronous reads need them fully open).
   * `name` namespaces the two sublevels, so several stores can share a db.
   */
  static async open(db: RootDb, options: { name?: string } = {}): Promise<LevelRepoStore> {
    const name = options.name ?? 'repo'
    const blocks = db.sublevel<Uint8Array, Uint8Array>([name, 'blocks'], BINARY)
    const heads = db.sublevel<Uint8Array, Uint8Array>([name, 'heads'], BINARY)
    await Promise.all([blocks.open(), heads.open()])
    return new LevelRepoStore(db, blocks, heads)
  }

  private constructor(db: RootDb, blocks: BinarySublevel, heads: BinarySublevel) {
    this.db = db
    this.#blocks = blocks
    this.#heads = heads
  }

  getHead(did: Did): RepoHead | null {
    const bytes = this.#heads.getSync(didKey(did))
    return bytes === undefined ? null : decodeRepoHead(bytes)
  }

  getBlockSync(did: Did, cid: CID): Uint8Array | undefined {
    return this.#blocks.getSync(blockKey(blockKeyPrefix(did), cid))
  }

  /** A synchronous reader over one repo's blocks, for the MST. */
  readerFor(did: Did): BlockReader {
    const prefix = blockKeyPrefix(did)
    const blocks = this.#blocks
    return { get: (cid: CID) => blocks.getSync(blockKey(prefix, cid)) }
  }

  /** Several blocks in one call (getBlocks); undefined where missing. */
  async getBlocks(did: Did, cids: readonly CID[]): Promise<(Uint8Array | undefined)[]> {
    const prefix = blockKeyPrefix(did)
    return this.#blocks.getMany(cids.map((cid) => blockKey(prefix, cid)))
  }

  /** Every block of one repo, in CID order, read in pages from one snapshot. */
  async *iterateBlocks(did: Did): AsyncGenerator<CarBlock, void, undefined> {
    const prefix = blockKeyPrefix(did)
    const iterator = this.#blocks.iterator(blockKeyRange(prefix))
    try {
      for (;;) {
        const entries = await iterator.nextv(BLOCK_STORE_SCAN_ENTRIES_MAX)
        if (entries.length === 0) return
        for (const [key, bytes] of entries) yield { cid: cidFromBlockKey(prefix, key), bytes }
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
    const prefix = blockKeyPrefix(did)
    const ops: StoreBatchOp[] = []
    for (const cid of write.removedCids) {
      ops.push({ type: 'del', sublevel: this.#blocks, key: blockKey(prefix, cid) })
    }
    for (const { cid, bytes } of blocksOf(write.newBlocks)) {
      ops.push({ type: 'put', sublevel: this.#blocks, key: blockKey(prefix, cid), value: bytes })
    }
    ops.push({ type: 'put', sublevel: this.#heads, key: didKey(did), value: encodeRepoHead(write.head) })
    if (write.extra !== undefined) ops.push(...write.extra)
    return ops
  }

  /**
   * Bulk block load (repo import), in batches of BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX.
   * Not atomic and not durable on its own: finish with `applyCommit` (which
   * sets the head, syncs the log, and is the point the import becomes real).
   * Returns the number of blocks written.
   */
  async writeBlocks(did: Did, blocks: Iterable<CarBlock> | AsyncIterable<CarBlock>): Promise<number> {
    const prefix = blockKeyPrefix(did)
    let ops: StoreBatchOp[] = []
    let written = 0
    for await (const { cid, bytes } of blocks) {
      ops.push({ type: 'put', sublevel: this.#blocks, key: blockKey(prefix, cid), value: bytes })
      if (ops.length >= BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX) {
        await this.db.batch(ops, { sync: false })
        written += ops.length
        ops = []
      }
    }
    if (ops.length > 0) await this.db.batch(ops, { sync: false })
    return written + ops.length
  }

  /**
   * Removes the head (atomically with `extra`, durably), then every block in
   * one range delete. A crash in between leaves orphan blocks and no head;
   * calling again finishes the job (it is idempotent).
   */
  async deleteRepo(did: Did, options: { extra?: StoreBatchOp[] } = {}): Promise<void> {
    const ops: StoreBatchOp[] = [{ type: 'del', sublevel: this.#heads, key: didKey(did) }]
    if (options.extra !== undefined) ops.push(...options.extra)
    await this.db.batch(ops, { sync: true })
    await this.#blocks.clear(blockKeyRange(blockKeyPrefix(did)))
  }

  /** Heads in DID order, after `after` (exclusive), at most `limit` (listRepos). */
  async listHeads(options: { after?: Did; limit: number }): Promise<Array<{ did: Did; head: RepoHead }>> {
    assert(Number.isInteger(options.limit) && options.limit > 0, 'listHeads limit must be a positive integer')
    assert(options.limit <= BLOCK_STORE_SCAN_ENTRIES_MAX, 'listHeads limit is over BLOCK_STORE_SCAN_ENTRIES_MAX')
    const range = options.after === undefined ? {} : { gt: didKey(options.after) }
    const entries = await this.#heads.iterator({ ...range, limit: options.limit }).all()
    return entries.map(([key, bytes]) => ({ did: textDecoder.decode(key) as Did, head: decodeRepoHead(bytes) }))
  }
}
