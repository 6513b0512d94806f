/**
 * MST properties on seeded random data: the root depends only on the key set;
 * lookups and range listings agree with a sorted model; new/removed blocks
 * are exact; the tree reads only the nodes it needs; inversion undoes any
 * commit from only its covering-proof blocks; proofs verify.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { CID } from '../../core/data/cid.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { BlockReader } from '../../core/repo/block-reader.ts'
import type { RepoOp } from '../../core/repo/operation.ts'
import { applyOps } from '../../core/repo/mst/apply-ops.ts'
import { diffRoots, diffTrees } from '../../core/repo/mst/diff.ts'
import { coveringProofBlocks, invertOps } from '../../core/repo/mst/invert.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { coveringProof, proofForKey, verifyProof } from '../../core/repo/mst/proofs.ts'
import { verifyTree } from '../../core/repo/mst/verify-tree.ts'
import type { KeyRange } from '../../core/repo/mst/walk.ts'
import { makeRng } from '../helpers/prng.ts'
import type { Rng } from '../helpers/prng.ts'
import { randomCid, randomKey, randomKeys, shuffled } from '../helpers/mst-data.ts'

type Model = Map<string, CID>

function randomModel(rng: Rng, size: number): Model {
  return new Map(randomKeys(rng, size).map((k) => [k, randomCid(rng)]))
}

function build(model: Model, order: string[] = [...model.keys()]): Mst {
  let tree = Mst.create()
  for (const key of order) tree = tree.insert(key, model.get(key)!)
  return tree
}

/** Stores every node of `tree` and reloads it from the store (a stored, lazy tree). */
function persist(tree: Mst, store = new MemoryBlockMap()): { tree: Mst; store: MemoryBlockMap } {
  for (const [cid, bytes] of tree.nodeBlocks()) store.set(cid, bytes)
  return { tree: Mst.load(store, tree.getPointer()), store }
}

class CountingReader implements BlockReader {
  reads = 0
  constructor(private readonly inner: BlockReader) {}
  get(cid: CID): Uint8Array | undefined {
    this.reads++
    return this.inner.get(cid)
  }
}

test('the root depends only on the key set (orders, detours through extra keys)', () => {
  const rng = makeRng(1)
  for (let run = 0; run < 20; run++) {
    const model = randomModel(rng, rng.int(400))
    const keys = [...model.keys()]
    const root = build(model).getPointer().toString()
    assert.equal(build(model, keys.slice().sort()).getPointer().toString(), root)
    assert.equal(build(model, keys.slice().sort().reverse()).getPointer().toString(), root)
    let detour = Mst.create()
    const extras = randomKeys(rng, 50).filter((k) => !model.has(k))
    for (const key of shuffled(rng, [...keys, ...extras])) detour = detour.insert(key, model.get(key) ?? randomCid(rng))
    for (const key of shuffled(rng, extras)) detour = detour.delete(key)
    assert.equal(detour.getPointer().toString(), root)
    assert.deepEqual(verifyTree(detour.getPointer(), persist(detour).store), { keys: model.size, nodes: [...detour.nodeBlocks()].length, layer: detour.layer })
  }
})

test('get and list agree with a sorted model, on fresh and on stored trees', () => {
  const rng = makeRng(2)
  for (let run = 0; run < 12; run++) {
    const model = randomModel(rng, rng.int(500))
    const sorted = [...model.keys()].sort()
    const fresh = build(model)
    const trees = [fresh, persist(fresh).tree]
    const probes = [...sorted.slice(0, 30), ...randomKeys(rng, 30), 'app.bsky.feed.post/', 'a/a', 'zzz/z']
    for (const tree of trees) {
      for (const key of probes.filter((k) => k.includes('/') && !k.endsWith('/'))) {
        assert.equal(tree.get(key)?.toString() ?? null, model.get(key)?.toString() ?? null)
      }
      assert.deepEqual(tree.list().map((l) => l.key), sorted)
      for (let i = 0; i < 40; i++) {
        const range = randomRange(rng, sorted)
        assert.deepEqual(tree.list(range).map((l) => l.key), modelList(sorted, range), JSON.stringify(range))
      }
    }
  }
})

function randomRange(rng: Rng, sorted: string[]): KeyRange {
  const bound = (): string => (sorted.length > 0 && rng.next() < 0.7 ? rng.pick(sorted) : randomKey(rng))
  const range: KeyRange = {}
  if (rng.next() < 0.4) range.from = bound()
  if (rng.next() < 0.3) range.after = bound()
  if (rng.next() < 0.4) range.to = bound()
  if (rng.next() < 0.3) range.prefix = rng.pick(['app.bsky.feed.', 'app.bsky.feed.post/', 'com.', 'app.bsky.graph.follow/3', 'x'])
  if (rng.next() < 0.5) range.reverse = true
  if (rng.next() < 0.5) range.limit = rng.int(12)
  return range
}

function modelList(sorted: string[], r: KeyRange): string[] {
  const keep = sorted.filter(
    (k) =>
      (r.from === undefined || k >= r.from) &&
      (r.after === undefined || k > r.after) &&
      (r.to === undefined || k < r.to) &&
      (r.prefix === undefined || k.startsWith(r.prefix)),
  )
  if (r.reverse) keep.reverse()
  return r.limit === undefined ? keep : keep.slice(0, Math.max(0, r.limit))
}

