/**
 * verifyCommitEvent / verifySyncEvent: genuine events pass, then the negative
 * space by error name — forged or misattributed commits, tampered ops,
 * blocks dropped from the CAR, prevData and rev problems, bad syntax.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import type { CID } from '../../core/data/cid.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { cidKey, MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { signCommit } from '../../core/repo/commit.ts'
import type { UnsignedCommit } from '../../core/repo/commit.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { proofForKey } from '../../core/repo/mst/proofs.ts'
import type { RepoOp } from '../../core/repo/operation.ts'
import { verifyCommitEvent, verifySyncEvent } from '../../core/repo/verify-commit-event.ts'
import type { CommitEventInput } from '../../core/repo/verify-commit-event.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import { COMMIT_BLOCKS_BYTES_MAX, COMMIT_OPS_MAX, FUTURE_REV_TOLERANCE_MS, SYNC_BLOCKS_BYTES_MAX } from '../../core/limits.ts'
import { parseDid } from '../../core/syntax/did.ts'
import { parseTid, TidClock, tidFromTimestampUs } from '../../core/syntax/tid.ts'
import { makeRng } from '../helpers/prng.ts'
import { randomCid } from '../helpers/mst-data.ts'
import { MemoryRepo, randomWrites, TEST_DID } from '../helpers/repo-writes.ts'

const OTHER_DID = parseDid('did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')

function eventOf(repo: MemoryRepo, result: CommitResult): CommitEventInput {
  return {
    repo: repo.did,
    rev: result.rev,
    since: result.since,
    commit: result.commitCid,
    blocks: result.eventCarBytes,
    ops: result.ops,
    prevData: result.prevData,
  }
}

/** A repo with some history and one more commit of `size` random writes. */
function scenario(seed: number, size: number): { repo: MemoryRepo; result: CommitResult; event: CommitEventInput } {
  const rng = makeRng(seed)
  const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
  for (let i = 0; i < 4; i++) repo.apply(randomWrites(rng, new Set(repo.records.keys()), 60))
  const result = repo.apply(randomWrites(rng, new Set(repo.records.keys()), size))
  return { repo, result, event: eventOf(repo, result) }
}

/** The event's blocks with the commit re-signed after `change` (by `keypair`). */
function resigned(result: CommitResult, keypair: Keypair, change: Partial<UnsignedCommit>): { commit: CID; blocks: Uint8Array } {
  const { sig: _sig, ...unsigned } = result.commit
  const signed = signCommit({ ...unsigned, ...change }, keypair)
  const blocks = new MemoryBlockMap().addAll(result.eventBlocks)
  blocks.delete(result.commitCid)
  blocks.set(signed.cid, signed.bytes)
  return { commit: signed.cid, blocks: encodeCarBytes(signed.cid, blocks) }
}

function withBlocks(result: CommitResult, edit: (blocks: MemoryBlockMap) => void): Uint8Array {
  const blocks = new MemoryBlockMap().addAll(result.eventBlocks)
  edit(blocks)
  return encodeCarBytes(result.commitCid, blocks)
}

test('genuine events pass, with single writes and full batches', () => {
  for (const [seed, size] of [[1, 1], [2, 5], [3, COMMIT_OPS_MAX]] as const) {
    const { repo, result, event } = scenario(seed, size)
    const out = verifyCommitEvent(event, { key: repo.keypair.publicKey.didKey })
    assert.ok(out.commitCid.equals(result.commitCid))
    assert.equal(out.commit.rev, result.rev)
  }
})

test('commit identity: forged signature, wrong key, did, rev, commit CID, missing commit block', () => {
  const { repo, result, event } = scenario(4, 10)
  const key = repo.keypair.publicKey
  const forged = Uint8Array.from(result.commit.sig)
  forged[5] = forged[5]! ^ 0x40
  const forgedCommit = encodeCbor({ ...result.commit, sig: forged })
  const forgedCid = cidForCbor(forgedCommit)
  const forgedBlocks = withBlocks(result, (b) => b.set(forgedCid, forgedCommit))
  const forgedCar = encodeCarBytes(forgedCid, new MemoryBlockMap().addAll(result.eventBlocks).set(forgedCid, forgedCommit))
  assert.ok(forgedBlocks.length > 0)
  assert.throws(() => verifyCommitEvent({ ...event, commit: forgedCid, blocks: forgedCar }, { key }), { name: 'BadCommitSignature' })
  assert.throws(() => verifyCommitEvent(event, { key: generateKeypair('k256').publicKey }), { name: 'BadCommitSignature' })
  const byOther = resigned(result, generateKeypair('p256'), {})
  assert.throws(() => verifyCommitEvent({ ...event, ...byOther }, { key }), { name: 'BadCommitSignature' })

  assert.throws(() => verifyCommitEvent({ ...event, repo: OTHER_DID }, { key }), { name: 'DidMismatch' })
  const otherDid = resigned(result, repo.keypair, { did: OTHER_DID })
  assert.throws(() => verifyCommitEvent({ ...event, ...otherDid }, { key }), { name: 'DidMismatch' })
  const laterRev = new TidClock().nextAfter(result.rev)
  assert.throws(() => verifyCommitEvent({ ...event, rev: laterRev }, { key }), { name: 'RevMismatch' })
  assert.throws(() => verifyCommitEvent({ ...event, commit: randomCid(makeRng(1)) }, { key }), { name: 'CommitMismatch' })
  const noCommit = withBlocks(result, (b) => b.delete(result.commitCid))
  assert.throws(() => verifyCommitEvent({ ...event, blocks: noCommit }, { key }), { name: 'MissingBlock' })
})

