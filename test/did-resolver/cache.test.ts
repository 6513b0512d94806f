import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { ResolverCache } from '../../did-resolver/cache.ts'
import type { CacheOptions, CachePolicy } from '../../did-resolver/cache.ts'
import { DID_CACHE_ENTRIES_MAX, DID_CACHE_EXPIRE_MS, DID_CACHE_STALE_MS } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'

/** A fetcher whose answers tests control: value = `${key}@${version}`, calls counted. */
function harness(options: CacheOptions & CachePolicy<string> = {}) {
  let clock = 1_000_000
  const versions = new Map<string, number>()
  const calls: string[] = []
  const gates: Array<() => void> = []
  const state = { gated: false, failing: false }
  const fetcher = async (key: string): Promise<string> => {
    calls.push(key)
    const version = versions.get(key) ?? 0 // what upstream says when the request is made
    if (state.gated) await new Promise<void>((resolve) => gates.push(resolve))
    if (state.failing) throw new Error(`fetch of ${key} failed`)
    return `${key}@${version}`
  }
  const cache = new ResolverCache<string, string>(fetcher, { staleMs: 100, expireMs: 1_000, retryMs: 50, forcedRefreshMinMs: 10, ...options, now: () => clock })
  return {
    cache,
    calls,
    state,
    bump: (key: string) => versions.set(key, (versions.get(key) ?? 0) + 1),
    advance: (ms: number) => (clock += ms),
    release: () => gates.splice(0).forEach((open) => open()),
    releaseNewestFirst: () => gates.splice(0).reverse().forEach((open) => open()),
  }
}

test('defaults come from core/limits.ts', () => {
  assert.equal(DID_CACHE_STALE_MS, 3_600_000)
  assert.equal(DID_CACHE_EXPIRE_MS, 86_400_000)
  assert.ok(DID_CACHE_ENTRIES_MAX > 0)
})

test('fresh values are served without fetching', async () => {
  const h = harness()
  assert.equal(await h.cache.get('a'), 'a@0')
  h.bump('a')
  h.advance(99)
  assert.equal(await h.cache.get('a'), 'a@0')
  assert.deepEqual(h.calls, ['a'])
  assert.equal(h.cache.stats.hits, 1)
})

test('stale values are served at once while exactly one background re-fetch runs', async () => {
  const h = harness()
  await h.cache.get('a')
  h.bump('a')
  h.advance(150) // stale, not expired
  h.state.gated = true
  const results = await Promise.all(Array.from({ length: 10 }, () => h.cache.get('a')))
  assert.deepEqual(new Set(results), new Set(['a@0']), 'every reader got the stale value immediately')
  assert.equal(h.calls.length, 2, 'one background fetch for ten stale reads')
  h.release()
  await tick()
  await tick()
  assert.equal(await h.cache.get('a'), 'a@1', 'the re-fetched value replaced the stale one')
  assert.equal(h.calls.length, 2)
})

test('a failed background re-fetch keeps the stale value and waits retryMs before trying again', async () => {
  const h = harness()
  await h.cache.get('a')
  h.advance(150)
  h.state.failing = true
  assert.equal(await h.cache.get('a'), 'a@0')
  await tick()
  assert.equal(h.calls.length, 2)
  assert.equal(await h.cache.get('a'), 'a@0')
  assert.equal(h.calls.length, 2, 'no new attempt within retryMs')
  h.advance(60)
  assert.equal(await h.cache.get('a'), 'a@0')
  assert.equal(h.calls.length, 3, 'retried after retryMs')
})

test('dropOnError: a definitive background failure ends the entry instead of serving it stale', async () => {
  const h = harness({ dropOnError: (err) => String(err).includes('failed') })
  await h.cache.get('a')
  h.advance(150)
  h.state.failing = true
  assert.equal(await h.cache.get('a'), 'a@0', 'served stale while the re-fetch runs')
  await tick()
  await tick()
  assert.equal(h.cache.peek('a'), undefined)
  await assert.rejects(h.cache.get('a'), /failed/)
})

test('staleMsFor: some values go stale sooner (capped at staleMs)', async () => {
  const h = harness({ staleMsFor: (v) => (v.startsWith('short') ? 10 : 1e9) })
  await h.cache.get('short')
  await h.cache.get('long')
  h.advance(20)
  await h.cache.get('short')
  await h.cache.get('long')
  assert.deepEqual(h.calls, ['short', 'long', 'short'], 'only the short-lived value was re-fetched')
  h.advance(100) // past staleMs: the long one is stale too, the cap applies
  await h.cache.get('long')
  assert.equal(h.calls.at(-1), 'long')
})

test('expired values are never served: the reader waits for a re-fetch', async () => {
  const h = harness()
  await h.cache.get('a')
  h.bump('a')
  h.advance(1_000)
  assert.equal(await h.cache.get('a'), 'a@1')
  h.state.failing = true
  h.advance(1_000)
  await assert.rejects(h.cache.get('a'), /failed/, 'an expired entry is not a fallback')
})

