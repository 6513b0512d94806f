/**
 * The in-memory check of a small repo CAR being imported (import.ts): the
 * same checks as `verifyRepoCarBytes` (every block re-hashed by the CAR
 * parser, at most `blocksMax` blocks: 'TooManyBlocks', one root, then
 * `verifyRepoBlocks`), over a block index that remembers which blocks the
 * check read. The check reads exactly the repo: the commit, every MST node,
 * every leaf's record. So once it passes, the blocks read are the ones to
 * store, with no second walk of the tree, and what the CAR carried besides
 * (junk) is never written.
 *
 * The index is keyed by a number cut from the CID's digest (bytes 4..10 of a
 * 36-byte CID) rather than a string per lookup: the check does ~4 lookups
 * per block, and building a key string for each cost more than the lookup.
 * Equal numbers are compared byte for byte (chained), so a collision, even a
 * crafted one, only costs a comparison. The CAR parser only passes blessed
 * 36-byte CIDs, so other CIDs are simply absent.
 */
import { AtfedError, assert } from '../errors.ts'
import { CAR_BLOCKS_MAX } from '../limits.ts'
import { CID_BINARY_BYTES } from '../data/cid.ts'
import type { CID } from '../data/cid.ts'
import type { BlockReader } from './block-reader.ts'
import { iterateCarBytes } from './car/decode.ts'
import { singleRoot } from './car/header.ts'
import type { CarBlock, ReadCarOptions } from './car/section.ts'
import type { ImportedRepo } from './stage-car.ts'
import { verifyRepoBlocks } from './verify-repo.ts'
import type { RepoCheckOptions } from './verify-repo.ts'

type Slot = { block: CarBlock; read: boolean; next: Slot | null }

export class ReadTrackingBlocks implements BlockReader {
  readonly #slots = new Map<number, Slot>()

  /** Adds a block (first copy wins; the caller has checked it hashes to its 36-byte CID). */
  add(block: CarBlock): void {
    const bytes = block.cid.bytes
    assert(bytes.length === CID_BINARY_BYTES, 'CAR blocks have 36-byte CIDs')
    const key = digestNumber(bytes)
    const first = this.#slots.get(key)
    if (first !== undefined && find(first, bytes) !== undefined) return
    this.#slots.set(key, { block, read: false, next: first ?? null })
  }

  /** The block's bytes, and it counts as read. */
  get(cid: CID): Uint8Array | undefined {
    const slot = this.#slot(cid)
    if (slot === undefined) return undefined
    slot.read = true
    return slot.block.bytes
  }

  /** True when `get` has returned this block (after a passed check: it is part of the repo). */
  wasRead(cid: CID): boolean {
    return this.#slot(cid)?.read === true
  }

  /** Every block `get` has returned, each once. */
  *readBlocks(): Generator<CarBlock, void, undefined> {
    for (const head of this.#slots.values()) {
      for (let slot: Slot | null = head; slot !== null; slot = slot.next) if (slot.read) yield slot.block
    }
  }

  #slot(cid: CID): Slot | undefined {
    const bytes = cid.bytes
    if (bytes.length !== CID_BINARY_BYTES) return undefined
    const first = this.#slots.get(digestNumber(bytes))
    return first === undefined ? undefined : find(first, bytes)
  }
}

export type CheckedInMemory = ImportedRepo & { index: ReadTrackingBlocks }

/** Checks a whole repo CAR held in memory; `index.readBlocks()` is then the repo. */
export function checkCarInMemory(
  car: Uint8Array,
  options: RepoCheckOptions & ReadCarOptions & { blocksMax?: number },
): CheckedInMemory {
  const blocksMax = options.blocksMax ?? CAR_BLOCKS_MAX
  const { roots, sections } = iterateCarBytes(car, options)
  const commitCid = singleRoot(roots)
  const index = new ReadTrackingBlocks()
  let count = 0
  for (const block of sections) {
    if (++count > blocksMax) throw new AtfedError('TooManyBlocks', `CAR has more than ${blocksMax} blocks`)
    index.add(block)
  }
  const verified = verifyRepoBlocks(index, commitCid, options)
  return { ...verified, blocks: count, bytes: car.length, index }
}

/** Six digest bytes as an integer (exact in a double). */
function digestNumber(cid: Uint8Array): number {
  return (cid[4]! * 0x10000 + cid[5]! * 0x100 + cid[6]!) * 0x1000000 + (cid[7]! * 0x10000 + cid[8]! * 0x100 + cid[9]!)
}

function find(first: Slot, bytes: Uint8Array): Slot | undefined {
  for (let slot: Slot | null = first; slot !== null; slot = slot.next) {
    if (sameBytes(slot.block.cid.bytes, bytes)) return slot
  }
  return undefined
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false
  return true
}