test('future revs: rejected beyond the tolerance, accepted within it', () => {
  const { repo, result, event } = scenario(5, 3)
  const key = repo.keypair.publicKey
  const revMs = Date.now() + FUTURE_REV_TOLERANCE_MS + 60_000
  const future = tidFromTimestampUs(revMs * 1000, 1)
  const signed = resigned(result, repo.keypair, { rev: future })
  assert.throws(() => verifyCommitEvent({ ...event, ...signed, rev: future }, { key }), { name: 'FutureRev' })
  verifyCommitEvent({ ...event, ...signed, rev: future }, { key, now: revMs })
  assert.throws(() => verifyCommitEvent(event, { key, now: Date.now() - FUTURE_REV_TOLERANCE_MS - 60_000 }), { name: 'FutureRev' })
})

test('dropping any non-commit block never passes unless the block is off every op path', () => {
  for (const [seed, size] of [[6, 1], [7, 8], [8, 40]] as const) {
    const { repo, result, event } = scenario(seed, size)
    const key = repo.keypair.publicKey
    const tree = Mst.load(new MemoryBlockMap().addAll(repo.blocks), result.commit.data)
    const needed = new Set<string>()
    for (const op of result.ops) {
      for (const cid of proofForKey(tree, op.path).cids()) needed.add(cidKey(cid))
      if (op.cid !== null) needed.add(cidKey(op.cid))
    }
    let rejected = 0
    for (const cid of result.eventBlocks.cids()) {
      if (cid.equals(result.commitCid)) continue
      const blocks = withBlocks(result, (b) => b.delete(cid))
      try {
        verifyCommitEvent({ ...event, blocks }, { key })
        assert.ok(!needed.has(cidKey(cid)), `passed without ${cid.toString()}, which an op needs`)
      } catch (err) {
        assert.ok(['MissingBlock', 'InversionMismatch'].includes((err as Error).name), (err as Error).name)
        rejected++
      }
    }
    assert.ok(rejected >= needed.size, `seed ${seed}: ${rejected} of ${result.eventBlocks.size - 1} drops rejected`)
  }
})

test('tampered ops: wrong cid, wrong prev, extra op, missing op, bad shapes', () => {
  const { repo, event } = scenario(9, 30)
  const key = repo.keypair.publicKey
  const rng = makeRng(99)
  const ops = event.ops
  const check = (changed: RepoOp[], names: string[], label: string) => {
    assert.throws(() => verifyCommitEvent({ ...event, ops: changed }, { key }), (err: Error) => names.includes(err.name), label)
  }
  const index = (action: RepoOp['action']) => ops.findIndex((op) => op.action === action)
  const replace = (i: number, op: RepoOp) => ops.map((o, j) => (j === i ? op : o))
  for (const action of ['create', 'update', 'delete'] as const) {
    const i = index(action)
    assert.ok(i >= 0, `scenario has a ${action}`)
    const op = ops[i]!
    if (op.cid !== null) check(replace(i, { ...op, cid: randomCid(rng) }), ['InvalidOp'], `${action} wrong cid`)
    if (op.prev !== null) check(replace(i, { ...op, prev: randomCid(rng) }), ['InversionMismatch'], `${action} wrong prev`)
    check(ops.filter((_, j) => j !== i), ['InversionMismatch'], `missing ${action}`)
  }
  const createdPath = 'com.example.record/extra-create'
  check([...ops, { action: 'create', path: createdPath, cid: randomCid(rng), prev: null }], ['InvalidOp'], 'extra create')
  check([...ops, { action: 'delete', path: createdPath, cid: null, prev: randomCid(rng) }], ['InversionMismatch', 'MissingBlock'], 'extra delete')
  const present = ops[index('update')]!
  check([...ops, { ...present }], ['InvalidOp'], 'duplicate path')
  check(replace(index('update'), { ...present, prev: present.cid }), ['InvalidOp'], 'update with prev == cid')
  check(replace(index('create'), { ...ops[index('create')]!, prev: randomCid(rng) }), ['InvalidOp'], 'create with prev')
  check(replace(index('delete'), { ...ops[index('delete')]!, cid: randomCid(rng) }), ['InvalidOp'], 'delete with cid')
})

