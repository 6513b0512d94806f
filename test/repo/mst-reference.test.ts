/**
 * Differential tests against @atproto/repo's MST (the reference): the same
 * record sets, inserted in random orders and with interleaved updates and
 * deletes, must give the same root CIDs and the same node blocks; diffs
 * must agree with the reference `DataDiff`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DataDiff } from '@atproto/repo'
import type { CID } from '../../core/data/cid.ts'
import { diffTrees } from '../../core/repo/mst/diff.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { makeRng } from '../helpers/prng.ts'
import type { Rng } from '../helpers/prng.ts'
import { randomCid, randomKey, randomKeys, RefTree, shuffled } from '../helpers/mst-data.ts'

function ourNodeBlocks(tree: Mst): Map<string, string> {
  const out = new Map<string, string>()
  for (const [cid, bytes] of tree.nodeBlocks()) out.set(cid.toString(), Buffer.from(bytes).toString('hex'))
  return out
}

async function refNodeBlocks(ref: RefTree): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const [cid, bytes] of await ref.nodeBlocks()) out.set(cid, Buffer.from(bytes).toString('hex'))
  return out
}

test('random record sets (0..2,000 keys) in random insert orders: same root and node blocks', async () => {
  const rng = makeRng(0x2000)
  for (const size of [0, 1, 2, 3, 7, 20, 60, 250, 2000]) {
    const keys = randomKeys(rng, size)
    const values = new Map(keys.map((k) => [k, randomCid(rng)]))
    const ref = await RefTree.create()
    for (const key of shuffled(rng, keys)) await ref.add(key, values.get(key)!)
    const refRoot = await ref.root()
    for (let round = 0; round < 2; round++) {
      let tree = Mst.create()
      for (const key of shuffled(rng, keys)) tree = tree.insert(key, values.get(key)!)
      assert.equal(tree.getPointer().toString(), refRoot, `size ${size} round ${round}`)
      if (round === 0) assert.deepEqual(ourNodeBlocks(tree), await refNodeBlocks(ref))
    }
  }
})

test('interleaved inserts, updates and deletes: same root after every step', async () => {
  const rng = makeRng(0x1234)
  for (let run = 0; run < 4; run++) {
    let tree = Mst.create()
    const ref = await RefTree.create()
    const live = new Map<string, CID>()
    for (let step = 0; step < 400; step++) {
      const roll = rng.next()
      const existing = [...live.keys()]
      if (existing.length > 0 && roll < 0.3) {
        const key = rng.pick(existing)
        tree = tree.delete(key)
        await ref.delete(key)
        live.delete(key)
      } else if (existing.length > 0 && roll < 0.4) {
        const key = rng.pick(existing)
        const cid = randomCid(rng)
        tree = tree.update(key, cid)
        await ref.update(key, cid)
        live.set(key, cid)
      } else {
        const key = randomKey(rng)
        if (live.has(key)) continue
        const cid = randomCid(rng)
        tree = tree.insert(key, cid)
        await ref.add(key, cid)
        live.set(key, cid)
      }
      if (step % 10 === 0) assert.equal(tree.getPointer().toString(), await ref.root(), `run ${run} step ${step}`)
    }
    assert.equal(tree.getPointer().toString(), await ref.root())
    assert.deepEqual(ourNodeBlocks(tree), await refNodeBlocks(ref))
  }
})

type Change = { kind: 'add' | 'update' | 'delete'; key: string; cid: CID | null }

function randomChanges(rng: Rng, keys: string[], count: number): Change[] {
  const picked = new Set<string>()
  const out: Change[] = []
  while (out.length < count) {
    const roll = rng.next()
    if (keys.length > 0 && roll < 0.6) {
      const key = rng.pick(keys)
      if (picked.has(key)) continue
      picked.add(key)
      out.push(roll < 0.3 ? { kind: 'delete', key, cid: null } : { kind: 'update', key, cid: randomCid(rng) })
    } else {
      const key = randomKey(rng)
      if (picked.has(key) || keys.includes(key)) continue
      picked.add(key)
      out.push({ kind: 'add', key, cid: randomCid(rng) })
    }
  }
  return out
}

async function applyBoth(tree: Mst, ref: RefTree, changes: Change[]): Promise<Mst> {
  let out = tree
  for (const c of changes) {
    if (c.kind === 'add') {
      out = out.insert(c.key, c.cid!)
      await ref.add(c.key, c.cid!)
    } else if (c.kind === 'update') {
      out = out.update(c.key, c.cid!)
      await ref.update(c.key, c.cid!)
    } else {
      out = out.delete(c.key)
      await ref.delete(c.key)
    }
  }
  return out
}

test('diffs agree with the reference DataDiff (records and node blocks)', async () => {
  const rng = makeRng(0xd1ff)
  for (let run = 0; run < 30; run++) {
    const keys = randomKeys(rng, rng.int(300))
    const ref = await RefTree.create()
    let base = Mst.create()
    for (const key of keys) {
      const cid = randomCid(rng)
      base = base.insert(key, cid)
      await ref.add(key, cid)
    }
    base = base.rebase()
    const refBase = ref.mst
    const changes = randomChanges(rng, keys, 1 + rng.int(run < 20 ? 4 : 60))
    const next = await applyBoth(base, ref, changes)
    const theirs = await DataDiff.of(ref.mst, refBase)
    const ours = diffTrees(base, next)

    const creates = ours.ops.filter((o) => o.action === 'create').map((o) => `${o.path} ${o.cid}`)
    const updates = ours.ops.filter((o) => o.action === 'update').map((o) => `${o.path} ${o.prev} ${o.cid}`)
    const deletes = ours.ops.filter((o) => o.action === 'delete').map((o) => `${o.path} ${o.prev}`)
    assert.deepEqual(creates, theirs.addList().map((a) => `${a.key} ${a.cid}`).sort())
    assert.deepEqual(updates, theirs.updateList().map((u) => `${u.key} ${u.prev} ${u.cid}`).sort())
    assert.deepEqual(deletes, theirs.deleteList().map((d) => `${d.key} ${d.cid}`).sort())
    assert.deepEqual(ours.ops.map((o) => o.path), [...ours.ops.map((o) => o.path)].sort(), 'ops are in key order')

    const theirNew = new Set(theirs.newMstBlocks.cids().map(String))
    assert.deepEqual(new Set([...ours.newNodes.cids()].map(String)), theirNew)
    const baseNodes = new Set([...base.nodeBlocks()].map(([cid]) => cid.toString()))
    const theirRemovedNodes = new Set(theirs.removedCids.toList().map(String).filter((c) => baseNodes.has(c)))
    assert.deepEqual(new Set(ours.removedNodes.map(String)), theirRemovedNodes)

    const collected = next.collectNewBlocks()
    assert.deepEqual(new Set([...collected.newBlocks.cids()].map(String)), theirNew)
    assert.deepEqual(new Set(collected.removedCids.map(String)), theirRemovedNodes)
  }
})
