import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cidForCbor, parseCid, blockMatchesCid } from '../../core/data/cid.ts'
import { encodeCbor } from '../../core/data/cbor.ts'

test('empty MST node has the well-known CID', () => {
  const bytes = encodeCbor({ e: [], l: null })
  assert.equal(Buffer.from(bytes).toString('hex'), 'a2616580616cf6')
  assert.equal(cidForCbor(bytes).toString(), 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm')
})

test('parseCid rejects non-canonical strings by name', () => {
  assert.throws(() => parseCid(' bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'), { name: 'InvalidCid' })
  assert.throws(() => parseCid('QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u'), { name: 'InvalidCid' })
})

test('blockMatchesCid detects a changed byte', () => {
  const bytes = encodeCbor({ a: 1 })
  const cid = cidForCbor(bytes)
  assert.ok(blockMatchesCid(cid, bytes))
  const bad = Uint8Array.from(bytes)
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 1
  assert.ok(!blockMatchesCid(cid, bad))
})