test('prevData, since and first commits', () => {
  const { repo, result, event } = scenario(10, 12)
  const key = repo.keypair.publicKey
  assert.throws(() => verifyCommitEvent({ ...event, prevData: randomCid(makeRng(3)) }, { key }), { name: 'InversionMismatch' })
  assert.throws(() => verifyCommitEvent({ ...event, prevData: null }, { key }), { name: 'MissingPrevData' })
  verifyCommitEvent({ ...event, prevData: null }, { key, allowMissingPrevData: true })
  // claiming to be the first commit while the tree has older records
  assert.throws(() => verifyCommitEvent({ ...event, since: null, prevData: null }, { key }), { name: 'InversionMismatch' })
  assert.throws(() => verifyCommitEvent({ ...event, since: result.rev }, { key }), { name: 'RevNotIncreasing' })

  const fresh = new MemoryRepo(TEST_DID, generateKeypair('p256'))
  const first = fresh.apply(randomWrites(makeRng(4), new Set(), 5))
  // records created in a repo's first commit invert to the empty tree
  const firstEvent = { ...eventOf(fresh, first), since: null, prevData: null }
  verifyCommitEvent(firstEvent, { key: fresh.keypair.publicKey })
  const withoutOne = { ...firstEvent, ops: firstEvent.ops.slice(1) }
  assert.throws(() => verifyCommitEvent(withoutOne, { key: fresh.keypair.publicKey }), { name: 'InversionMismatch' })
})

test('syntax and size limits', () => {
  const { repo, event } = scenario(11, 2)
  const key = repo.keypair.publicKey
  const cases: Array<[string, Partial<CommitEventInput>]> = [
    ['repo not a DID', { repo: 'alice' }],
    ['rev not a TID', { rev: '2024-01-01' }],
    ['since not a TID', { since: 'yesterday' }],
    ['blocks not bytes', { blocks: 'car' as unknown as Uint8Array }],
    ['blocks too large', { blocks: new Uint8Array(COMMIT_BLOCKS_BYTES_MAX + 1) }],
    ['too many ops', { ops: Array.from({ length: COMMIT_OPS_MAX + 1 }, () => event.ops[0]!) }],
  ]
  for (const [label, change] of cases) {
    assert.throws(() => verifyCommitEvent({ ...event, ...change }, { key }), { name: 'InvalidEvent' }, label)
  }
  assert.throws(() => verifyCommitEvent({ ...event, blocks: event.blocks.subarray(0, event.blocks.length - 3) }, { key }), {
    name: 'TruncatedCar',
  })
  const noRoot = encodeCarBytes(null, [])
  assert.throws(() => verifyCommitEvent({ ...event, blocks: noRoot }, { key }), { name: 'InvalidCarRoots' })
})

test('#sync events: only the commit block', () => {
  const { repo, result } = scenario(12, 2)
  const key = repo.keypair.publicKey
  const blocks = encodeCarBytes(result.commitCid, [{ cid: result.commitCid, bytes: result.commitBytes }])
  const sync = { did: repo.did, rev: result.rev, blocks }
  assert.ok(verifySyncEvent(sync, { key }).commit.data.equals(result.commit.data))
  assert.throws(() => verifySyncEvent(sync, { key: generateKeypair('k256').publicKey }), { name: 'BadCommitSignature' })
  assert.throws(() => verifySyncEvent({ ...sync, did: OTHER_DID }, { key }), { name: 'DidMismatch' })
  assert.throws(() => verifySyncEvent({ ...sync, rev: parseTid(new TidClock().nextAfter(result.rev)) }, { key }), { name: 'RevMismatch' })
  assert.throws(() => verifySyncEvent({ ...sync, blocks: encodeCarBytes(result.commitCid, []) }, { key }), { name: 'MissingBlock' })
  assert.throws(() => verifySyncEvent({ ...sync, blocks: new Uint8Array(SYNC_BLOCKS_BYTES_MAX + 1) }, { key }), { name: 'InvalidEvent' })
})
