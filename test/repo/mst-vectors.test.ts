/**
 * MST interop vectors: key heights, common prefixes, the example key pool,
 * and the Go/TS "known map" root CIDs with their edge cases (trim top,
 * split two layers down, new layers two above).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Mst } from '../../core/repo/mst/mst.ts'
import { commonPrefixLength, keyHeight } from '../../core/repo/mst/key-height.ts'
import { LEAF_CID, readInteropJson, readInteropLines } from '../helpers/mst-data.ts'

const REC = 'com.example.record/3jqfcqzm'

function build(keys: string[]): Mst {
  let tree = Mst.create()
  for (const key of keys) tree = tree.insert(key, LEAF_CID)
  return tree
}

test('key heights (interop key_heights.json)', () => {
  const cases = readInteropJson<{ key: string; height: number }[]>('mst/key_heights.json')
  assert.equal(cases.length, 9)
  for (const { key, height } of cases) assert.equal(keyHeight(key), height, key)
})

test('common prefix lengths (interop common_prefix.json)', () => {
  const cases = readInteropJson<{ left: string; right: string; len: number }[]>('mst/common_prefix.json')
  assert.equal(cases.length, 13)
  for (const { left, right, len } of cases) assert.equal(commonPrefixLength(left, right), len, `${left} | ${right}`)
})

test('example keys: the digit after the letter is the height', () => {
  const keys = readInteropLines('mst/example_keys.txt')
  assert.equal(keys.length, 156)
  for (const key of keys) assert.equal(keyHeight(key), Number(key[1]), key)
})

test('known maps give the reference root CIDs', () => {
  assert.equal(build([]).getPointer().toString(), 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm')
  assert.equal(build([`${REC}3fo2j`]).getPointer().toString(), 'bafyreibj4lsc3aqnrvphp5xmrnfoorvru4wynt6lwidqbm2623a6tatzdu')
  const layer2 = build([`${REC}3fx2j`])
  assert.equal(layer2.layer, 2)
  assert.equal(layer2.getPointer().toString(), 'bafyreih7wfei65pxzhauoibu3ls7jgmkju4bspy4t2ha2qdjnzqvoy33ai')
  const simple = build(['3fp2j', '3fr2j', '3fs2j', '3ft2j', '4fc2j'].map((s) => REC + s))
  assert.equal(simple.getPointer().toString(), 'bafyreicmahysq4n6wfuxo522m6dpiy7z7qzym3dzs756t5n7nfdgccwq7m')
})

test('edge case: trims the top of the tree on delete', () => {
  let tree = build(['3fn2j', '3fo2j', '3fp2j', '3fs2j', '3ft2j', '3fu2j'].map((s) => REC + s))
  assert.equal(tree.layer, 1)
  assert.equal(tree.getPointer().toString(), 'bafyreifnqrwbk6ffmyaz5qtujqrzf5qmxf7cbxvgzktl4e3gabuxbtatv4')
  tree = tree.delete(`${REC}3fs2j`)
  assert.equal(tree.layer, 0)
  assert.equal(tree.getPointer().toString(), 'bafyreie4kjuxbwkhzg2i5dljaswcroeih4dgiqq6pazcmunwt2byd725vi')
})

test('edge case: insertion that splits two layers down, and its undo', () => {
  const keys = ['3fo2j', '3fp2j', '3fr2j', '3fs2j', '3ft2j', '3fz2j', '4fc2j', '4fd2j', '4ff2j', '4fg2j', '4fh2j']
  let tree = build(keys.map((s) => REC + s))
  const l1root = 'bafyreiettyludka6fpgp33stwxfuwhkzlur6chs4d2v4nkmq2j3ogpdjem'
  assert.equal(tree.layer, 1)
  assert.equal(tree.getPointer().toString(), l1root)
  tree = tree.insert(`${REC}3fx2j`, LEAF_CID)
  assert.equal(tree.layer, 2)
  assert.equal(tree.getPointer().toString(), 'bafyreid2x5eqs4w4qxvc5jiwda4cien3gw2q6cshofxwnvv7iucrmfohpm')
  tree = tree.delete(`${REC}3fx2j`)
  assert.equal(tree.layer, 1)
  assert.equal(tree.getPointer().toString(), l1root)
})

test('edge case: new layers two higher than the existing root', () => {
  const l0root = 'bafyreidfcktqnfmykz2ps3dbul35pepleq7kvv526g47xahuz3rqtptmky'
  const l2root = 'bafyreiavxaxdz7o7rbvr3zg2liox2yww46t7g6hkehx4i4h3lwudly7dhy'
  let tree = build([`${REC}3ft2j`, `${REC}3fz2j`])
  assert.equal(tree.layer, 0)
  assert.equal(tree.getPointer().toString(), l0root)
  tree = tree.insert(`${REC}3fx2j`, LEAF_CID)
  assert.equal(tree.getPointer().toString(), l2root)
  tree = tree.delete(`${REC}3fx2j`)
  assert.equal(tree.layer, 0)
  assert.equal(tree.getPointer().toString(), l0root)
  tree = tree.insert(`${REC}3fx2j`, LEAF_CID).insert(`${REC}4fd2j`, LEAF_CID)
  assert.equal(tree.layer, 2)
  assert.equal(tree.getPointer().toString(), 'bafyreig4jv3vuajbsybhyvb7gggvpwh2zszwfyttjrj6qwvcsp24h6popu')
  tree = tree.delete(`${REC}4fd2j`)
  assert.equal(tree.layer, 2)
  assert.equal(tree.getPointer().toString(), l2root)
})
