/**
 * The labeler's bad input from the firehose: a frame that breaks the event
 * schema, a commit whose CAR is not a CAR, an op whose record block is
 * missing (the labeler verifies: the whole commit), and posts whose `text`
 * is not a string are skipped and counted (the consumer's `skippedBy`, the
 * rule engine's
 * `malformedPosts`); the stream goes on and the next matching post is
 * labeled. Real signed commits of DIDs in our PLC, through a scripted relay.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { encodeMessageFrame } from '../../core/stream/frames.ts'
import { parseRules } from '../../feedgen/labeler/rules.ts'
import { startLabelerHarness } from '../helpers/labeler-harness.ts'
import type { LabelerHarness } from '../helpers/labeler-harness.ts'

let h: LabelerHarness

before(async () => {
  h = await startLabelerHarness({ rules: parseRules({ rules: [{ id: 'crypto', kind: 'text', pattern: 'free\\s+crypto', flags: 'i', val: 'spam' }] }) })
})
after(async () => {
  await h?.close()
})

test('malformed frames, CARs, blocks and post records are skipped and counted; labeling goes on', { timeout: 30_000 }, async () => {
  const alice = await h.account('alice')
  h.source.emitRaw(encodeMessageFrame('#commit', { seq: 1, repo: 'not a did' }))
  const base = alice.post('free crypto, tampered')
  const ev = base.event as Extract<typeof base.event, { t: '#commit' }>
  const missing = { ...ev, ops: [...ev.ops, { action: 'create' as const, path: 'app.bsky.feed.post/3kaaaaaaaaaa2', cid: cidForCbor(encodeCbor({ text: 'x' })), prev: null }] }
  const notCar = { ...ev, blocks: new Uint8Array([1, 2, 3]) }
  const numberText = alice.create('app.bsky.feed.post', { text: 42, createdAt: new Date().toISOString() })
  const noText = alice.create('app.bsky.feed.post', { createdAt: new Date().toISOString() })
  const spam = alice.post('FREE crypto for everyone')
  await h.emit(missing, notCar, numberText.event, noText.event, spam.event)

  const consumer = h.labeler.consumer!.stats()
  // Verification is on: a commit whose op names a block the CAR lacks is skipped whole (InvalidOp).
  assert.deepEqual(consumer.skippedBy, { InvalidEvent: 1, InvalidOp: 1, InvalidCar: 1 })
  assert.equal(consumer.handled, 3)
  assert.equal(consumer.failed, null)
  const engine = h.labeler.engine.stats()
  assert.equal(engine.malformedPosts, 2)
  const { body } = await h.query({ uriPatterns: `at://${alice.did}/*` })
  assert.deepEqual(body.labels.map((l: { uri: string; val: string }) => [l.uri, l.val]), [[spam.uri, 'spam']])
  assert.deepEqual(h.errors, [])
})
