import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cborToLex, signCommit as refSignCommit, verifyCommitSig as refVerifyCommitSig } from '@atproto/repo'
import { P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
import * as refCbor from '@atproto/lex-cbor'
import {
  checkRevAdvances,
  checkRevNotFuture,
  decodeCommit,
  encodeUnsignedCommit,
  signCommit,
  verifyCommitSignature,
} from '../../core/repo/commit.ts'
import type { UnsignedCommit } from '../../core/repo/commit.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { KeyType } from '../../core/crypto/key-types.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { FUTURE_REV_TOLERANCE_MS } from '../../core/limits.ts'
import { parseDid } from '../../core/syntax/did.ts'
import { parseTid, tidFromTimestampUs } from '../../core/syntax/tid.ts'
import type { Tid } from '../../core/syntax/tid.ts'

const DID = parseDid('did:plc:ewvi7nxzyoun6zhxrhs64oiz')
const DATA = cidForCbor(encodeCbor({ e: [], l: null }))
const REV = parseTid('3lbmyhpczwc2w')
const CURVES: KeyType[] = ['k256', 'p256']

function unsigned(overrides: Partial<UnsignedCommit> = {}): UnsignedCommit {
  return { did: DID, version: 3, data: DATA, rev: REV, prev: null, ...overrides }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

test('signed commit bytes: canonical key order, prev: null present, CID of signed bytes', () => {
  const { commit, bytes, cid } = signCommit(unsigned(), generateKeypair('k256'))
  const keys = ['did', 'rev', 'sig', 'data', 'prev', 'version'].map((key) => {
    const at = hex(bytes).indexOf(hex(encodeCbor(key)))
    assert.ok(at > 0, `key ${key} present`)
    return at
  })
  assert.deepEqual([...keys].sort((a, b) => a - b), keys, 'keys in DAG-CBOR order')
  assert.ok(hex(bytes).includes(hex(encodeCbor('prev')) + 'f6'), 'prev encoded as explicit null')
  assert.equal(hex(bytes).slice(0, 2), 'a6', 'six fields')
  assert.equal(cid.toString(), cidForCbor(bytes).toString())
  assert.equal(commit.sig.length, 64)
  assert.equal(hex(encodeUnsignedCommit(commit)).slice(0, 2), 'a5', 'unsigned form has five fields')
})

test('signCommit drops fields that are not part of a commit', () => {
  const extra = { ...unsigned(), junk: 1 } as UnsignedCommit
  const { bytes } = signCommit(extra, generateKeypair('p256'))
  assert.deepEqual(Object.keys(decodeCommit(bytes)).sort(), ['data', 'did', 'prev', 'rev', 'sig', 'version'])
})

for (const type of CURVES) {
  test(`sign, decode and verify round trip (${type})`, () => {
    const keypair = generateKeypair(type)
    const prev = cidForCbor(encodeCbor({ x: 1 }))
    for (const fields of [unsigned(), unsigned({ prev })]) {
      const { commit, bytes } = signCommit(fields, keypair)
      const decoded = decodeCommit(bytes)
      assert.equal(hex(encodeCbor(decoded)), hex(bytes))
      assert.equal(decoded.did, commit.did)
      assert.equal(decoded.rev, commit.rev)
      assert.equal(decoded.data.toString(), commit.data.toString())
      assert.equal(decoded.prev?.toString(), commit.prev?.toString())
      assert.equal(hex(decoded.sig), hex(commit.sig))
      assert.ok(verifyCommitSignature(decoded, keypair.publicKey))
      assert.ok(verifyCommitSignature(decoded, keypair.publicKey.didKey))
      assert.ok(!verifyCommitSignature(decoded, generateKeypair(type).publicKey), 'other key')
      const otherRev = { ...decoded, rev: parseTid('3lbmyhpczwc2x') }
      assert.ok(!verifyCommitSignature(otherRev, keypair.publicKey), 'changed rev')
      const flipped = Uint8Array.from(decoded.sig)
      flipped[10] = flipped[10]! ^ 1
      assert.ok(!verifyCommitSignature({ ...decoded, sig: flipped }, keypair.publicKey), 'changed sig')
    }
  })

  test(`@atproto/repo verifies our commits and we verify theirs (${type})`, async () => {
    const ours = generateKeypair(type)
    const { bytes } = signCommit(unsigned(), ours)
    const theirView = cborToLex(bytes) as Parameters<typeof refVerifyCommitSig>[0]
    assert.ok(await refVerifyCommitSig(theirView, ours.publicKey.didKey))
    assert.equal(hex(refCbor.encode(theirView)), hex(bytes), 'they re-encode our bytes exactly')

    const theirs = type === 'k256' ? await Secp256k1Keypair.create() : await P256Keypair.create()
    const theirUnsigned = cborToLex(encodeUnsignedCommit(unsigned())) as Parameters<typeof refSignCommit>[0]
    const theirCommit = await refSignCommit(theirUnsigned, theirs)
    const theirBytes = refCbor.encode(theirCommit)
    const decoded = decodeCommit(theirBytes)
    assert.ok(verifyCommitSignature(decoded, theirs.did()))
    assert.equal(hex(encodeCbor(decoded)), hex(theirBytes), 'we re-encode their bytes exactly')
  })
}

test('decodeCommit rejects every malformed commit as InvalidCommit', () => {
  const { commit } = signCommit(unsigned(), generateKeypair('k256'))
  const { prev: _prev, ...noPrev } = commit
  const cases: Record<string, unknown> = {
    'missing prev': noPrev,
    'extra field': { ...commit, extra: 1 },
    'version 2': { ...commit, version: 2 },
    'version as string': { ...commit, version: '3' },
    'bad did': { ...commit, did: 'not-a-did' },
    'bad rev': { ...commit, rev: '3lbmyhpczwc2' },
    'rev not a string': { ...commit, rev: 5 },
    'short sig': { ...commit, sig: commit.sig.subarray(0, 63) },
    'sig as string': { ...commit, sig: 'x'.repeat(64) },
    'data not a link': { ...commit, data: DATA.toString() },
    'data raw codec': { ...commit, data: cidForRaw(new Uint8Array([1])) },
    'prev not a link': { ...commit, prev: 'bafy' },
    'not a map': [commit],
  }
  for (const [name, value] of Object.entries(cases)) {
    assert.throws(() => decodeCommit(encodeCbor(value)), { name: 'InvalidCommit' }, name)
  }
  assert.throws(() => decodeCommit(new Uint8Array([0xa6, 0x63])), { name: 'InvalidCommit' }, 'truncated CBOR')
  const bytes = encodeCbor(commit)
  assert.throws(() => decodeCommit(Uint8Array.from([...bytes, 0])), { name: 'InvalidCommit' }, 'trailing byte')
})

test('checkRevAdvances: strictly increasing only', () => {
  checkRevAdvances(null, REV)
  checkRevAdvances(parseTid('3lbmyhpczwc2v'), REV)
  assert.throws(() => checkRevAdvances(REV, REV), { name: 'RevNotIncreasing' })
  assert.throws(() => checkRevAdvances(parseTid('3lbmyhpczwc2x'), REV), { name: 'RevNotIncreasing' })
  assert.throws(() => checkRevAdvances(parseTid('3lbmyhpczwd22'), REV), { name: 'RevNotIncreasing' })
})

test('checkRevNotFuture: up to FUTURE_REV_TOLERANCE_MS ahead is fine, more is FutureRev', () => {
  const nowMs = 1_700_000_000_000
  const revAt = (ms: number): Tid => tidFromTimestampUs(ms * 1000, 7)
  checkRevNotFuture(revAt(nowMs - 86_400_000), nowMs)
  checkRevNotFuture(revAt(nowMs), nowMs)
  checkRevNotFuture(revAt(nowMs + FUTURE_REV_TOLERANCE_MS), nowMs)
  assert.throws(() => checkRevNotFuture(revAt(nowMs + FUTURE_REV_TOLERANCE_MS + 1), nowMs), { name: 'FutureRev' })
  assert.throws(() => checkRevNotFuture(parseTid('jzzzzzzzzzzzz'), nowMs), { name: 'FutureRev' })
})
