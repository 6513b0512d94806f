/**
 * applyWrites: differential against @atproto/repo run side by side on the
 * same writes (roots, the exact set of #commit blocks, removed CIDs),
 * signatures checked by their verifyCommitSig, every #commit undone both by
 * our verifier and by the reference MST loaded from the event's blocks
 * alone; store bookkeeping (exactly the reachable blocks stay); then each
 * rejection by its error name.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cborToLex, MST as RefMst, MemoryBlockstore, Repo, verifyCommitSig } from '@atproto/repo'
import type { RecordWriteOp } from '@atproto/repo'
import { Secp256k1Keypair } from '@atproto/crypto'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { cidKey } from '../../core/repo/block-reader.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { invertOps } from '../../core/repo/mst/invert.ts'
import { walkRepoTree } from '../../core/repo/repo-walk.ts'
import { verifyCommitEvent } from '../../core/repo/verify-commit-event.ts'
import { verifyRepoBlocks } from '../../core/repo/verify-repo.ts'
import { applyWrites, createInitialCommit, resignCommit } from '../../core/repo/writes.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import type { Did } from '../../core/syntax/did.ts'
import { COMMIT_OPS_MAX, RECORD_BLOCK_BYTES_MAX } from '../../core/limits.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { makeRng } from '../helpers/prng.ts'
import { MemoryRepo, randomWrites, record, refInvert, TEST_DID, writeFor } from '../helpers/repo-writes.ts'

type RefCommit = Parameters<typeof verifyCommitSig>[0]

async function checkEvent(repo: MemoryRepo, result: CommitResult): Promise<void> {
  verifyCommitEvent(
    {
      repo: repo.did,
      rev: result.rev,
      since: result.since,
      commit: result.commitCid,
      blocks: result.eventCarBytes,
      ops: result.ops,
      prevData: result.prevData,
    },
    { key: repo.keypair.publicKey },
  )
  const { root, blocks } = decodeCarWithSingleRoot(result.eventCarBytes)
  assert.ok(root.equals(result.commitCid))
  assert.equal(blocks.size, result.eventBlocks.size)
  const before = result.prevData ?? (await RefMst.create(new MemoryBlockstore())).getPointer()
  assert.equal(invertOps(result.commit.data, result.ops, result.eventBlocks).toString(), (await before).toString())
  assert.equal(await refInvert(result.eventCarBytes, result.commit.data, result.ops), (await before).toString())
  assert.ok(await verifyCommitSig(cborToLex(result.commitBytes) as RefCommit, repo.keypair.publicKey.didKey))
}

/** The store holds exactly the commit, the tree's nodes and its records. */
function checkStore(repo: MemoryRepo): void {
  verifyRepoBlocks(repo.blocks, repo.head.commitCid, { did: repo.did, key: repo.keypair.publicKey })
  const reachable = new Set<string>([cidKey(repo.head.commitCid)])
  for (const item of walkRepoTree(repo.blocks, repo.head.dataCid)) reachable.add(cidKey(item.cid))
  assert.equal(repo.blocks.size, reachable.size, 'stored blocks are exactly the reachable ones')
  for (const cid of repo.blocks.cids()) assert.ok(reachable.has(cidKey(cid)))
}

/** CID strings of a block map or list, without `skip` (the commits: their rev and signature differ). */
function cidSet(cids: Iterable<{ toString(): string }>, skip: string): string[] {
  return [...new Set(Array.from(cids, String))].filter((cid) => cid !== skip).sort()
}

test('random write sequences: same roots and event blocks as @atproto/repo, events verify with both, store stays exact', async () => {
  for (const seed of [1, 2]) {
    const rng = makeRng(seed)
    const repo = new MemoryRepo(TEST_DID, generateKeypair(seed === 1 ? 'k256' : 'p256'))
    const refKey = await Secp256k1Keypair.create()
    let ref = await Repo.create(new MemoryBlockstore(), TEST_DID, refKey)
    for (let commit = 0; commit < 40; commit++) {
      const size = rng.next() < 0.5 ? 1 : 1 + rng.int(COMMIT_OPS_MAX)
      const writes = randomWrites(rng, new Set(repo.records.keys()), size)
      const before = repo.head
      const result = repo.apply(writes)
      assert.equal(result.since, before.rev)
      assert.ok(result.rev > before.rev)
      assert.ok(result.prevData?.equals(before.dataCid))
      assert.equal(result.ops.length, writes.length)

      const theirs = await ref.formatCommit(writes as unknown as RecordWriteOp[], refKey)
      ref = await ref.applyCommit(theirs)
      const label = `seed ${seed} commit ${commit}`
      assert.equal(result.commit.data.toString(), ref.commit.data.toString(), `${label}: root`)
      const theirEvent = [...theirs.newBlocks.cids(), ...theirs.relevantBlocks.cids()]
      assert.deepEqual(cidSet(result.eventBlocks.cids(), String(result.commitCid)), cidSet(theirEvent, String(theirs.cid)), `${label}: event blocks`)
      const theirRemoved = theirs.removedCids.toList()
      assert.deepEqual(cidSet(result.removedCids, String(before.commitCid)), cidSet(theirRemoved, String(theirs.prev)), `${label}: removed`)
      await checkEvent(repo, result)
      if (commit % 10 === 9) checkStore(repo)
    }
    checkStore(repo)
  }
})

