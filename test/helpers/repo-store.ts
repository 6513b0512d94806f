/**
 * Level-backed repo stores for import/export tests: a temporary store, a
 * MemoryRepo copied into it, a large repo built straight from the MST, and
 * snapshots of a stored repo (head + every block) to prove it unchanged.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { encodeCborWithCid } from '../../core/data/cbor.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { LevelRepoStore } from '../../core/repo/block-store.ts'
import type { RepoHead, RootDb } from '../../core/repo/block-store.ts'
import { signCommit } from '../../core/repo/commit.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import type { MemoryRepo } from './repo-writes.ts'

export type TempStore = { store: LevelRepoStore; db: RootDb; dir: string; close(): Promise<void> }

export async function openTempStore(dir?: string): Promise<TempStore> {
  const path = dir ?? (await mkdtemp(join(tmpdir(), 'atfed-repo-test-')))
  const db: RootDb = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const store = await LevelRepoStore.open(db)
  return {
    store,
    db,
    dir: path,
    close: async () => {
      await db.close()
      if (dir === undefined) await rm(path, { recursive: true, force: true })
    },
  }
}

export async function withTempStore<T>(use: (temp: TempStore) => Promise<T>): Promise<T> {
  const temp = await openTempStore()
  try {
    return await use(temp)
  } finally {
    await temp.close()
  }
}

export async function storeMemoryRepo(store: LevelRepoStore, repo: MemoryRepo): Promise<void> {
  await store.writeBlocks(repo.did, Array.from(repo.blocks.entries(), ([cid, bytes]) => ({ cid, bytes })))
  await store.applyCommit(repo.did, { newBlocks: [], removedCids: [], head: repo.head })
}

/** Head and every block (as sorted "cid=hex" strings) of one stored repo. */
export async function repoSnapshot(store: LevelRepoStore, did: Did): Promise<{ head: string; blocks: string[] }> {
  const head = store.getHead(did)
  const blocks: string[] = []
  for await (const block of store.iterateBlocks(did)) blocks.push(`${block.cid.toString()}=${Buffer.from(block.bytes).toString('hex')}`)
  return { head: head === null ? 'none' : headText(head), blocks: blocks.sort() }
}

export function headText(head: RepoHead): string {
  return `${head.commitCid.toString()} ${head.rev} ${head.dataCid.toString()}`
}

/**
 * A repo of `count` records (each ~`recordBytes` of text) written straight
 * into `store` in one pass: MST built in memory, then all blocks stored.
 */
export async function buildLargeRepo(
  store: LevelRepoStore,
  options: { did: Did; keypair: Keypair; count: number; recordBytes: number },
): Promise<RepoHead> {
  let tree = Mst.create()
  let batch: Array<{ cid: ReturnType<typeof encodeCborWithCid>['cid']; bytes: Uint8Array }> = []
  const filler = 'x'.repeat(options.recordBytes)
  const clock = new TidClock({ clockId: 7 })
  for (let i = 0; i < options.count; i++) {
    const rkey = clock.next()
    const record = { $type: 'app.bsky.feed.post', text: `${i} ${filler}`, createdAt: '2024-05-01T12:00:00.000Z' }
    const { bytes, cid } = encodeCborWithCid(record)
    tree = tree.insert(`app.bsky.feed.post/${rkey}`, cid)
    batch.push({ cid, bytes })
    if (batch.length >= 5_000) {
      await store.writeBlocks(options.did, batch)
      batch = []
    }
  }
  await store.writeBlocks(options.did, batch)
  const { root, newBlocks } = tree.collectNewBlocks()
  await store.writeBlocks(options.did, Array.from(newBlocks.entries(), ([cid, bytes]) => ({ cid, bytes })))
  const signed = signCommit({ did: options.did, version: 3, data: root, rev: clock.next(), prev: null }, options.keypair)
  const head = { commitCid: signed.cid, rev: signed.commit.rev, dataCid: root }
  await store.applyCommit(options.did, { newBlocks: [{ cid: signed.cid, bytes: signed.bytes }], removedCids: [], head })
  return head
}
