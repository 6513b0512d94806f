/**
 * The MST's negative space, by error name: invalid keys, limits (node size,
 * depth), non-canonical trees built by hand, missing blocks, and ops that
 * contradict the tree they are inverted on.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { cidForCbor } from '../../core/data/cid.ts'
import { isAtfedError } from '../../core/errors.ts'
import { MST_KEY_BYTES_MAX, MST_NODE_ENTRIES_MAX } from '../../core/limits.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import type { RepoOp } from '../../core/repo/operation.ts'
import { applyOps } from '../../core/repo/mst/apply-ops.ts'
import { nodeCidFor } from '../../core/repo/mst/cid-bytes.ts'
import { invertOps } from '../../core/repo/mst/invert.ts'
import { isValidMstKey, keyHeight } from '../../core/repo/mst/key-height.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { encodeNode } from '../../core/repo/mst/node-codec.ts'
import type { NodeData } from '../../core/repo/mst/node-codec.ts'
import { proofForKey, verifyProof } from '../../core/repo/mst/proofs.ts'
import { verifyTree } from '../../core/repo/mst/verify-tree.ts'
import { makeRng } from '../helpers/prng.ts'
import { LEAF_CID, randomCid, randomKeys } from '../helpers/mst-data.ts'

const throwsNamed = (fn: () => unknown, name: string): void => {
  assert.throws(fn, (err: unknown) => isAtfedError(err, name), `expected ${name}`)
}

// keys of known heights (interop example_keys.txt)
const A0 = 'A0/374913'
const B0 = 'B0/601692'
const B1 = 'B1/986427'
const C0 = 'C0/451630'
const C2 = 'C2/014073'

/** Stores a hand-made node; returns its raw CID. */
function put(store: MemoryBlockMap, node: NodeData): Uint8Array {
  const bytes = encodeNode(node)
  const raw = nodeCidFor(bytes)
  store.set(CID.decode(raw), bytes)
  return raw
}

const leaf = (key: string, right: Uint8Array | null = null) => ({ key, value: LEAF_CID.bytes, right })

test('invalid keys are InvalidMstKey; allowed characters and the length limit', () => {
  const bad = ['', 'asdf', 'nested/collection/asdf', 'coll/', '/rkey', 'coll/jalapeñoA', 'coll/coöperative', 'coll/abc💩',
    'coll/key$', 'coll/key%', 'coll/key(', 'coll/key)', 'coll/key+', 'coll/key=', 'coll/key ', 'coll/\u0000',
    'c/' + 'a'.repeat(MST_KEY_BYTES_MAX - 1)]
  const good = ['coll/key0', 'coll/key_', 'coll/key:', 'coll/key.', 'coll/key-', 'coll/key~', 'app.bsky.feed.post/3jzfcijpj2z2a',
    'c/' + 'a'.repeat(MST_KEY_BYTES_MAX - 2)]
  const tree = Mst.create()
  for (const key of bad) {
    assert.equal(isValidMstKey(key), false, key)
    throwsNamed(() => tree.insert(key, LEAF_CID), 'InvalidMstKey')
    throwsNamed(() => tree.get(key), 'InvalidMstKey')
  }
  for (const key of good) {
    assert.equal(isValidMstKey(key), true, key)
    assert.equal(tree.insert(key, LEAF_CID).get(key)?.toString(), LEAF_CID.toString())
  }
})

test('values must be blessed 36-byte CIDs (InvalidCid)', () => {
  const sha512 = CID.createV1(0x71, Digest.create(0x13, new Uint8Array(64)))
  throwsNamed(() => Mst.create().insert('c/a', sha512), 'InvalidCid')
})

test('MstKeyExists and MstKeyNotFound', () => {
  const tree = Mst.create().insert(A0, LEAF_CID)
  throwsNamed(() => tree.insert(A0, LEAF_CID), 'MstKeyExists')
  throwsNamed(() => tree.update(B0, LEAF_CID), 'MstKeyNotFound')
  throwsNamed(() => tree.delete(B0), 'MstKeyNotFound')
})

