/**
 * Events: the exact wire shape of each type (key order as the spec lists it,
 * omitted vs null fields), parse ∘ encode round trips, then the negative
 * space of the validators: each broken field is rejected as `InvalidEvent`
 * naming that field.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { COMMIT_BLOCKS_BYTES_MAX, COMMIT_OPS_MAX, SYNC_BLOCKS_BYTES_MAX } from '../../core/limits.ts'
import { CID } from '../../core/data/cid.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import type { LexMap, LexValue } from '../../core/data/cbor.ts'
import { encodeEventFrame, eventPayload } from '../../core/stream/events.ts'
import type { StreamMessage } from '../../core/stream/events.ts'
import { parseFrame, parseStreamMessage } from '../../core/stream/event-parse.ts'
import { decodeFrame, encodeMessageFrame } from '../../core/stream/frames.ts'
import * as Digest from 'multiformats/hashes/digest'
import { accountEvent, cidOf, commitEvent, identityEvent, revOf, syncEvent } from './fixtures.ts'

function wire(event: StreamMessage): LexMap {
  const frame = decodeFrame(encodeEventFrame(event))
  assert.equal(frame.kind, 'message')
  return (frame as { payload: LexMap }).payload
}

test('#commit wire shape: canonical key order, since null present, prevData omitted, fixed deprecated fields', () => {
  const first = wire(commitEvent(1))
  assert.deepEqual(Object.keys(first), ['ops', 'rev', 'seq', 'repo', 'time', 'blobs', 'since', 'blocks', 'commit', 'rebase', 'tooBig'])
  assert.equal(first.since, null)
  assert.deepEqual(first.blobs, [])
  assert.equal(first.rebase, false)
  assert.equal(first.tooBig, false)
  const later = wire(commitEvent(2))
  assert.deepEqual(Object.keys(later), [
    'ops', 'rev', 'seq', 'repo', 'time', 'blobs', 'since', 'blocks', 'commit', 'rebase', 'tooBig', 'prevData',
  ])
})

test('repoOp wire shape: cid always present, prev omitted on create', () => {
  const event = commitEvent(2)
  event.ops = [
    { action: 'create', path: 'app.bsky.feed.post/a', cid: cidOf(1), prev: null },
    { action: 'update', path: 'app.bsky.feed.post/b', cid: cidOf(2), prev: cidOf(3) },
    { action: 'delete', path: 'app.bsky.feed.post/c', cid: null, prev: cidOf(4) },
  ]
  const ops = wire(event).ops as LexMap[]
  assert.deepEqual(ops.map((op) => Object.keys(op)), [
    ['cid', 'path', 'action'],
    ['cid', 'path', 'prev', 'action'],
    ['cid', 'path', 'prev', 'action'],
  ])
  assert.equal(ops[2]?.cid, null)
})

test('#sync, #identity, #account, #info wire shapes', () => {
  assert.deepEqual(Object.keys(wire(syncEvent(1))), ['did', 'rev', 'seq', 'time', 'blocks'])
  assert.deepEqual(Object.keys(wire(identityEvent(1))), ['did', 'seq', 'time', 'handle'])
  assert.deepEqual(Object.keys(wire(identityEvent(1, null))), ['did', 'seq', 'time'])
  assert.deepEqual(Object.keys(wire(accountEvent(1))), ['did', 'seq', 'time', 'active', 'status'])
  assert.deepEqual(Object.keys(wire(accountEvent(1, true))), ['did', 'seq', 'time', 'active'])
  assert.deepEqual(wire({ t: '#info', name: 'OutdatedCursor', message: null }), { name: 'OutdatedCursor' })
})

test('parse(encode(event)) gives the event back, byte for byte', () => {
  const events: StreamMessage[] = [
    commitEvent(1),
    commitEvent(9),
    syncEvent(2),
    identityEvent(3),
    identityEvent(4, null),
    accountEvent(5),
    accountEvent(6, true),
    { t: '#info', name: 'OutdatedCursor', message: 'old' },
  ]
  for (const event of events) {
    const frame = encodeEventFrame(event)
    const parsed = parseFrame(frame)
    assert.equal(parsed.kind, 'message')
    const message = (parsed as { message: StreamMessage }).message
    assert.equal(message.t, event.t)
    assert.deepEqual(Buffer.from(encodeEventFrame(message)), Buffer.from(frame))
  }
})

test('unknown t is ignored (null), unknown fields are dropped, unknown status becomes null', () => {
  assert.equal(parseStreamMessage('#tombstone', { seq: 1 }), null)
  assert.deepEqual(parseFrame(encodeMessageFrame('#labels', { seq: 1 })), { kind: 'unknown' })
  const extra = { ...(eventPayload(syncEvent(3)) as LexMap), $type: 'x', future: 1 }
  const parsed = parseStreamMessage('#sync', extra)
  assert.ok(parsed !== null && !('future' in parsed) && !('$type' in parsed))
  const account = parseStreamMessage('#account', { ...(eventPayload(accountEvent(3)) as LexMap), status: 'archived' })
  assert.equal(account?.t === '#account' && account.status, null)
  const handle = parseStreamMessage('#identity', { ...(eventPayload(identityEvent(3)) as LexMap), handle: 'Alice.TEST' })
  assert.equal(handle?.t === '#identity' && handle.handle, 'alice.test')
})

// A CIDv1 with a sha2-512 hash: a valid CID, but not a blessed one.
const sha512Cid = CID.createV1(0x71, Digest.create(0x13, new Uint8Array(64)))

type Mutation = [field: string, t: string, change: (p: Record<string, LexValue>) => void]

function op(p: Record<string, LexValue>, i = 0): Record<string, LexValue> {
  return (p.ops as Record<string, LexValue>[])[i] as Record<string, LexValue>
}

const MUTATIONS: Mutation[] = [
  ['seq', '#commit', (p) => void (p.seq = 0)],
  ['seq', '#commit', (p) => void (p.seq = -1)],
  ['seq', '#commit', (p) => void (p.seq = '5')],
  ['seq', '#sync', (p) => void delete p.seq],
  ['repo', '#commit', (p) => void (p.repo = 'did:plc:')],
  ['repo', '#commit', (p) => void delete p.repo],
  ['did', '#sync', (p) => void (p.did = 'plc:abc')],
  ['did', '#identity', (p) => void (p.did = 5)],
  ['did', '#account', (p) => void (p.did = 'DID:plc:abc')],
  ['rev', '#commit', (p) => void (p.rev = 'not-a-tid')],
  ['rev', '#sync', (p) => void (p.rev = '3jzfcijpj2z2aa')],
  ['since', '#commit', (p) => void delete p.since],
  ['since', '#commit', (p) => void (p.since = 'abc')],
  ['time', '#commit', (p) => void (p.time = '2024-11-20')],
  ['time', '#sync', (p) => void (p.time = '2024-02-30T00:00:00Z')],
  ['time', '#identity', (p) => void delete p.time],
  ['time', '#account', (p) => void (p.time = 1732096800000)],
  ['commit', '#commit', (p) => void (p.commit = cidOf(1).toString())],
  ['commit', '#commit', (p) => void (p.commit = sha512Cid)],
  ['blocks', '#commit', (p) => void (p.blocks = new Uint8Array(0))],
  ['blocks', '#commit', (p) => void (p.blocks = 'AAAA')],
  ['blocks', '#commit', (p) => void (p.blocks = new Uint8Array(COMMIT_BLOCKS_BYTES_MAX + 1))],
  ['blocks', '#sync', (p) => void (p.blocks = new Uint8Array(SYNC_BLOCKS_BYTES_MAX + 1))],
  ['ops', '#commit', (p) => void (p.ops = {})],
  ['ops', '#commit', (p) => void (p.ops = Array.from({ length: COMMIT_OPS_MAX + 1 }, () => op(p)))],
  ['ops[0]', '#commit', (p) => void (p.ops = ['create'])],
  ['ops[0].action', '#commit', (p) => void (op(p).action = 'upsert')],
  ['ops[0].path', '#commit', (p) => void (op(p).path = 'app.bsky.feed.post')],
  ['ops[0].path', '#commit', (p) => void (op(p).path = 'post/abc')],
  ['ops[0].path', '#commit', (p) => void (op(p).path = 'app.bsky.feed.post/a/b')],
  ['ops[0].cid', '#commit', (p) => void delete op(p).cid],
  ['ops[0].cid', '#commit', (p) => void (op(p).cid = null)],
  ['ops[0].prev', '#commit', (p) => void (op(p).prev = cidOf(77))],
  ['ops[0].cid', '#commit', (p) => void Object.assign(op(p), { action: 'delete', prev: cidOf(5) })],
  ['ops[0].prev', '#commit', (p) => void Object.assign(op(p), { action: 'delete', cid: null })],
  ['ops[0].prev', '#commit', (p) => void Object.assign(op(p), { action: 'update' })],
  ['ops[0].prev', '#commit', (p) => void Object.assign(op(p), { action: 'update', prev: op(p).cid as LexValue })],
  ['ops[1].path', '#commit', (p) => void (p.ops = [op(p), op(p)])],
  ['rebase', '#commit', (p) => void (p.rebase = true)],
  ['rebase', '#commit', (p) => void delete p.rebase],
  ['tooBig', '#commit', (p) => void (p.tooBig = true)],
  ['blobs', '#commit', (p) => void delete p.blobs],
  ['blobs[0]', '#commit', (p) => void (p.blobs = ['bafy'])],
  ['prevData', '#commit', (p) => void (p.prevData = null)],
  ['prevData', '#commit', (p) => void (p.prevData = new Uint8Array(36))],
  ['handle', '#identity', (p) => void (p.handle = 'not a handle')],
  ['active', '#account', (p) => void delete p.active],
  ['active', '#account', (p) => void (p.active = 'false')],
  ['status', '#account', (p) => void (p.status = 5)],
  ['name', '#info', (p) => void delete p.name],
  ['message', '#info', (p) => void (p.message = null)],
]

const GOOD: Record<string, () => StreamMessage> = {
  '#commit': () => commitEvent(2),
  '#sync': () => syncEvent(2),
  '#identity': () => identityEvent(2),
  '#account': () => accountEvent(2),
  '#info': () => ({ t: '#info', name: 'OutdatedCursor', message: 'x' }),
}

test('every broken field is InvalidEvent naming that field', () => {
  for (const [field, t, change] of MUTATIONS) {
    const make = GOOD[t] as () => StreamMessage
    // Round-trip through CBOR so the payload is exactly what a decoder hands us.
    const payload = (decodeFrame(encodeEventFrame(make())) as { payload: Record<string, LexValue> }).payload
    change(payload)
    assert.throws(() => parseStreamMessage(t, payload), { name: 'InvalidEvent', field }, `${t} ${field}`)
    const frame = encodeMessageFrame(t, payload)
    assert.throws(() => parseFrame(frame), { name: 'InvalidEvent', field }, `${t} ${field} (as a frame)`)
  }
})

test('limits are inclusive: exactly COMMIT_OPS_MAX ops and the largest blocks pass', () => {
  const event = commitEvent(2)
  event.ops = Array.from({ length: COMMIT_OPS_MAX }, (_, i) => ({
    action: 'create' as const,
    path: `app.bsky.feed.post/${revOf(i)}`,
    cid: cidOf(i),
    prev: null,
  }))
  event.blocks = new Uint8Array(COMMIT_BLOCKS_BYTES_MAX)
  assert.equal(parseFrame(encodeEventFrame(event)).kind, 'message')
  const sync = syncEvent(2)
  sync.blocks = new Uint8Array(SYNC_BLOCKS_BYTES_MAX)
  assert.equal(parseFrame(encodeEventFrame(sync)).kind, 'message')
  assert.ok(encodeCbor(eventPayload(event)).length < 2_200_000)
})
