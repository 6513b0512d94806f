/**
 * Repo state that is prepared but not yet durable: with group commit
 * (pds/commit-queue.ts) a DID's next write is prepared while its previous one
 * is still waiting for its batch, so it must read the head, blocks and
 * record counts that previous write PRODUCED, not the stored ones.
 *
 * Per DID with commits in flight: the newest pending head, an overlay of
 * blocks (bytes put, or null for removed, applied in commit order exactly as
 * the batches will apply them), the pending record-block counts, and the
 * ticket of the newest commit. Reads go overlay first, then the durable
 * block cache (block-cache.ts: fed by durable commits and store reads), then
 * the store.
 *
 * Life of an entry: `record` after each enqueue; dropped when the newest
 * commit becomes durable (the store now holds everything) or when a commit
 * of the DID fails (later ones built on it fail too — commit-queue `after` —
 * so the next write starts again from the stored state).
 */
import type { CID } from '../../core/data/cid.ts'
import { cidKey, type BlockReader } from '../../core/repo/block-reader.ts'
import type { LevelRepoStore, RepoHead } from '../../core/repo/block-store.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { CommitTicket } from '../commit-queue.ts'
import { RepoBlockCache } from './block-cache.ts'

export type InFlightChange = {
  result: CommitResult
  /** Everything the commit removes: its MST nodes, old commit, unreferenced records. */
  removedCids: readonly CID[]
  /** Record-block counts after the commit (RecordRefs.plan `counts`). */
  counts: ReadonlyMap<string, number>
}

/** A pending value and the commit that set it (a durable commit drops only its own slots). */
type Slot<T> = { value: T; by: CommitTicket }

type Entry = {
  head: RepoHead
  /** Block bytes put, or null for removed. */
  blocks: Map<string, Slot<Uint8Array | null>>
  counts: Map<string, Slot<number>>
  last: CommitTicket
}

export class InFlightRepos {
  readonly #repos: LevelRepoStore
  readonly #byDid = new Map<Did, Entry>()
  readonly #cache: RepoBlockCache

  constructor(repos: LevelRepoStore, options: { blockCacheBytesMax?: number } = {}) {
    this.#repos = repos
    this.#cache = new RepoBlockCache(options.blockCacheBytesMax)
  }

  /** The newest head: pending if a commit is in flight, else the stored one. */
  head(did: Did): RepoHead | null {
    return this.#byDid.get(did)?.head ?? this.#repos.getHead(did)
  }

  /** Blocks as the newest pending commit leaves them (then the block cache, then the store). */
  reader(did: Did): BlockReader {
    const stored = this.#repos.readerFor(did)
    const blocks = this.#byDid.get(did)?.blocks
    const cache = this.#cache
    const scope = cache.scope(did)
    return {
      get: (cid) => {
        const key = cidKey(cid)
        const slot = blocks?.get(key)
        if (slot !== undefined) return slot.value ?? undefined
        const cached = cache.get(scope, key)
        if (cached !== undefined) return cached
        const bytes = stored.get(cid)
        if (bytes !== undefined) cache.set(scope, key, bytes)
        return bytes
      },
    }
  }

  /** `did`'s repo was changed outside the write path: drop what the block cache holds for it. */
  forget(did: Did): void {
    this.#cache.forget(did)
  }

  /** Pending record counts (`cid.toString()` → count) for RecordRefs.plan. */
  counts(did: Did): ReadonlyMap<string, number> | undefined {
    const entry = this.#byDid.get(did)
    if (entry === undefined) return undefined
    return new Map([...entry.counts].map(([cid, slot]) => [cid, slot.value]))
  }

  /** The newest commit of `did` not yet durable, if any. */
  pending(did: Did): CommitTicket | null {
    return this.#byDid.get(did)?.last ?? null
  }

  /** DIDs with commits in flight (tests, stats). */
  get size(): number {
    return this.#byDid.size
  }

  /** After enqueueing `ticket`: its result is now the state later writes build on. */
  record(did: Did, ticket: CommitTicket, change: InFlightChange): void {
    if (ticket.state !== 'queued') return
    // Under the repo lock an entry is only ever created here; one may have
    // gone since the write read it (its commits became durable): start anew.
    const entry: Entry = this.#byDid.get(did) ?? { head: change.result.head, blocks: new Map(), counts: new Map(), last: ticket }
    const blockKeys: string[] = []
    for (const cid of change.removedCids) blockKeys.push(setSlot(entry.blocks, cidKey(cid), null, ticket))
    for (const [cid, bytes] of change.result.newBlocks) blockKeys.push(setSlot(entry.blocks, cidKey(cid), bytes, ticket))
    const countKeys = [...change.counts].map(([cid, count]) => setSlot(entry.counts, cid, count, ticket))
    entry.head = change.result.head
    entry.last = ticket
    this.#byDid.set(did, entry)
    const settle = () => {
      if (ticket.state === 'durable') this.#cache.commit(did, { newBlocks: change.result.newBlocks, removedCids: change.removedCids })
      if (this.#byDid.get(did) !== entry) return // a newer entry (after a failure) is not ours to touch
      // Failed: every newer commit in this entry fails too (commit-queue `after`): drop it all.
      if (entry.last === ticket || ticket.state === 'failed') return void this.#byDid.delete(did)
      // Durable with newer commits on top: the store now has this one's slots.
      for (const key of blockKeys) if (entry.blocks.get(key)?.by === ticket) entry.blocks.delete(key)
      for (const key of countKeys) if (entry.counts.get(key)?.by === ticket) entry.counts.delete(key)
    }
    ticket.durable.then(settle, settle)
  }
}

function setSlot<T>(map: Map<string, Slot<T>>, key: string, value: T, by: CommitTicket): string {
  map.set(key, { value, by })
  return key
}