test('ops follow sync 1.1: create has no prev, update/delete carry prev, event holds no old record blocks', () => {
  const rng = makeRng(7)
  const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
  const a = record('app.bsky.feed.post', rng)
  const b = record('app.bsky.feed.post', rng)
  const first = repo.apply([writeFor('create', 'app.bsky.feed.post/3kaaaaaaaaaa2', a), writeFor('create', 'app.bsky.feed.post/3kaaaaaaaaab2', b)])
  assert.deepEqual(first.ops.map((op) => [op.action, op.prev]), [['create', null], ['create', null]])
  const [aCid, bCid] = first.ops.map((op) => op.cid!)
  const a2 = record('app.bsky.feed.post', rng)
  const second = repo.apply([writeFor('update', 'app.bsky.feed.post/3kaaaaaaaaaa2', a2), writeFor('delete', 'app.bsky.feed.post/3kaaaaaaaaab2')])
  assert.equal(second.ops[0]!.action, 'update')
  assert.ok(second.ops[0]!.prev!.equals(aCid!))
  assert.deepEqual([second.ops[1]!.action, second.ops[1]!.cid], ['delete', null])
  assert.ok(second.ops[1]!.prev!.equals(bCid!))
  assert.ok(!second.eventBlocks.has(aCid!), 'old version not carried')
  assert.ok(!second.eventBlocks.has(bCid!), 'deleted record not carried')
  assert.ok(second.eventBlocks.has(second.ops[0]!.cid!))
  assert.deepEqual(new Set(second.removedCids.map(String)).has(aCid!.toString()), true)
  assert.deepEqual(new Set(second.removedCids.map(String)).has(bCid!.toString()), true)
})

test('a record re-created at another path is carried again; a no-op update is dropped', async () => {
  const rng = makeRng(8)
  const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
  const value = record('app.bsky.feed.like', rng)
  repo.apply([writeFor('create', 'app.bsky.feed.like/a', value)])
  const moved = repo.apply([writeFor('delete', 'app.bsky.feed.like/a'), writeFor('create', 'app.bsky.feed.like/b', value)])
  const cid = moved.ops[1]!.cid!
  assert.ok(moved.eventBlocks.has(cid) && moved.newBlocks.has(cid))
  assert.ok(!moved.removedCids.some((c) => c.equals(cid)), 'the block is still used by the new path')
  await checkEvent(repo, moved)
  checkStore(repo)
  const again = repo.apply([writeFor('update', 'app.bsky.feed.like/b', value)])
  assert.deepEqual(again.ops, [])
  assert.ok(again.commit.data.equals(moved.commit.data))
  await checkEvent(repo, again)
  checkStore(repo)
})

test('keepRecordBlock keeps a block another path still uses', () => {
  const rng = makeRng(9)
  const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
  const value = record('app.bsky.feed.like', rng)
  const created = repo.apply([writeFor('create', 'app.bsky.feed.like/a', value), writeFor('create', 'app.bsky.feed.like/b', value)])
  const cid = created.ops[0]!.cid!
  const options = { keypair: repo.keypair, did: repo.did, reader: repo.blocks, clock: repo.clock }
  const without = applyWrites(repo.head, [writeFor('delete', 'app.bsky.feed.like/a')], options)
  assert.ok(without.removedCids.some((c) => c.equals(cid)))
  const kept = applyWrites(repo.head, [writeFor('delete', 'app.bsky.feed.like/a')], { ...options, keepRecordBlock: (c) => c.equals(cid) })
  assert.ok(!kept.removedCids.some((c) => c.equals(cid)))
  repo.store(kept)
  checkStore(repo)
})

test('initial commit and re-signed commit', async () => {
  const keypair = generateKeypair('k256')
  const initial = createInitialCommit(TEST_DID, keypair)
  assert.equal(initial.since, null)
  assert.equal(initial.prevData, null)
  assert.deepEqual(initial.ops, [])
  const emptyRoot = await (await RefMst.create(new MemoryBlockstore())).getPointer()
  assert.equal(initial.commit.data.toString(), emptyRoot.toString())
  assert.deepEqual([...initial.eventBlocks.cids()].map(String).sort(), [initial.commitCid.toString(), emptyRoot.toString()].sort())
  verifyCommitEvent({ ...eventOf(initial), repo: TEST_DID }, { key: keypair.publicKey })

  const repo = new MemoryRepo(TEST_DID, keypair)
  repo.apply([writeFor('create', 'app.bsky.feed.post/3kaaaaaaaaaa2', record('app.bsky.feed.post', makeRng(1)))])
  const rotated = generateKeypair('p256')
  const before = repo.head
  const resigned = resignCommit(before, { keypair: rotated, did: TEST_DID, reader: repo.blocks })
  assert.ok(resigned.commit.data.equals(before.dataCid))
  assert.ok(resigned.rev > before.rev)
  assert.equal(resigned.newBlocks.size, 1)
  assert.ok(resigned.removedCids.length === 1 && resigned.removedCids[0]!.equals(before.commitCid))
  verifyCommitEvent({ ...eventOf(resigned), repo: TEST_DID }, { key: rotated.publicKey })
  assert.throws(() => verifyCommitEvent({ ...eventOf(resigned), repo: TEST_DID }, { key: keypair.publicKey }), {
    name: 'BadCommitSignature',
  })
  assert.ok(await verifyCommitSig(cborToLex(resigned.commitBytes) as RefCommit, rotated.publicKey.didKey))
})

