/**
 * Which blocks each commit wrote, so getRepo `since` can answer with only
 * the blocks written after a rev (the reference keeps a `repoRev` per block
 * and selects `repoRev > since`).
 *
 * Why an index: replaced MST nodes and the previous commit are deleted by
 * the commit that replaces them, so the tree AT `since` is gone and cannot
 * be diffed against the current one. Instead the write hook records one
 * entry per commit, once the commit is durable:
 *   database DATA/commit-index, key `DID 0x00 rev`,
 *   value DAG-CBOR `{since: previous rev | null, cids: 36-byte CIDs concatenated}`
 * (the commit's `newBlocks`: the commit block, new MST nodes, written
 * records).
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
 * A database of its own, written after the commit and without fsync: a
 * missing entry only breaks a chain, so losing the last entries to a crash
 * (or dropping them when PDS_COMMIT_INDEX_PENDING_MAX are already waiting to
 * be written, a slow disk's backlog included)
 * costs a full-repo answer, never a wrong one, and nothing has to be undone
 * with the repo batch. Kept inside the repo database (before), its per-commit
 * CID lists were half of what that database's compactions rewrote: in an
 * 8-minute soak 5.9x of what it flushed with them, 3.3x without. Entries
 * recorded in one turn of the event loop go in one batch; reads wait for the
 * batch in flight, so a write's entry is visible once its response is sent.
 * A data directory from before keeps its old entries in the repo database
 * (`['repo', 'commit-index']`); they are cleared in the background on open.
 *
 * Pruning: entries older than PDS_COMMIT_INDEX_RETENTION_MS (by their rev's
 * timestamp) are range-deleted for the committing DID once every
 * PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS commits (process-wide counter).
 */
import { join } from 'node:path'
import type { AbstractBatchPutOperation } from 'abstract-level'
import { Level } from 'level'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import { CID_BINARY_BYTES, decodeCidBytes, type CID } from '../../core/data/cid.ts'
import { LEVEL_STORE_OPTIONS } from '../../core/level-options.ts'
import {
  BLOCK_STORE_SCAN_ENTRIES_MAX,
  PDS_COMMIT_INDEX_PENDING_MAX,
  PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS,
  PDS_COMMIT_INDEX_RETENTION_MS,
  PDS_GET_REPO_SINCE_BLOCKS_MAX,
} from '../../core/limits.ts'
import type { RootDb } from '../../core/repo/block-store.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import { compareTids, tidFromTimestampUs, type Tid } from '../../core/syntax/tid.ts'
import type { PdsContext } from '../context.ts'
import type { WriteHook } from '../writes.ts'

const COMMIT_INDEX_DB_DIR = 'commit-index'
/** Where a data directory from before the index had its own database kept it. */
const LEGACY_SUBLEVEL = ['repo', 'commit-index']

