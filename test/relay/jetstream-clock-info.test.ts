/**
 * frame-clock-info.ts: the Jetstream clock's input read from a frame without
 * decoding it. Vectors for every frame kind, then a seeded property: for
 * valid events it equals what a full parse gives (message count, time in
 * µs), then the negative space: broken frames give no slots and no time.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Datetime } from '../../core/syntax/datetime.ts'
import { encodeEventFrame } from '../../core/stream/events.ts'
import type { CommitEvent } from '../../core/stream/events.ts'
import { encodeErrorFrame, encodeInfoFrame, encodeMessageFrame } from '../../core/stream/frames.ts'
import { datetimeToUs, messageSlots } from '../../relay/jetstream/clock.ts'
import { clockInfo } from '../../relay/jetstream/frame-clock-info.ts'
import { readEvent } from '../../relay/jetstream/render.ts'
import { makeRng } from '../helpers/prng.ts'
import { accountEvent, cidOf, commitEvent, identityEvent, syncEvent, TIME } from '../stream/fixtures.ts'

const TIME_US = Date.parse(TIME) * 1000

function commitWithOps(n: number, ops: number, time: string): CommitEvent {
  const base = commitEvent(n, { blocksBytes: 4000 })
  return {
    ...base,
    time: time as Datetime,
    ops: Array.from({ length: ops }, (_, i) => ({ action: 'create' as const, path: `app.bsky.feed.like/3k${String(i).padStart(11, 'a')}`, cid: cidOf(n * 1000 + i), prev: null })),
  }
}

test('vectors: slots and time of every frame kind', () => {
  assert.deepEqual(clockInfo(encodeEventFrame(commitWithOps(1, 3, TIME))), { slots: 3, timeUs: TIME_US })
  assert.deepEqual(clockInfo(encodeEventFrame(commitWithOps(2, 0, TIME))), { slots: 0, timeUs: TIME_US })
  assert.deepEqual(clockInfo(encodeEventFrame(identityEvent(3))), { slots: 1, timeUs: TIME_US })
  assert.deepEqual(clockInfo(encodeEventFrame(accountEvent(4))), { slots: 1, timeUs: TIME_US })
  assert.deepEqual(clockInfo(encodeEventFrame(syncEvent(5))), { slots: 0, timeUs: TIME_US })
  assert.deepEqual(clockInfo(encodeInfoFrame('OutdatedCursor', 'x')), { slots: 0, timeUs: null })
  assert.deepEqual(clockInfo(encodeErrorFrame('FutureCursor')), { slots: 0, timeUs: null })
  assert.deepEqual(clockInfo(encodeMessageFrame('#labels', { seq: 1, time: TIME })), { slots: 0, timeUs: null }, 'unknown types take no time')
  // Times that are not in toISOString form take the full path: µs digits kept, offsets applied.
  const micro = '2024-11-20T10:00:00.123456Z'
  assert.equal(clockInfo(encodeEventFrame(commitWithOps(6, 1, micro))).timeUs, datetimeToUs(micro as Datetime))
  assert.equal(clockInfo(encodeEventFrame(commitWithOps(7, 1, '2024-11-20T11:00:00.000+01:00'))).timeUs, TIME_US)
})

test('property: equals the full parse for valid events (seeded)', () => {
  const rng = makeRng(5)
  for (let i = 1; i <= 300; i++) {
    const ms = Date.parse('2020-01-01T00:00:00.000Z') + Math.floor(rng.next() * 6e10)
    const iso = new Date(ms).toISOString()
    const time = rng.next() < 0.2 ? iso.replace('Z', `${String(Math.floor(rng.next() * 1000)).padStart(3, '0')}Z`) : iso
    const kind = Math.floor(rng.next() * 4)
    const event =
      kind === 0 ? commitWithOps(i, Math.floor(rng.next() * 20), time)
      : kind === 1 ? { ...identityEvent(i), time: time as Datetime }
      : kind === 2 ? { ...accountEvent(i, rng.next() < 0.5), time: time as Datetime }
      : { ...syncEvent(i), time: time as Datetime }
    const frame = encodeEventFrame(event)
    const parsed = readEvent(frame)
    assert.ok(parsed !== null && parsed.t !== '#info')
    assert.deepEqual(clockInfo(frame), { slots: messageSlots(parsed), timeUs: datetimeToUs(parsed.time) }, `event ${i} (${event.t}, ${time})`)
  }
})

test('broken frames: no slots, no time, no throw', () => {
  const good = encodeEventFrame(commitWithOps(1, 2, TIME))
  for (let cut = 0; cut < good.length; cut += 97) {
    const info = clockInfo(good.subarray(0, cut))
    assert.ok(info.slots === 0 && info.timeUs === null, `cut at ${cut}`)
  }
  assert.deepEqual(clockInfo(new Uint8Array([0xff, 0x00])), { slots: 0, timeUs: null })
  assert.deepEqual(clockInfo(encodeMessageFrame('#commit', { ops: 'nope', time: 'yesterday' })), { slots: 0, timeUs: null })
  assert.deepEqual(clockInfo(encodeMessageFrame('#identity', { time: 12 })), { slots: 1, timeUs: null }, 'a non-text time is no time')
})
