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
 * a Map keeps insertion order and a hit re-inserts).
 */
import type { CID } from '../../core/data/cid.ts'
import { PDS_BLOCK_CACHE_BYTES_MAX } from '../../core/limits.ts'
import { cidKey } from '../../core/repo/block-reader.ts'
import type { Did } from '../../core/syntax/did.ts'

export class RepoBlockCache {
  readonly #entries = new Map<string, Uint8Array>()
  readonly #generations = new Map<Did, number>()
  readonly #bytesMax: number
  #bytes = 0

  constructor(bytesMax = PDS_BLOCK_CACHE_BYTES_MAX) {
    this.#bytesMax = bytesMax
  }

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
    if (bytes.length > this.#bytesMax) return
    const full = scope + key
    const old = this.#entries.get(full)
    if (old !== undefined) {
      this.#bytes -= old.length
      this.#entries.delete(full)
    }
    this.#entries.set(full, bytes)
    this.#bytes += bytes.length
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.#bytesMax) break
      this.#entries.delete(oldest)
      this.#bytes -= value.length
    }
  }

  delete(scope: string, key: string): void {
    const full = scope + key
    const old = this.#entries.get(full)
    if (old === undefined) return
    this.#entries.delete(full)
    this.#bytes -= old.length
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
