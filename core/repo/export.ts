/**
 * Streaming export of a stored repo as a CAR (getRepo, account migration):
 * the commit block first, then every other block of the repo in one range
 * scan (CID order), written in chunks by car/writer.ts. Memory is one scan
 * page plus one output chunk.
 *
 * Consistency: the range scan reads from a snapshot taken when it starts. The
 * head is read before and after that moment; if a commit landed in between
 * (the head changed, or its commit block is already gone), the scan is
 * restarted, at most REPO_EXPORT_SNAPSHOT_TRIES_MAX times ('RepoBusy'). Heads
 * only move forward, so an unchanged head means the snapshot holds exactly
 * that commit's repo. No head: 'RepoNotFound'.
 */
import { AtfedError } from '../errors.ts'
import { REPO_EXPORT_SNAPSHOT_TRIES_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { Did } from '../syntax/did.ts'
import type { LevelRepoStore, RepoHead } from './block-store.ts'
import { writeCar } from './car/writer.ts'
import type { CarBlock } from './car/section.ts'

type Snapshot = { head: RepoHead; commitBytes: Uint8Array; first: CarBlock[]; rest: AsyncGenerator<CarBlock[], void> }

export async function* exportRepoCar(store: LevelRepoStore, did: Did): AsyncGenerator<Uint8Array, void, undefined> {
  const snapshot = await openSnapshot(store, did)
  try {
    yield* writeCar(snapshot.head.commitCid, blocksInOrder(snapshot))
  } finally {
    await snapshot.rest.return()
  }
}

async function openSnapshot(store: LevelRepoStore, did: Did): Promise<Snapshot> {
  for (let attempt = 0; attempt < REPO_EXPORT_SNAPSHOT_TRIES_MAX; attempt++) {
    const head = store.getHead(did)
    if (head === null) throw new AtfedError('RepoNotFound', `no repo for ${did}`)
    const rest = store.iterateBlockPages(did)
    const step = await rest.next() // the scan's snapshot is taken here
    const commitBytes = store.getBlockSync(did, head.commitCid)
    const now = store.getHead(did)
    if (commitBytes !== undefined && now !== null && now.commitCid.equals(head.commitCid)) {
      return { head, commitBytes, first: step.done === true ? [] : step.value, rest }
    }
    await rest.return()
  }
  throw new AtfedError('RepoBusy', `the repo of ${did} kept changing during export; try again`)
}

/**
 * The commit block, then every other block page by page. A hand-written
 * iterator rather than an async generator: the CAR writer awaits every
 * block, and a plain async `next` is the cheapest step per block (the pages
 * themselves are the only real waits).
 */
function blocksInOrder(snapshot: Snapshot): AsyncIterable<CarBlock> {
  const commitCid: CID = snapshot.head.commitCid
  let page = snapshot.first
  let index = -1 // -1: the commit block is next
  const next = async (): Promise<IteratorResult<CarBlock, undefined>> => {
    if (index === -1) {
      index = 0
      return { done: false, value: { cid: commitCid, bytes: snapshot.commitBytes } }
    }
    for (;;) {
      while (index < page.length) {
        const block = page[index++]!
        if (!block.cid.equals(commitCid)) return { done: false, value: block }
      }
      const step = await snapshot.rest.next()
      if (step.done === true) return { done: true, value: undefined }
      page = step.value
      index = 0
    }
  }
  return { [Symbol.asyncIterator]: () => ({ next }) }
}