test('rev always advances past the previous one, even with a clock in the past', () => {
  const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
  const past = new TidClock({ nowMs: () => Date.UTC(2001, 0, 1) })
  const result = applyWrites(repo.head, [], { keypair: repo.keypair, did: repo.did, reader: repo.blocks, clock: past })
  assert.ok(result.rev > repo.head.rev)
})

function eventOf(result: CommitResult) {
  return {
    rev: result.rev,
    since: result.since,
    commit: result.commitCid,
    blocks: result.eventCarBytes,
    ops: result.ops,
    prevData: result.prevData,
  }
}

test('rejections by name', () => {
  const rng = makeRng(10)
  const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
  repo.apply([writeFor('create', 'app.bsky.feed.post/exists', record('app.bsky.feed.post', rng))])
  const options = { keypair: repo.keypair, did: repo.did, reader: repo.blocks }
  const attempt = (writes: RepoWrite[]) => () => applyWrites(repo.head, writes, options)
  const post = (rkey: string, extra = {}) => writeFor('create', `app.bsky.feed.post/${rkey}`, record('app.bsky.feed.post', rng, extra))

  assert.throws(attempt([post('a'), post('a')]), { name: 'DuplicatePath' })
  assert.throws(attempt([post('a'), writeFor('delete', 'app.bsky.feed.post/a')]), { name: 'DuplicatePath' })
  const tooMany = Array.from({ length: COMMIT_OPS_MAX + 1 }, (_, i) => post(`k${i}`))
  assert.throws(attempt(tooMany), { name: 'TooManyWrites' })
  applyWrites(repo.head, tooMany.slice(0, COMMIT_OPS_MAX), options) // the limit itself is fine
  assert.throws(attempt([post('exists')]), { name: 'RecordAlreadyExists' })
  assert.throws(attempt([writeFor('update', 'app.bsky.feed.post/missing', record('app.bsky.feed.post', rng))]), { name: 'RecordNotFound' })
  assert.throws(attempt([writeFor('delete', 'app.bsky.feed.post/missing')]), { name: 'RecordNotFound' })

  const big = (n: number) => ({ blob: new Uint8Array(n) })
  assert.throws(attempt([post('big', big(RECORD_BLOCK_BYTES_MAX))]), { name: 'RecordTooLarge' })
  applyWrites(repo.head, [post('big', big(RECORD_BLOCK_BYTES_MAX - 200))], options)
  assert.throws(attempt([post('b1', big(700_000)), post('b2', big(700_000)), post('b3', big(700_000))]), { name: 'CommitTooLarge' })

  assert.throws(attempt([writeFor('create', 'app.bsky.feed.post/x', { $type: 'app.bsky.feed.like' })]), { name: 'InvalidRecord' })
  assert.throws(attempt([writeFor('create', 'app.bsky.feed.post/x', { text: 'no type' })]), { name: 'InvalidRecord' })
  const raw = (write: object) => write as RepoWrite
  assert.throws(attempt([raw({ action: 'create', collection: 'app.bsky.feed.post', rkey: 'x' })]), { name: 'InvalidRecord' })
  const recordOnDelete = { action: 'delete', collection: 'app.bsky.feed.post', rkey: 'x', record: { $type: 'app.bsky.feed.post' } }
  assert.throws(attempt([raw(recordOnDelete)]), { name: 'InvalidWrite' })
  assert.throws(attempt([raw({ action: 'delete', collection: 'app.bsky.feed.post', rkey: '..' })]), { name: 'InvalidWrite' })
  assert.throws(attempt([raw({ action: 'delete', collection: 'not an nsid', rkey: 'x' })]), { name: 'InvalidWrite' })
  assert.throws(attempt([raw({ action: 'upsert', collection: 'app.bsky.feed.post', rkey: 'x' })]), { name: 'InvalidWrite' })
  assert.throws(() => applyWrites(repo.head, [], { ...options, did: 'alice' as Did }), { name: 'InvalidWrite' })
  assert.throws(attempt([writeFor('create', 'app.bsky.feed.post/f', { $type: 'app.bsky.feed.post', n: 1.5 })]), { name: 'InvalidCbor' })
  // a rejected batch changed nothing
  checkStore(repo)
})
