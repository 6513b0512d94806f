/**
 * Test helpers for repo writes: a repo held in a MemoryBlockMap that applies
 * `applyWrites` results the way the block store does (removed blocks, then
 * new blocks, then the head), random write batches, and an @atproto/repo
 * cross-check that undoes a `#commit`'s ops with the reference MST loaded
 * from the event's blocks only.
 */
import { MemoryBlockstore, MST as RefMst, readCarWithRoot } from '@atproto/repo'
import type { CID } from '../../core/data/cid.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { isRecordKey, parseRecordKey } from '../../core/syntax/record-key.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { RepoOp } from '../../core/repo/operation.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import { applyWrites, createInitialCommit } from '../../core/repo/writes.ts'
import type { CommitResult, RepoState } from '../../core/repo/writes.ts'
import type { Rng } from './prng.ts'
import { randomKey } from './mst-data.ts'

export const TEST_DID = parseDid('did:plc:ewvi7nxzyoun6zhxrhs64oiz')

export class MemoryRepo {
  readonly blocks = new MemoryBlockMap()
  head: RepoState
  readonly records = new Map<string, LexMap>()

  constructor(
    readonly did: Did,
    public keypair: Keypair,
    readonly clock = new TidClock(),
  ) {
    this.head = this.store(createInitialCommit(did, keypair, { clock })).head
  }

  apply(writes: RepoWrite[]): CommitResult {
    const result = applyWrites(this.head, writes, {
      keypair: this.keypair,
      did: this.did,
      reader: this.blocks,
      clock: this.clock,
    })
    for (const write of writes) {
      const path = `${write.collection}/${write.rkey}`
      if (write.action === 'delete') this.records.delete(path)
      else this.records.set(path, write.record)
    }
    return this.store(result)
  }

  store(result: CommitResult): CommitResult {
    for (const cid of result.removedCids) this.blocks.delete(cid)
    this.blocks.addAll(result.newBlocks)
    this.head = result.head
    return result
  }
}

export function record(collection: string, rng: Rng, extra: LexMap = {}): LexMap {
  return { $type: collection, text: `note ${rng.int(1_000_000_000)}`, createdAt: '2024-05-01T12:00:00.000Z', ...extra }
}

export function writeFor(action: 'create' | 'update' | 'delete', path: string, value?: LexMap): RepoWrite {
  const slash = path.indexOf('/')
  const collection = parseNsid(path.slice(0, slash))
  const rkey = parseRecordKey(path.slice(slash + 1))
  if (action === 'delete') return { action, collection, rkey }
  return { action, collection, rkey, record: value ?? { $type: collection } }
}

/** `count` random writes on distinct paths against the current record set. */
export function randomWrites(rng: Rng, paths: ReadonlySet<string>, count: number): RepoWrite[] {
  const existing = [...paths]
  const used = new Set<string>()
  const writes: RepoWrite[] = []
  while (writes.length < count) {
    const roll = rng.next()
    if (existing.length === 0 || roll < 0.5) {
      const path = randomKey(rng)
      if (paths.has(path) || used.has(path) || !isRecordKey(path.slice(path.indexOf('/') + 1))) continue
      used.add(path)
      writes.push(writeFor('create', path, record(path.slice(0, path.indexOf('/')), rng)))
      continue
    }
    const path = rng.pick(existing)
    if (used.has(path)) {
      if (used.size >= existing.length) break
      continue
    }
    used.add(path)
    const collection = path.slice(0, path.indexOf('/'))
    writes.push(roll < 0.75 ? writeFor('update', path, record(collection, rng)) : writeFor('delete', path))
  }
  return writes
}

type RefCid = Parameters<RefMst['add']>[1]

/**
 * Undoes `ops` with the reference MST, loaded from the event CAR's blocks
 * only (the reference reader re-hashes them); returns the resulting root.
 */
export async function refInvert(eventCar: Uint8Array, data: CID, ops: readonly RepoOp[]): Promise<string> {
  const car = await readCarWithRoot(eventCar)
  const storage = new MemoryBlockstore(car.blocks)
  let tree = RefMst.load(storage, data as unknown as RefCid)
  for (const op of ops) {
    if (op.action === 'create') tree = await tree.delete(op.path)
    else if (op.action === 'update') tree = await tree.update(op.path, op.prev as unknown as RefCid)
    else tree = await tree.add(op.path, op.prev as unknown as RefCid)
  }
  return (await tree.getPointer()).toString()
}
