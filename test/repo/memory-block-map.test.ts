/**
 * MemoryBlockMap: the in-memory block map behind commits, proofs and
 * firehose CARs. Its byte count feeds size checks, so it must stay exact
 * when blocks are replaced, deleted or merged in from another map.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cidForRaw } from '../../core/data/cid.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'

const block = (text: string): Uint8Array => new TextEncoder().encode(text)

test('memory block map: addAll merges, counting a block both maps hold once', () => {
  const [a, b, c] = [block('a'), block('bb'), block('cccc')]
  const left = new MemoryBlockMap().set(cidForRaw(a), a).set(cidForRaw(b), b)
  const right = new MemoryBlockMap().set(cidForRaw(b), b).set(cidForRaw(c), c)
  left.addAll(right)
  assert.equal(left.size, 3)
  assert.equal(left.byteLength, 1 + 2 + 4)
  assert.deepEqual([...left.cids()].map(String).sort(), [a, b, c].map((bytes) => cidForRaw(bytes).toString()).sort())
  assert.equal(left.get(cidForRaw(c)), c)
  // the source is unchanged, and the two maps stay independent
  assert.equal(right.size, 2)
  assert.equal(right.byteLength, 6)
  assert.ok(left.delete(cidForRaw(c)))
  assert.equal(left.byteLength, 3)
  assert.equal(right.get(cidForRaw(c)), c)
  assert.equal(right.byteLength, 6)
})

test('memory block map: set replaces and delete removes, keeping the byte count', () => {
  const bytes = block('same')
  const cid = cidForRaw(bytes)
  const map = new MemoryBlockMap().set(cid, bytes).set(cid, bytes)
  assert.equal(map.size, 1)
  assert.equal(map.byteLength, 4)
  assert.equal(map.delete(cid), true)
  assert.equal(map.delete(cid), false)
  assert.equal(map.byteLength, 0)
  assert.equal(map.has(cid), false)
})
