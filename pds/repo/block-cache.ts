/**
 * Durable repo blocks kept in memory, so a DID's next write reads its MST
 * path from here instead of LevelDB: every write loads the head's path twice
 * (resolving the writes, then building the commit), and each miss is a
 * `getSync` plus a key build. Fed by the blocks a durable commit stored and
 * by the blocks read from the store; a durable commit's removed blocks are
 * dropped.
 *
 * Why serving from here is right: a block's bytes are fixed by its CID, so a
 * hit is never stale content. What could differ is presence — a block the
 * store no longer has — and callers only read blocks reachable from the
 * head they build on. Code that changes a repo outside the write path
 * (import, deletion, re-signing: `RepoWriter.withRepoLock`) calls `forget`,
 * which moves the DID to a new generation: its old entries are never hit
 * again and age out.
 *
 * Bounded by PDS_BLOCK_CACHE_BYTES_MAX (least recently used dropped first;
 * a Map keeps insertion order and a hit re-inserts). An entry costs its
 * bytes plus ENTRY_OVERHEAD_BYTES: most blocks are small MST nodes and
 * records (~130 bytes), and counting the bytes alone let a "16 MB" cache
 * hold ~67 MB (its key string, the Uint8Array and its ArrayBuffer, the Map
 * slot: ~315 bytes each beside the block, measured with
 * process.memoryUsage(); 400 leaves room for longer keys).
 */
import type { CID } from '../../core/data/cid.ts'
import { PDS_BLOCK_CACHE_BYTES_MAX } from '../../core/limits.ts'
import { cidKey } from '../../core/repo/block-reader.ts'
import type { Did } from '../../core/syntax/did.ts'

/** What one cached entry costs beside its bytes (see the header). */
export const ENTRY_OVERHEAD_BYTES = 400

export class RepoBlockCache {
  readonly #entries = new Map<string, Uint8Array>()
  readonly #generations = new Map<Did, number>()
  readonly #bytesMax: number
  readonly #overhead: number
  #bytes = 0

  constructor(bytesMax = PDS_BLOCK_CACHE_BYTES_MAX, entryOverheadBytes = ENTRY_OVERHEAD_BYTES) {
    this.#bytesMax = bytesMax
    this.#overhead = entryOverheadBytes
  }

  /** What the entries cost by this cache's count: their bytes plus the per-entry overhead. */
  get bytes(): number {
    return this.#bytes
  }

  /** The key prefix for `did`'s blocks now (pass it to get/set). */
  scope(did: Did): string {
    return `${did}\u0000${this.#generations.get(did) ?? 0}\u0000`
  }

  get(scope: string, key: string): Uint8Array | undefined {
    const full = scope + key
    const bytes = this.#entries.get(full)
    if (bytes === undefined) return undefined
    this.#entries.delete(full)
    this.#entries.set(full, bytes)
    return bytes
  }

  set(scope: string, key: string, bytes: Uint8Array): void {
    if (this.#cost(bytes) > this.#bytesMax) return
    const full = scope + key
    const old = this.#entries.get(full)
    if (old !== undefined) {
      this.#bytes -= this.#cost(old)
      this.#entries.delete(full)
    }
    this.#entries.set(full, bytes)
    this.#bytes += this.#cost(bytes)
    if (this.#bytes <= this.#bytesMax) return
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.#bytesMax) break
      this.#entries.delete(oldest)
      this.#bytes -= this.#cost(value)
    }
  }

  delete(scope: string, key: string): void {
    const full = scope + key
    const old = this.#entries.get(full)
    if (old === undefined) return
    this.#entries.delete(full)
    this.#bytes -= this.#cost(old)
  }

  #cost(bytes: Uint8Array): number {
    return bytes.length + this.#overhead
  }

  /** A durable commit of `did`: its new blocks in, its removed blocks out. */
  commit(did: Did, change: { newBlocks: Iterable<[CID, Uint8Array]>; removedCids: Iterable<CID> }): void {
    const scope = this.scope(did)
    for (const cid of change.removedCids) this.delete(scope, cidKey(cid))
    for (const [cid, bytes] of change.newBlocks) this.set(scope, cidKey(cid), bytes)
  }

  /** `did`'s repo changed outside the write path: none of its cached blocks are used again. */
  forget(did: Did): void {
    this.#generations.set(did, (this.#generations.get(did) ?? 0) + 1)
  }
}
