/**
 * Which blocks each commit wrote, so getRepo `since` can answer with only
 * the blocks written after a rev (the reference keeps a `repoRev` per block
 * and selects `repoRev > since`).
 *
 * Why an index: replaced MST nodes and the previous commit are deleted by
 * the commit that replaces them, so the tree AT `since` is gone and cannot
 * be diffed against the current one. Instead a write hook records, in the
 * commit's own batch, one entry per commit:
 *   sublevel ['repo', 'commit-index'], key `DID 0x00 rev`,
 *   value DAG-CBOR `{since: previous rev | null, cids: 36-byte CIDs concatenated}`
 * (the commit's `newBlocks`: the commit block, new MST nodes, written
 * records). One small put per commit; nothing is read on the write path.
 *
 * Answering `since = S` (`blocksSince`): the entries with S < rev ≤ head rev,
 * in rev order, must form an unbroken chain — the first entry's `since` is
 * ≤ S (or null), each next entry's `since` is the previous entry's rev, the
 * last is the head's rev. Then the current repo's blocks not present at S
 * are exactly the still-stored blocks those entries list (a block removed
 * later is gone from the store and skipped; one re-added later is listed by
 * the commit that re-added it). Commits made outside the write path (the
 * signup's first commit, an import, re-signing at activation) have no entry
 * and break the chain, as does pruning; a broken chain, or a diff of more
 * than PDS_GET_REPO_SINCE_BLOCKS_MAX blocks, answers null and the caller
 * sends the full repo (a superset: consumers merge blocks by CID).
 *
 * Pruning: entries older than PDS_COMMIT_INDEX_RETENTION_MS (by their rev's
 * timestamp) are range-deleted for the committing DID once every
 * PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS commits (process-wide counter).
 */
import type { AbstractSublevel } from 'abstract-level'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import { CID_BINARY_BYTES, decodeCidBytes, type CID } from '../../core/data/cid.ts'
import {
  BLOCK_STORE_SCAN_ENTRIES_MAX,
  PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS,
  PDS_COMMIT_INDEX_RETENTION_MS,
  PDS_GET_REPO_SINCE_BLOCKS_MAX,
} from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import { compareTids, tidFromTimestampUs, type Tid } from '../../core/syntax/tid.ts'
import type { PdsContext } from '../context.ts'
import type { WriteHook } from '../writes.ts'

type Entry = { rev: Tid; since: Tid | null; cids: CID[] }
type BinarySublevel = AbstractSublevel<RootDb, unknown, string, Uint8Array>

const SEP = '\u0000'

function entryKey(did: Did, rev: string): string {
  return `${did}${SEP}${rev}`
}

function decodeEntry(key: string, bytes: Uint8Array): Entry {
  const value = decodeCbor(bytes) as { since: Tid | null; cids: Uint8Array }
  const cids: CID[] = []
  for (let at = 0; at < value.cids.length; at += CID_BINARY_BYTES) cids.push(decodeCidBytes(value.cids.subarray(at, at + CID_BINARY_BYTES)))
  return { rev: key.slice(key.indexOf(SEP) + 1) as Tid, since: value.since, cids }
}

export class CommitIndex {
  readonly #entries: BinarySublevel
  #commitsSincePrune = 0

  static async open(db: RootDb): Promise<CommitIndex> {
    const entries = db.sublevel<string, Uint8Array>(['repo', 'commit-index'], { keyEncoding: 'utf8', valueEncoding: 'view' })
    await entries.open()
    return new CommitIndex(entries as BinarySublevel)
  }

  private constructor(entries: BinarySublevel) {
    this.#entries = entries
  }

  /** The entry for a commit, for the commit's own batch. */
  batchOps(did: Did, commit: Pick<CommitResult, 'rev' | 'since' | 'newBlocks'>): StoreBatchOp[] {
    const cids = new Uint8Array(commit.newBlocks.size * CID_BINARY_BYTES)
    let at = 0
    for (const cid of commit.newBlocks.cids()) {
      cids.set(cid.bytes, at)
      at += CID_BINARY_BYTES
    }
    const value = encodeCbor({ since: commit.since, cids })
    return [{ type: 'put', sublevel: this.#entries, key: entryKey(did, commit.rev), value } as StoreBatchOp]
  }

  /**
   * CIDs of the blocks written after `since` up to `head` (deduplicated, in
   * commit order), or null when the index cannot say (see the module header).
   */
  async blocksSince(did: Did, since: Tid, headRev: Tid): Promise<CID[] | null> {
    if (compareTids(since, headRev) >= 0) return []
    const iterator = this.#entries.iterator({ gt: entryKey(did, since), lte: entryKey(did, headRev) })
    const seen = new Set<string>()
    const out: CID[] = []
    let previous: Tid | null = null
    try {
      for (;;) {
        const page = await iterator.nextv(BLOCK_STORE_SCAN_ENTRIES_MAX)
        if (page.length === 0) break
        for (const [key, bytes] of page) {
          const entry = decodeEntry(key, bytes)
          const linked = previous === null ? entry.since === null || compareTids(entry.since, since) <= 0 : entry.since === previous
          if (!linked) return null
          previous = entry.rev
          for (const cid of entry.cids) {
            const id = cid.toString()
            if (seen.has(id)) continue
            seen.add(id)
            out.push(cid)
          }
          if (out.length > PDS_GET_REPO_SINCE_BLOCKS_MAX) return null
        }
      }
    } finally {
      await iterator.close()
    }
    return previous === headRev ? out : null
  }

  /** Drops `did`'s entries older than the retention window. */
  async prune(did: Did, nowMs: number = Date.now()): Promise<void> {
    const cutoffUs = Math.max(0, (nowMs - PDS_COMMIT_INDEX_RETENTION_MS) * 1000)
    await this.#entries.clear({ gte: `${did}${SEP}`, lt: entryKey(did, tidFromTimestampUs(cutoffUs, 0)) })
  }

  /** True once every PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS calls. */
  pruneDue(): boolean {
    this.#commitsSincePrune = (this.#commitsSincePrune + 1) % PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS
    return this.#commitsSincePrune === 0
  }

  /** Every entry of `did` (account deletion). */
  async clear(did: Did): Promise<void> {
    await this.#entries.clear({ gte: `${did}${SEP}`, lt: `${did}\u0001` })
  }
}

const indexes = new WeakMap<PdsContext, Promise<CommitIndex>>()

/** The context's commit index, opened on first use. */
export function commitIndexFor(ctx: PdsContext): Promise<CommitIndex> {
  let index = indexes.get(ctx)
  if (index === undefined) {
    index = CommitIndex.open(ctx.db)
    indexes.set(ctx, index)
  }
  return index
}

/** The write hook that fills the index (register once per context; `drain` waits for prunes in progress). */
export function commitIndexHook(ctx: PdsContext): WriteHook & { drain(): Promise<void> } {
  const pruning = new Set<Promise<void>>()
  return {
    // batchOps reads nothing from the store: safe on top of the DID's in-flight writes.
    pipelineSafe: () => true,
    batchOps: async (did, commit) => (await commitIndexFor(ctx)).batchOps(did, commit),
    afterCommit: (did) => {
      const run = commitIndexFor(ctx)
        .then((index) => (index.pruneDue() ? index.prune(did) : undefined))
        .catch((err: unknown) => {
          if (ctx.db.status === 'open') console.error(`pds: pruning the commit index of ${did} failed:`, err)
        })
        .finally(() => pruning.delete(run))
      pruning.add(run)
    },
    drain: async () => {
      await Promise.all([...pruning])
    },
  }
}
