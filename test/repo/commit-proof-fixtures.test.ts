/**
 * Interop commit-proof fixtures (sync 1.1): build the tree, apply the commit,
 * check that our `#commit` node blocks contain the reference proof blocks,
 * and that inverting from only those blocks, in every op order, gives back
 * the pre-commit root.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCid } from '../../core/data/cid.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { RepoOp } from '../../core/repo/operation.ts'
import { applyOps } from '../../core/repo/mst/apply-ops.ts'
import { coveringProofBlocks, invertOps } from '../../core/repo/mst/invert.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { readInteropJson } from '../helpers/mst-data.ts'

type Fixture = {
  comment: string
  leafValue: string
  keys: string[]
  adds: string[]
  dels: string[]
  rootBeforeCommit: string
  rootAfterCommit: string
  blocksInProof: string[]
}

const fixtures = readInteropJson<Fixture[]>('firehose/commit-proof-fixtures.json')

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()]
  const out: T[][] = []
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest])
  })
  return out
}

function storeAll(tree: Mst, store: MemoryBlockMap): void {
  for (const [cid, bytes] of tree.nodeBlocks()) store.set(cid, bytes)
}

test('there are 6 commit-proof fixtures', () => {
  assert.equal(fixtures.length, 6)
})

for (const fx of fixtures) {
  test(`commit proof: ${fx.comment}`, () => {
    const leaf = parseCid(fx.leafValue)
    let built = Mst.create()
    for (const key of fx.keys) built = built.insert(key, leaf)
    assert.equal(built.getPointer().toString(), fx.rootBeforeCommit)

    const store = new MemoryBlockMap()
    storeAll(built, store)
    const before = Mst.load(store, parseCid(fx.rootBeforeCommit))
    const ops: RepoOp[] = [
      ...fx.adds.map((path): RepoOp => ({ action: 'create', path, cid: leaf, prev: null })),
      ...fx.dels.map((path): RepoOp => ({ action: 'delete', path, cid: null, prev: leaf })),
    ]
    const after = applyOps(before, ops)
    assert.equal(after.getPointer().toString(), fx.rootAfterCommit)

    const proof = coveringProofBlocks(after, ops)
    const proofCids = new Set([...proof.cids()].map(String))
    for (const cid of fx.blocksInProof) assert.ok(proofCids.has(cid), `proof lacks ${cid}`)

    const fullAfter = new MemoryBlockMap().addAll(store).addAll(after.collectNewBlocks().newBlocks)
    const referenceOnly = new MemoryBlockMap()
    for (const cid of fx.blocksInProof) referenceOnly.set(parseCid(cid), fullAfter.get(parseCid(cid))!)
    for (const order of permutations(ops)) {
      const root = parseCid(fx.rootAfterCommit)
      assert.equal(invertOps(root, order, proof).toString(), fx.rootBeforeCommit)
      assert.equal(invertOps(root, order, referenceOnly).toString(), fx.rootBeforeCommit)
    }
  })
}
