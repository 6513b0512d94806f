/**
 * The soak's verdict (scripts/soak-proc.ts) on synthetic series sampled
 * every 5 s: growth that stops in the first half (warm-up) is FLAT, a
 * steady creep above the tolerance is GROWING however noisy, a GC-like
 * sawtooth around a flat level is FLAT, and the slope is per minute. The
 * run's memory verdict is decided by own (anonymous) memory; an RSS rise
 * made only of mapped table pages is named as such, not as growth.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { memoryVerdict, RSS_SLOPE_MAX_MB_PER_MIN, slopePerMin, trend, type MemoryTrends } from '../../scripts/soak-proc.ts'
import { makeRng } from '../helpers/prng.ts'

const minutes = (n: number, f: (tS: number, i: number) => number): [number, number][] =>
  Array.from({ length: (n * 60) / 5 }, (_, i) => [i * 5, f(i * 5, i)])

test('slopePerMin is the least-squares slope per minute', { timeout: 5_000 }, () => {
  assert.equal(slopePerMin(minutes(10, (t) => 100 + t / 60 * 3)).toFixed(6), '3.000000')
  assert.equal(slopePerMin([]), 0)
  assert.equal(slopePerMin([[5, 10]]), 0)
  assert.equal(slopePerMin([[5, 10], [5, 20]]), 0)
})

test('warm-up growth that levels off in the first half is FLAT', { timeout: 5_000 }, () => {
  const t = trend(minutes(20, (s) => 120 + 100 * (1 - Math.exp(-s / 120))), RSS_SLOPE_MAX_MB_PER_MIN)
  assert.equal(t.verdict, 'FLAT')
  assert.ok(t.last > t.first + 20, 'the quarters still show the warm-up')
})

test('a steady creep above the tolerance is GROWING, with noise', { timeout: 5_000 }, () => {
  const rng = makeRng(10)
  for (const perMin of [1.5, 5]) {
    const t = trend(minutes(20, (s) => 150 + (s / 60) * perMin + (rng.next() - 0.5) * 40), RSS_SLOPE_MAX_MB_PER_MIN)
    assert.equal(t.verdict, 'GROWING', `${perMin} MB/min`)
    assert.ok(Math.abs(t.slopePerMin - perMin) < 1, `${t.slopePerMin} ≈ ${perMin}`)
  }
})

test('a GC sawtooth around a flat level is FLAT', { timeout: 5_000 }, () => {
  const t = trend(minutes(20, (_, i) => 300 + (i % 13) * 6), RSS_SLOPE_MAX_MB_PER_MIN)
  assert.equal(t.verdict, 'FLAT')
})

test('the memory verdict: own memory decides, a rise in mapped pages is named', { timeout: 5_000 }, () => {
  const flat = trend(minutes(20, () => 200), RSS_SLOPE_MAX_MB_PER_MIN)
  const growing = trend(minutes(20, (s) => 200 + (s / 60) * 3), RSS_SLOPE_MAX_MB_PER_MIN)
  const proc = (over: Partial<MemoryTrends>): MemoryTrends => ({ rss: flat, rssAnon: flat, fds: flat, ...over })

  assert.equal(memoryVerdict({ pds: proc({}), relay: proc({}) }), 'memory: own memory (anonymous RSS) FLAT in every process; fds FLAT in every process; RSS FLAT in every process')
  const mapped = memoryVerdict({ pds: proc({ rss: growing }), relay: proc({}) })
  assert.equal(mapped, 'memory: own memory (anonymous RSS) FLAT in every process; fds FLAT in every process; RSS rises in pds only by mapped table-file pages (page cache the kernel reclaims)')
  const leak = memoryVerdict({ pds: proc({}), relay: proc({ rss: growing, rssAnon: growing }), feedgen: proc({ fds: growing }) })
  assert.equal(leak, 'memory: own memory (anonymous RSS) GROWING in relay; fds GROWING in feedgen; RSS FLAT in pds, feedgen')
})
