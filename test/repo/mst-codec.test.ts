/**
 * The fixed-schema MST node codec: byte-identical to @ipld/dag-cbor on
 * random nodes, strict on decode (any deviation is 'InvalidMstNode'), and
 * canonical (whatever it accepts re-encodes to the same bytes).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { isAtfedError } from '../../core/errors.ts'
import { MST_NODE_ENTRIES_MAX } from '../../core/limits.ts'
import { commonPrefixLength } from '../../core/repo/mst/key-height.ts'
import { decodeNode, encodeNode } from '../../core/repo/mst/node-codec.ts'
import type { NodeData } from '../../core/repo/mst/node-codec.ts'
import { makeRng } from '../helpers/prng.ts'
import type { Rng } from '../helpers/prng.ts'
import { randomKey } from '../helpers/mst-data.ts'

type WireEntry = { k: unknown; p: unknown; t: unknown; v: unknown; [extra: string]: unknown }
type Wire = { e: WireEntry[]; l: unknown; [extra: string]: unknown }

function randomNode(rng: Rng): NodeData {
  const count = rng.next() < 0.05 ? 200 + rng.int(200) : rng.int(24)
  const keys = new Set<string>()
  while (keys.size < count) {
    const key = randomKey(rng)
    keys.add(rng.next() < 0.05 ? key + 'x'.repeat(rng.int(700)) : key)
  }
  const link = (): Uint8Array => cidForCbor(rng.bytes(8)).bytes
  const entries = [...keys].sort().map((key) => ({
    key,
    value: rng.next() < 0.1 ? cidForRaw(rng.bytes(8)).bytes : link(),
    right: rng.next() < 0.4 ? link() : null,
  }))
  return { left: rng.next() < 0.5 ? link() : null, entries }
}

function toWire(node: NodeData): Wire {
  let prev = ''
  const e = node.entries.map((entry) => {
    const p = commonPrefixLength(prev, entry.key)
    prev = entry.key
    return {
      k: new TextEncoder().encode(entry.key.slice(p)),
      p,
      t: entry.right === null ? null : CID.decode(entry.right),
      v: CID.decode(entry.value),
    }
  })
  return { e, l: node.left === null ? null : CID.decode(node.left) }
}

function plain(node: NodeData): unknown {
  const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'))
  return {
    left: hex(node.left),
    entries: node.entries.map((e) => ({ key: e.key, value: hex(e.value), right: hex(e.right) })),
  }
}

function rejects(bytes: Uint8Array, name = 'InvalidMstNode'): void {
  assert.throws(() => decodeNode(bytes), (err: unknown) => isAtfedError(err, name), `expected ${name}`)
}

function validWire(): Wire {
  return toWire(randomNode(makeRng(7)))
}

test('encode matches @ipld/dag-cbor byte for byte, decode inverts it (random nodes)', () => {
  const rng = makeRng(0x4d535431)
  for (let i = 0; i < 400; i++) {
    const node = randomNode(rng)
    const ours = encodeNode(node)
    const theirs = dagCbor.encode(toWire(node))
    assert.deepEqual(Buffer.from(ours).toString('hex'), Buffer.from(theirs).toString('hex'))
    assert.deepEqual(plain(decodeNode(theirs)), plain(node))
  }
})

test('empty node encodes as the reference empty-tree block', () => {
  const bytes = encodeNode({ left: null, entries: [] })
  assert.deepEqual(bytes, dagCbor.encode({ e: [], l: null }))
  assert.equal(cidForCbor(bytes).toString(), 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm')
})

test('whatever decode accepts re-encodes to the same bytes (random corruptions)', () => {
  const rng = makeRng(99)
  let accepted = 0
  for (let i = 0; i < 3000; i++) {
    const bytes = encodeNode(randomNode(rng)).slice()
    const flips = 1 + rng.int(3)
    for (let f = 0; f < flips; f++) bytes[rng.int(bytes.length)] = rng.int(256)
    let node: NodeData
    try {
      node = decodeNode(bytes)
    } catch (err) {
      assert.ok(isAtfedError(err, 'InvalidMstNode') || isAtfedError(err, 'MstNodeTooLarge'), String(err))
      continue
    }
    accepted++
    assert.deepEqual(encodeNode(node), bytes)
  }
  assert.ok(accepted > 0)
})

test('every truncation is InvalidMstNode, never a crash', () => {
  const bytes = dagCbor.encode(validWire())
  for (let n = 0; n < bytes.length; n++) rejects(bytes.subarray(0, n))
})

test('rejects schema deviations', () => {
  const mutate = (f: (w: Wire) => void): Uint8Array => {
    const w = validWire()
    f(w)
    return dagCbor.encode(w)
  }
  assert.ok(validWire().e.length > 1)
  rejects(mutate((w) => (w.x = 1)))
  rejects(mutate((w) => delete (w as { l?: unknown }).l))
  rejects(mutate((w) => (w.e[0]!.extra = 1)))
  rejects(mutate((w) => delete (w.e[0] as { t?: unknown }).t))
  rejects(mutate((w) => (w.e[0]!.k = new TextDecoder().decode(w.e[0]!.k as Uint8Array))))
  rejects(mutate((w) => (w.e[1]!.p = 1.5)))
  rejects(mutate((w) => (w.e[1]!.p = -1)))
  rejects(mutate((w) => (w.e[0]!.v = null)))
  rejects(mutate((w) => (w.l = 'bafy')))
  rejects(mutate((w) => (w.e = {} as never)))
})

test('rejects links that are not blessed CIDs', () => {
  const base = validWire()
  const sha512 = CID.createV1(0x71, Digest.create(0x13, new Uint8Array(64)))
  const v0 = CID.parse('QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n')
  const raw = cidForRaw(new Uint8Array([1]))
  for (const bad of [sha512, v0, CID.createV1(0x70, Digest.create(0x12, new Uint8Array(32)))]) {
    rejects(dagCbor.encode({ ...base, l: bad }))
    rejects(dagCbor.encode({ ...base, e: [{ ...base.e[0]!, v: bad }] }))
  }
  rejects(dagCbor.encode({ ...base, l: raw }))
  rejects(dagCbor.encode({ ...base, e: [{ ...base.e[0]!, t: raw }] }))
  assert.doesNotThrow(() => decodeNode(dagCbor.encode({ ...base, e: [{ ...base.e[0]!, v: raw }] })))
})

test('rejects MST rule violations inside a node', () => {
  const v = cidForCbor(new Uint8Array([1]))
  const enc = (e: { k: string; p: number }[]): Uint8Array =>
    dagCbor.encode({ e: e.map((x) => ({ k: new TextEncoder().encode(x.k), p: x.p, t: null, v })), l: null })
  assert.doesNotThrow(() => decodeNode(enc([{ k: 'a.b/c', p: 0 }, { k: 'd', p: 4 }])))
  rejects(enc([{ k: 'a.b/d', p: 0 }, { k: 'c', p: 4 }])) // decreasing
  rejects(enc([{ k: 'a.b/c', p: 0 }, { k: 'a.b/c', p: 0 }])) // not maximal prefix (and duplicate)
  rejects(enc([{ k: 'a.b/c', p: 0 }, { k: '/d', p: 3 }])) // prefix not maximal
  rejects(enc([{ k: 'a.b/c', p: 0 }, { k: 'd', p: 9 }])) // prefix longer than previous key
  rejects(enc([{ k: 'a.b/c', p: 1 }])) // first entry with a prefix
  rejects(enc([{ k: 'a.b/c', p: 0 }, { k: '', p: 5 }])) // empty suffix
  rejects(enc([{ k: 'a.b/c$', p: 0 }])) // bad char
  rejects(enc([{ k: 'abc', p: 0 }])) // no slash
  rejects(enc([{ k: 'a/b/c', p: 0 }])) // two slashes
  rejects(enc([{ k: 'a/' + 'x'.repeat(1023), p: 0 }])) // too long
})

test('rejects non-minimal heads, other key orders and trailing bytes', () => {
  const empty = dagCbor.encode({ e: [], l: null })
  rejects(Uint8Array.from([...empty, 0]))
  rejects(Uint8Array.from([0xa2, 0x61, 0x6c, 0xf6, 0x61, 0x65, 0x80])) // l before e
  rejects(Uint8Array.from([0xa2, 0x61, 0x65, 0x98, 0x00, 0x61, 0x6c, 0xf6])) // array length 0 in two bytes
  rejects(Uint8Array.from([0xa2, 0x61, 0x65, 0x9f, 0xff, 0x61, 0x6c, 0xf6])) // indefinite array
  rejects(Uint8Array.from([0xbf, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6, 0xff])) // indefinite map
  const one = dagCbor.encode({ e: [{ k: new TextEncoder().encode('a/b'), p: 0, t: null, v: cidForCbor(new Uint8Array(1)) }], l: null })
  const pAt = one.indexOf(0x70) + 1 // the byte after "p"
  assert.equal(one[pAt], 0x00)
  rejects(Uint8Array.from([...one.subarray(0, pAt), 0x18, 0x00, ...one.subarray(pAt + 1)]))
})

test(`more than ${MST_NODE_ENTRIES_MAX} entries is MstNodeTooLarge`, () => {
  const v = cidForCbor(new Uint8Array([1]))
  const e = Array.from({ length: MST_NODE_ENTRIES_MAX + 1 }, (_, i) => `c/${String(i).padStart(5, '0')}`)
  let prev = ''
  const wire = e.map((key) => {
    const p = commonPrefixLength(prev, key)
    prev = key
    return { k: new TextEncoder().encode(key.slice(p)), p, t: null, v }
  })
  rejects(dagCbor.encode({ e: wire, l: null }), 'MstNodeTooLarge')
  assert.equal(decodeNode(dagCbor.encode({ e: wire.slice(0, MST_NODE_ENTRIES_MAX), l: null })).entries.length, MST_NODE_ENTRIES_MAX)
})