type Entry = { rev: Tid; since: Tid | null; cids: CID[] }
type IndexDb = Level<string, Uint8Array>
type PutOp = AbstractBatchPutOperation<IndexDb, string, Uint8Array>

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
  readonly #db: IndexDb
  readonly #legacyCleared: Promise<void>
  #pending: PutOp[] = []
  /** Entries recorded and not yet written: queued plus in batches waiting for the database. */
  #unwritten = 0
  #writing: Promise<void> = Promise.resolve()
  #scheduled = false
  #closed = false
  #commitsSincePrune = 0
  #dropped = 0

  /** Opens `<dataDir>/commit-index`; old entries left in `repoDb` are cleared in the background. */
  static async open(dataDir: string, repoDb?: RootDb): Promise<CommitIndex> {
    const db: IndexDb = new Level<string, Uint8Array>(join(dataDir, COMMIT_INDEX_DB_DIR), { keyEncoding: 'utf8', valueEncoding: 'view', ...LEVEL_STORE_OPTIONS })
    await db.open()
    return new CommitIndex(db, repoDb === undefined ? Promise.resolve() : clearLegacyEntries(repoDb))
  }

  private constructor(db: IndexDb, legacyCleared: Promise<void>) {
    this.#db = db
    this.#legacyCleared = legacyCleared
  }

  /** Entries dropped because PDS_COMMIT_INDEX_PENDING_MAX were waiting. */
  get dropped(): number {
    return this.#dropped
  }

  /** Queues the entry of a durable commit; written with the others of this event-loop turn. */
  record(did: Did, commit: Pick<CommitResult, 'rev' | 'since' | 'newBlocks'>): void {
    if (this.#closed) return
    if (this.#unwritten >= PDS_COMMIT_INDEX_PENDING_MAX) {
      this.#dropped++
      return
    }
    const cids = new Uint8Array(commit.newBlocks.size * CID_BINARY_BYTES)
    let at = 0
    for (const cid of commit.newBlocks.cids()) {
      cids.set(cid.bytes, at)
      at += CID_BINARY_BYTES
    }
    this.#pending.push({ type: 'put', key: entryKey(did, commit.rev), value: encodeCbor({ since: commit.since, cids }) })
    this.#unwritten++
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void this.#write()
    })
  }

  /** Resolves once every entry recorded so far is written (or given up on). */
  async flushed(): Promise<void> {
    await (this.#pending.length > 0 ? this.#write() : this.#writing)
  }

  #write(): Promise<void> {
    const ops = this.#pending
    this.#pending = []
    this.#writing = this.#writing.then(async () => {
      try {
        if (ops.length > 0 && this.#db.status === 'open') await this.#db.batch(ops, { sync: false })
      } catch (err) {
        console.error(`pds: writing ${ops.length} commit-index entries failed (getRepo since answers the full repo for them):`, err)
      } finally {
        this.#unwritten -= ops.length
      }
    })
    return this.#writing
  }

  /**
   * CIDs of the blocks written after `since` up to `head` (deduplicated, in
   * commit order), or null when the index cannot say (see the module header).
   */
  async blocksSince(did: Did, since: Tid, headRev: Tid): Promise<CID[] | null> {
    if (compareTids(since, headRev) >= 0) return []
    await this.flushed()
    const iterator = this.#db.iterator({ gt: entryKey(did, since), lte: entryKey(did, headRev) })
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
    await this.#db.clear({ gte: `${did}${SEP}`, lt: entryKey(did, tidFromTimestampUs(cutoffUs, 0)) })
  }

  /** True once every PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS calls. */
  pruneDue(): boolean {
    this.#commitsSincePrune = (this.#commitsSincePrune + 1) % PDS_COMMIT_INDEX_PRUNE_EVERY_COMMITS
    return this.#commitsSincePrune === 0
  }

  /** Every entry of `did` (account deletion), those still queued included. */
  async clear(did: Did): Promise<void> {
    await this.flushed()
    await this.#db.clear({ gte: `${did}${SEP}`, lt: `${did}\u0001` })
  }

  /** Resolves once the entries a data directory from before left in the repo database are gone. */
  legacyCleared(): Promise<void> {
    return this.#legacyCleared
  }

  /** Writes what is queued, waits for the legacy clear, closes the database; later entries are ignored. */
  async close(): Promise<void> {
    await this.flushed()
    this.#closed = true
    await this.#legacyCleared
    await this.#db.close()
  }
}

async function clearLegacyEntries(repoDb: RootDb): Promise<void> {
  const legacy = repoDb.sublevel<string, Uint8Array>(LEGACY_SUBLEVEL, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    const any = await legacy.keys({ limit: 1 }).all()
    if (any.length === 0) return
    await legacy.clear()
    console.log('pds: cleared the commit index entries kept in the repo database before it had its own (getRepo since answers the full repo for revs before now)')
  } catch (err) {
    if (repoDb.status === 'open') console.error('pds: clearing the old commit index entries failed (they stay unused):', err)
  }
}

/** The write hook that fills the index (register once per context; `drain` waits for prunes in progress). */
export function commitIndexHook(ctx: PdsContext): WriteHook & { drain(): Promise<void> } {
  const index = ctx.commitIndex
  const pruning = new Set<Promise<void>>()
  return {
    afterCommit: (did, commit) => {
      index.record(did, commit)
      if (!index.pruneDue()) return
      const run = index
        .prune(did)
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