test(`a node over ${MST_NODE_ENTRIES_MAX} entries is MstNodeTooLarge (mined layer-0 keys)`, () => {
  const keys: string[] = []
  for (let i = 0; keys.length <= MST_NODE_ENTRIES_MAX; i++) {
    const key = `c/${String(i).padStart(6, '0')}`
    if (keyHeight(key) === 0) keys.push(key)
  }
  let tree = Mst.create()
  for (const key of keys.slice(0, MST_NODE_ENTRIES_MAX)) tree = tree.insert(key, LEAF_CID)
  assert.equal(tree.layer, 0)
  throwsNamed(() => tree.insert(keys[MST_NODE_ENTRIES_MAX]!, LEAF_CID), 'MstNodeTooLarge')
  const small = Mst.create({ entriesMax: 3 }).insert(keys[0]!, LEAF_CID).insert(keys[1]!, LEAF_CID).insert(keys[2]!, LEAF_CID)
  throwsNamed(() => small.insert(keys[3]!, LEAF_CID), 'MstNodeTooLarge')
})

test('a key above depthMax is MstTooDeep (insert, load, verifyTree)', () => {
  throwsNamed(() => Mst.create({ depthMax: 1 }).insert(C2, LEAF_CID), 'MstTooDeep')
  const store = new MemoryBlockMap()
  const root = CID.decode(put(store, { left: null, entries: [leaf(C2)] }))
  throwsNamed(() => Mst.load(store, root, { depthMax: 1 }), 'MstTooDeep')
  throwsNamed(() => verifyTree(root, store, { depthMax: 1 }), 'MstTooDeep')
  assert.equal(verifyTree(root, store).layer, 2)
})

test('hand-made non-canonical trees are NonCanonicalMst', () => {
  const store = new MemoryBlockMap()
  const cid = (raw: Uint8Array): CID => CID.decode(raw)
  const a0 = put(store, { left: null, entries: [leaf(A0)] })
  const c0 = put(store, { left: null, entries: [leaf(C0)] })
  const empty = put(store, { left: null, entries: [] })
  const cases: [string, Uint8Array][] = [
    ['key heights differ within a node', put(store, { left: null, entries: [leaf(A0), leaf(B1)] })],
    ['root is a bare link', put(store, { left: a0, entries: [] })],
    ['empty node below the root', put(store, { left: empty, entries: [leaf(B1)] })],
    ['link out of a layer-0 node', put(store, { left: a0, entries: [leaf(B0)] })],
    ['keys out of order across nodes', put(store, { left: c0, entries: [leaf(B1)] })],
    ['a layer skipped (layer-0 key under a layer-2 node)', put(store, { left: a0, entries: [leaf(C2)] })],
  ]
  for (const [label, root] of cases) {
    assert.throws(() => verifyTree(cid(root), store), (err: unknown) => isAtfedError(err, 'NonCanonicalMst'), label)
  }
  const intermediate = put(store, { left: a0, entries: [] })
  assert.deepEqual(verifyTree(cid(put(store, { left: intermediate, entries: [leaf(C2)] })), store), { keys: 2, nodes: 3, layer: 2 })
  throwsNamed(() => Mst.load(store, cid(cases[1]![1])), 'NonCanonicalMst')
  throwsNamed(() => Mst.load(store, cid(cases[3]![1])), 'NonCanonicalMst')
  throwsNamed(() => Mst.load(store, cid(cases[2]![1])).list(), 'NonCanonicalMst')
})

