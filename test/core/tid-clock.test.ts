/**
 * TID encoding and the monotonic TidClock: known values, round trips, and
 * monotonicity under a frozen, a backwards and a jumping time source.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  TidClock,
  compareTids,
  isTid,
  parseTid,
  tidClockId,
  tidFromTimestampUs,
  tidToTimestampUs,
} from '../../core/syntax/tid.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import { makeRng } from '../helpers/prng.ts'

test('known TID decodes to its timestamp and clock id', () => {
  const tid = parseTid('3jzfcijpj2z2a')
  assert.equal(tidToTimestampUs(tid), 1688137381887007)
  assert.equal(tidClockId(tid), 6)
  assert.equal(new Date(tidToTimestampUs(tid) / 1000).toISOString(), '2023-06-30T15:03:01.887Z')
  assert.equal(tidFromTimestampUs(1688137381887007, 6), '3jzfcijpj2z2a')
  assert.equal(tidFromTimestampUs(0, 0), '2222222222222')
  assert.equal(tidFromTimestampUs(Number.MAX_SAFE_INTEGER, 1023), 'bzzzzzzzzzzzz')
})

test('encode/decode round trip and order agree with numeric order (seeded)', () => {
  const rng = makeRng(0x71d)
  for (let i = 0; i < 2_000; i++) {
    const us = Math.floor(rng.next() * Number.MAX_SAFE_INTEGER)
    const clockId = rng.int(1024)
    const tid = tidFromTimestampUs(us, clockId)
    assert.ok(isTid(tid), tid)
    assert.equal(tidToTimestampUs(tid), us)
    assert.equal(tidClockId(tid), clockId)
    const us2 = Math.floor(rng.next() * Number.MAX_SAFE_INTEGER)
    const other = tidFromTimestampUs(us2, clockId)
    assert.equal(Math.sign(compareTids(tid, other)), Math.sign(us - us2))
  }
})

test('tidFromTimestampUs rejects out-of-range inputs by name', () => {
  assert.throws(() => tidFromTimestampUs(-1, 0), { name: 'InvalidTid' })
  assert.throws(() => tidFromTimestampUs(1.5, 0), { name: 'InvalidTid' })
  assert.throws(() => tidFromTimestampUs(Number.MAX_SAFE_INTEGER + 1, 0), { name: 'InvalidTid' })
  assert.throws(() => tidFromTimestampUs(0, 1024), { name: 'InvalidTid' })
  assert.throws(() => tidFromTimestampUs(0, -1), { name: 'InvalidTid' })
  assert.throws(() => new TidClock({ clockId: 1024 }), { name: 'InvalidTid' })
})

function assertStrictlyIncreasing(tids: Tid[]): void {
  for (let i = 1; i < tids.length; i++) {
    assert.ok(compareTids(tids[i - 1] as Tid, tids[i] as Tid) < 0, `${tids[i - 1]} !< ${tids[i]} at ${i}`)
  }
}

test('10k calls under a frozen clock are strictly increasing', () => {
  const clock = new TidClock({ nowMs: () => 1_700_000_000_000, clockId: 7 })
  const tids = Array.from({ length: 10_000 }, () => clock.next())
  assertStrictlyIncreasing(tids)
  assert.equal(new Set(tids).size, tids.length)
  assert.ok(tids.every((t) => isTid(t) && tidClockId(t) === 7))
  assert.equal(tidToTimestampUs(tids[0] as Tid), 1_700_000_000_000_000)
})

test('a clock going backwards never makes TIDs go backwards', () => {
  const rng = makeRng(42)
  let now = 1_700_000_000_000
  const clock = new TidClock({ nowMs: () => now })
  const tids: Tid[] = []
  for (let i = 0; i < 10_000; i++) {
    now += rng.int(5) - 3 // mostly backwards, sometimes forwards
    if (i === 5_000) now -= 86_400_000 // one big jump back
    tids.push(clock.next())
  }
  assertStrictlyIncreasing(tids)
})

test('the clock follows real time when it moves forward', () => {
  let now = 1_700_000_000_000
  const clock = new TidClock({ nowMs: () => now, clockId: 0 })
  clock.next()
  now += 60_000
  assert.equal(tidToTimestampUs(clock.next()), now * 1000)
})

test('random clock id is 0..31 and fixed per clock', () => {
  for (let i = 0; i < 50; i++) {
    const clock = new TidClock()
    assert.ok(clock.clockId >= 0 && clock.clockId <= 31)
    assert.equal(tidClockId(clock.next()), clock.clockId)
    assert.equal(tidClockId(clock.next()), clock.clockId)
  }
})

test('nextAfter(prev) > prev, also when prev is in the future', () => {
  const now = 1_700_000_000_000
  const clock = new TidClock({ nowMs: () => now, clockId: 3 })
  const future = tidFromTimestampUs((now + 3_600_000) * 1000, 31)
  const next = clock.nextAfter(future)
  assert.ok(compareTids(next, future) > 0)
  assert.ok(compareTids(clock.next(), next) > 0, 'next() stays after nextAfter()')
  // Same timestamp as ours but a higher clock id.
  const past = tidFromTimestampUs(now * 1000 - 5, 0)
  assert.ok(compareTids(clock.nextAfter(past), past) > 0)
  // Far future, beyond the exact-number range: string arithmetic stays exact.
  for (const prev of ['bzzzzzzzzzzzz', 'c222222222222', 'hzzzzzzzzzzz2', 'jzzzzzzzzzx22']) {
    const fresh = new TidClock({ nowMs: () => now })
    const after = fresh.nextAfter(prev)
    assert.ok(compareTids(after, parseTid(prev)) > 0, prev)
    assert.ok(compareTids(fresh.next(), after) > 0, prev)
  }
})

test('nextAfter chains strictly for 10k revs (seeded prevs)', () => {
  const rng = makeRng(7)
  const clock = new TidClock({ nowMs: () => 1_700_000_000_000 })
  let prev = clock.next()
  for (let i = 0; i < 10_000; i++) {
    const next = clock.nextAfter(rng.int(10) === 0 ? tidFromTimestampUs(rng.int(2 ** 52), rng.int(1024)) : prev)
    assert.ok(compareTids(next, prev) > 0)
    prev = next
  }
})

test('nextAfter rejects a bad prev and the largest TID by name', () => {
  const clock = new TidClock()
  assert.throws(() => clock.nextAfter('not-a-tid'), { name: 'InvalidTid' })
  assert.throws(() => clock.nextAfter('jzzzzzzzzzzzz'), { name: 'InvalidTid' })
})