test('collectNewBlocks: exact new and removed nodes; the store then holds the new tree', () => {
  const rng = makeRng(3)
  for (let run = 0; run < 25; run++) {
    const model = randomModel(rng, rng.int(600))
    const { tree: base, store } = persist(build(model))
    const ops = randomOps(rng, model, 1 + rng.int(8))
    const next = applyOps(base, ops)
    const { root, newBlocks, removedCids } = next.collectNewBlocks()
    const diff = diffTrees(base, next)
    assert.deepEqual(new Set([...newBlocks.cids()].map(String)), new Set([...diff.newNodes.cids()].map(String)))
    assert.deepEqual(new Set(removedCids.map(String)), new Set(diff.removedNodes.map(String)))
    for (const cid of newBlocks.cids()) assert.equal(store.has(cid), false)
    store.addAll(newBlocks)
    const stored = diffRoots(base.getPointer(), root, store)
    const opKey = (o: RepoOp): string => `${o.action} ${o.path} ${o.cid} ${o.prev}`
    assert.deepEqual(stored.ops.map(opKey), ops.map(opKey).sort((x, y) => (x.split(' ')[1]! < y.split(' ')[1]! ? -1 : 1)))
    assert.deepEqual(diff.ops.map(opKey), stored.ops.map(opKey))
    const reloaded = Mst.load(store, root)
    assert.deepEqual(reloaded.list().map((l) => `${l.key} ${l.cid}`), next.list().map((l) => `${l.key} ${l.cid}`))
    const reachable = new Set([...reloaded.nodeBlocks()].map(([cid]) => cid.toString()))
    for (const cid of removedCids) assert.equal(reachable.has(cid.toString()), false)
    // rebase: the next commit's new blocks are relative to this one
    const again = applyOps(next.rebase(), randomOps(rng, new Map(next.list().map((l) => [l.key, l.cid])), 2))
    for (const cid of again.collectNewBlocks().newBlocks.cids()) assert.equal(store.has(cid), false)
  }
})

function randomOps(rng: Rng, model: Model, count: number): RepoOp[] {
  const keys = [...model.keys()]
  const used = new Set<string>()
  const ops: RepoOp[] = []
  for (let guard = 0; ops.length < count && guard < count * 20; guard++) {
    const roll = rng.next()
    if (keys.length > 0 && roll < 0.5) {
      const path = rng.pick(keys)
      if (used.has(path)) continue
      used.add(path)
      const prev = model.get(path)!
      ops.push(roll < 0.3 ? { action: 'delete', path, cid: null, prev } : { action: 'update', path, cid: randomCid(rng), prev })
    } else {
      const path = randomKey(rng)
      if (used.has(path) || model.has(path)) continue
      used.add(path)
      ops.push({ action: 'create', path, cid: randomCid(rng), prev: null })
    }
  }
  return ops
}

test('invert(apply(ops)) gives the previous root from only the covering-proof blocks, in any order', () => {
  const rng = makeRng(4)
  let multiNodeProofs = 0
  for (let run = 0; run < 150; run++) {
    const model = randomModel(rng, rng.int(run < 50 ? 40 : 1500))
    const { tree: before } = persist(build(model))
    const ops = randomOps(rng, model, 1 + rng.int(run % 3 === 0 ? 12 : 3))
    const after = applyOps(before, ops)
    const proof = coveringProofBlocks(after, ops)
    if (proof.size > 1) multiNodeProofs++
    for (let k = 0; k < 3; k++) {
      const counting = new CountingReader(proof)
      assert.equal(invertOps(after.getPointer(), shuffled(rng, ops), counting).toString(), before.getPointer().toString())
      assert.ok(counting.reads <= proof.size)
    }
  }
  assert.ok(multiNodeProofs > 100)
})

test('one write on a stored 2,000-key tree reads only about one search path', () => {
  const rng = makeRng(5)
  const model = randomModel(rng, 2000)
  const { tree, store } = persist(build(model))
  for (let i = 0; i < 20; i++) {
    const counting = new CountingReader(store)
    const lazy = Mst.load(counting, tree.getPointer())
    const next = lazy.insert(randomKey(rng), randomCid(rng))
    next.collectNewBlocks()
    assert.ok(counting.reads <= lazy.layer + 4, `reads ${counting.reads} at layer ${lazy.layer}`)
  }
})

test('proofs: present keys prove their value, absent keys prove absence', () => {
  const rng = makeRng(6)
  for (let run = 0; run < 20; run++) {
    const model = randomModel(rng, rng.int(800))
    const tree = build(model)
    const root = tree.getPointer()
    const present = shuffled(rng, [...model.keys()]).slice(0, 15)
    for (const key of present) {
      assert.equal(verifyProof(root, key, proofForKey(tree, key))?.toString(), model.get(key)!.toString())
      const covering = coveringProof(tree, key)
      assert.equal(verifyProof(root, key, covering)?.toString(), model.get(key)!.toString())
    }
    for (const key of randomKeys(rng, 15).filter((k) => !model.has(k))) {
      assert.equal(verifyProof(root, key, proofForKey(tree, key)), null)
      const covering = coveringProof(tree, key)
      const sorted = [...model.keys()].sort()
      const below = sorted.filter((k) => k < key).pop()
      const above = sorted.find((k) => k > key)
      for (const neighbour of [below, above]) {
        if (neighbour !== undefined) assert.equal(verifyProof(root, neighbour, covering)?.toString(), model.get(neighbour)!.toString())
      }
    }
  }
})