test('missing blocks are MissingBlock (load, lookups, verifyTree, proofs)', () => {
  const store = new MemoryBlockMap()
  const child = encodeNode({ left: null, entries: [leaf(A0)] })
  const root = CID.decode(put(store, { left: nodeCidFor(child), entries: [leaf(B1)] }))
  throwsNamed(() => Mst.load(new MemoryBlockMap(), root), 'MissingBlock')
  const tree = Mst.load(store, root)
  assert.equal(tree.get(B1)?.toString(), LEAF_CID.toString())
  throwsNamed(() => tree.get(A0), 'MissingBlock')
  throwsNamed(() => tree.list(), 'MissingBlock')
  throwsNamed(() => tree.insert(B0, LEAF_CID), 'MissingBlock')
  throwsNamed(() => verifyTree(root, store), 'MissingBlock')
  throwsNamed(() => verifyProof(root, A0, store), 'MissingBlock')
  assert.equal(verifyProof(root, 'Z9/1', store), null)
})

test('verifyProof re-hashes blocks (CidMismatch)', () => {
  let tree = Mst.create()
  for (const key of [A0, B1, C2]) tree = tree.insert(key, LEAF_CID)
  const proof = proofForKey(tree, A0)
  const tampered = new MemoryBlockMap()
  for (const [cid, bytes] of proof) {
    const copy = bytes.slice()
    copy[copy.length - 2] = copy[copy.length - 2]! ^ 1
    tampered.set(cid, copy)
  }
  throwsNamed(() => verifyProof(tree.getPointer(), A0, tampered), 'CidMismatch')
})

test('inconsistent or malformed inversion ops are InvalidOp; a short proof is MissingBlock', () => {
  const rng = makeRng(11)
  const keys = randomKeys(rng, 300)
  let before = Mst.create()
  for (const key of keys) before = before.insert(key, LEAF_CID)
  const store = new MemoryBlockMap()
  for (const [c, bytes] of before.nodeBlocks()) store.set(c, bytes)
  const other = randomCid(rng)
  const created = 'app.bsky.feed.post/2222222222222'
  const ops: RepoOp[] = [
    { action: 'create', path: created, cid: other, prev: null },
    { action: 'update', path: keys[0]!, cid: other, prev: LEAF_CID },
    { action: 'delete', path: keys[1]!, cid: null, prev: LEAF_CID },
  ]
  const after = applyOps(Mst.load(store, before.getPointer()), ops)
  store.addAll(after.collectNewBlocks().newBlocks)
  const root = after.getPointer()
  assert.equal(invertOps(root, ops, store).toString(), before.getPointer().toString())

  const invalid: RepoOp[][] = [
    [{ action: 'create', path: 'app.bsky.feed.post/2222222222223', cid: other, prev: null }], // absent
    [{ action: 'create', path: created, cid: LEAF_CID, prev: null }], // holds another CID
    [{ action: 'update', path: keys[0]!, cid: LEAF_CID, prev: other }], // current value is not op.cid
    [{ action: 'update', path: created + 'x', cid: other, prev: LEAF_CID }], // absent
    [{ action: 'delete', path: keys[2]!, cid: null, prev: LEAF_CID }], // still present
    [{ action: 'create', path: created, cid: other, prev: LEAF_CID }], // create with prev
    [{ action: 'update', path: keys[0]!, cid: other, prev: other }], // no-op update
    [{ action: 'update', path: keys[0]!, cid: other, prev: null }],
    [{ action: 'delete', path: keys[1]!, cid: LEAF_CID, prev: LEAF_CID }], // delete with cid
    [ops[0]!, ops[0]!], // duplicate path
    [{ action: 'move' as 'create', path: created, cid: other, prev: null }],
    [{ action: 'create', path: created, cid: CID.createV1(0x71, Digest.create(0x13, new Uint8Array(64))), prev: null }],
  ]
  for (const bad of invalid) throwsNamed(() => invertOps(root, bad, store), 'InvalidOp')
  throwsNamed(() => invertOps(root, [{ action: 'create', path: 'bad path', cid: other, prev: null }], store), 'InvalidMstKey')

  const rootOnly = new MemoryBlockMap().set(root, store.get(root)!)
  throwsNamed(() => invertOps(root, ops, rootOnly), 'MissingBlock')
  const cidOf = cidForCbor(new Uint8Array([9]))
  throwsNamed(() => invertOps(cidOf, ops, store), 'MissingBlock')
})