test('concurrent misses for one key share one fetch; errors are not cached', async () => {
  const h = harness()
  h.state.gated = true
  const pending = Promise.all(Array.from({ length: 20 }, () => h.cache.get('k')))
  await tick()
  assert.equal(h.calls.length, 1)
  h.release()
  assert.deepEqual(new Set(await pending), new Set(['k@0']))
  h.state.gated = false
  h.state.failing = true
  await assert.rejects(h.cache.get('x'))
  await assert.rejects(h.cache.get('x'))
  assert.equal(h.calls.filter((k) => k === 'x').length, 2)
})

test('bounded: least recently used entries are evicted at entriesMax', async () => {
  const h = harness({ entriesMax: 3 })
  for (const k of ['a', 'b', 'c']) await h.cache.get(k)
  await h.cache.get('a') // a is now most recent; b is the oldest
  await h.cache.get('d')
  assert.equal(h.cache.size, 3)
  assert.equal(h.cache.peek('b'), undefined)
  assert.equal(h.cache.peek('a'), 'a@0')
  assert.equal(h.cache.stats.evictions, 1)
})

test('property: the size never exceeds entriesMax under random traffic', async () => {
  const rng = makeRng(11)
  const h = harness({ entriesMax: 16 })
  for (let i = 0; i < 2_000; i++) {
    const key = `k${rng.int(64)}`
    if (rng.int(10) === 0) await h.cache.refresh(key)
    else assert.equal(await h.cache.get(key), `${key}@0`)
    h.advance(rng.int(30))
    assert.ok(h.cache.size <= 16)
  }
  assert.ok(h.cache.stats.evictions > 0)
})

test('refresh forces a re-fetch, and readers during it wait for the new value', async () => {
  const h = harness()
  await h.cache.get('a')
  h.bump('a')
  h.state.gated = true
  const refreshed = h.cache.refresh('a')
  const reader = h.cache.get('a')
  await tick()
  h.release()
  assert.equal(await refreshed, 'a@1')
  assert.equal(await reader, 'a@1', 'the reader did not get the pre-refresh value')
  assert.equal(h.calls.length, 2)
})

test('an older slow fetch never overwrites a newer refresh, whichever finishes first', async () => {
  for (const order of ['oldest first', 'newest first'] as const) {
    const h = harness()
    h.state.gated = true
    const first = h.cache.get('a') // fetch #1 sees version 0
    await tick()
    h.bump('a')
    const second = h.cache.refresh('a') // fetch #2 sees version 1
    await tick()
    if (order === 'oldest first') h.release()
    else h.releaseNewestFirst()
    assert.equal(await first, 'a@0', 'each caller gets its own fetch')
    assert.equal(await second, 'a@1')
    assert.equal(h.cache.peek('a'), 'a@1', order)
    assert.equal(await h.cache.get('a'), 'a@1', order)
    assert.equal(h.calls.length, 2)
  }
})

test('verifyWithRefresh: a failing check on an old value re-fetches once and retries', async () => {
  const h = harness()
  await h.cache.get('a')
  h.advance(20)
  h.bump('a') // the key rotated upstream
  assert.equal(await h.cache.verifyWithRefresh('a', (v) => v === 'a@1'), true)
  assert.equal(h.calls.length, 2)
  assert.equal(await h.cache.get('a'), 'a@1', 'the refreshed value is cached')
  // A check that never passes costs exactly one re-fetch, then fails.
  h.advance(20)
  assert.equal(await h.cache.verifyWithRefresh('a', () => false), false)
  assert.equal(h.calls.length, 3)
  // Right after a fetch, a failing check does not fetch again (flood guard).
  assert.equal(await h.cache.verifyWithRefresh('a', () => false), false)
  assert.equal(h.calls.length, 3)
})

test('verifyWithRefresh: concurrent failing checks share one re-fetch', async () => {
  const h = harness()
  await h.cache.get('a')
  h.advance(20)
  h.bump('a')
  h.state.gated = true
  const checks = Array.from({ length: 10 }, () => h.cache.verifyWithRefresh('a', (v) => v === 'a@1'))
  await tick()
  await tick()
  h.release()
  assert.deepEqual(await Promise.all(checks), Array(10).fill(true))
  assert.equal(h.calls.length, 2)
})

test('negative: past inflightMax a lookup fails with ResolverBusy', async () => {
  const h = harness({ inflightMax: 2 })
  h.state.gated = true
  const a = h.cache.get('a')
  const b = h.cache.get('b')
  await assert.rejects(h.cache.get('c'), { name: 'ResolverBusy' })
  h.release()
  await Promise.all([a, b])
  h.state.gated = false
  assert.equal(await h.cache.get('c'), 'c@0')
})
