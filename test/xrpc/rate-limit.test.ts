/**
 * RateLimiter: fixed windows at their edges, weighted points, independent
 * keys and buckets, bounded memory (a seeded model comparison), and the
 * router wiring: global rules before auth, per-method rules priced from the
 * input, rules skipped by a null key, and the bypass.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import express from 'express'
import { enforceRateLimits, RateLimiter } from '../../core/xrpc/rate-limit.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import { clientIp, createXrpcRouter } from '../../core/xrpc/server.ts'
import { RATE_LIMIT_KEYS_MAX, RATE_LIMIT_REPO_WRITE_HOUR_DID } from '../../core/limits.ts'
import { makeRng } from '../helpers/prng.ts'
import { startHttpServer } from '../helpers/http-server.ts'

function clockAt(start: number) {
  const clock = { ms: start, now: () => clock.ms }
  return clock
}

test('fixed window: the limit-th request passes, the next fails, the window end resets', () => {
  const clock = clockAt(1_000_000)
  const limiter = new RateLimiter({ buckets: { b: { points: 3, windowMs: 1_000 } }, now: clock.now })
  assert.deepEqual([1, 2, 3].map(() => limiter.consume('b', 'k').remaining), [2, 1, 0])
  const fourth = limiter.consume('b', 'k')
  assert.equal(fourth.exceeded, true)
  assert.equal(fourth.remaining, 0)
  assert.equal(fourth.resetAtMs, 1_001_000)
  clock.ms = 1_000_999
  assert.equal(limiter.consume('b', 'k').exceeded, true, 'still inside the window')
  clock.ms = 1_001_000
  const fresh = limiter.consume('b', 'k')
  assert.equal(fresh.exceeded, false)
  assert.equal(fresh.remaining, 2)
  assert.equal(fresh.resetAtMs, 1_002_000)
})

test('weighted points (repo writes: create 3, update 2, delete 1) and independent keys and buckets', () => {
  const limiter = new RateLimiter({
    buckets: { writes: { points: 5, windowMs: 60_000 }, other: { points: 1, windowMs: 60_000 } },
    now: () => 0,
  })
  assert.equal(limiter.consume('writes', 'did:a', 3).remaining, 2)
  assert.equal(limiter.consume('writes', 'did:a', 2).exceeded, false)
  assert.equal(limiter.consume('writes', 'did:a', 1).exceeded, true)
  assert.equal(limiter.consume('writes', 'did:b', 5).exceeded, false)
  assert.equal(limiter.consume('other', 'did:a').exceeded, false)
  limiter.reset('writes', 'did:a')
  assert.equal(limiter.consume('writes', 'did:a', 5).exceeded, false)
  assert.throws(() => limiter.consume('nope', 'k'), { name: 'AssertionError' })
  // The reference's repo-write bucket is wired as a named constant.
  assert.deepEqual(RATE_LIMIT_REPO_WRITE_HOUR_DID, { points: 5_000, windowMs: 3_600_000 })
})

test('bounded memory: keys beyond keysMax evict the oldest window; below it, exact against a model', () => {
  const clock = clockAt(0)
  const bounded = new RateLimiter({ buckets: { b: { points: 4, windowMs: 100 } }, keysMax: 50, now: clock.now })
  for (let i = 0; i < 10_000; i++) bounded.consume('b', `ip-${i}`)
  assert.equal(bounded.keyCount('b'), 50)
  assert.equal(new RateLimiter({ buckets: { b: { points: 1, windowMs: 1 } } }).consume('b', 'x').limit, 1)
  assert.ok(RATE_LIMIT_KEYS_MAX >= 10_000)

  for (const seed of [1, 2, 3]) {
    const rng = makeRng(seed)
    const model = new Map<string, { start: number; used: number }>()
    const limiter = new RateLimiter({ buckets: { b: { points: 4, windowMs: 100 } }, keysMax: 50, now: clock.now })
    for (let step = 0; step < 2_000; step++) {
      clock.ms += rng.int(10)
      const key = `k${rng.int(40)}`
      const points = 1 + rng.int(2)
      let entry = model.get(key)
      if (entry === undefined || clock.ms >= entry.start + 100) model.set(key, (entry = { start: clock.ms, used: 0 }))
      entry.used += points
      const got = limiter.consume('b', key, points)
      assert.equal(got.exceeded, entry.used > 4, `seed ${seed} step ${step}`)
      assert.equal(got.remaining, Math.max(0, 4 - entry.used))
    }
  }
})

test('enforceRateLimits: headers from the tightest bucket; 429 carries Retry-After', () => {
  const limiter = new RateLimiter({
    buckets: { hour: { points: 10, windowMs: 3_600_000 }, day: { points: 3, windowMs: 86_400_000 } },
    now: () => 0,
  })
  const headers = new Map<string, string>()
  const res = { setHeader: (n: string, v: string) => headers.set(n, v), getHeader: (n: string) => headers.get(n) }
  const charges = [{ bucket: 'hour', key: 'd', points: 1 }, { bucket: 'day', key: 'd', points: 1 }]
  enforceRateLimits(limiter, res, charges)
  assert.equal(headers.get('RateLimit-Limit'), '3')
  assert.equal(headers.get('RateLimit-Remaining'), '2')
  assert.equal(headers.get('RateLimit-Policy'), '3;w=86400')
  assert.equal(headers.get('RateLimit-Reset'), '86400')
  enforceRateLimits(limiter, res, charges)
  enforceRateLimits(limiter, res, charges)
  assert.throws(() => enforceRateLimits(limiter, res, charges), (err: XrpcError) => {
    assert.equal(err.status, 429)
    assert.equal(err.name, 'RateLimitExceeded')
    assert.equal(err.headers['Retry-After'], '86400')
    return true
  })
})

test('router wiring: global rule per IP, per-DID rule priced from input, null key skips, bypass', async () => {
  const limiter = new RateLimiter({ buckets: { global: { points: 100, windowMs: 60_000 }, writes: { points: 5, windowMs: 60_000 } } })
  const router = createXrpcRouter({
    rateLimiter: limiter,
    globalRateLimits: [{ bucket: 'global', key: (r) => clientIp(r) }],
    rateLimitBypass: (req) => req.headers['x-ratelimit-bypass'] === 'let-me-in',
  })
  router.procedure('io.example.write', () => undefined, {
    input: { kind: 'json' },
    auth: ({ req }) => (req.headers.authorization === undefined ? null : req.headers.authorization.slice(7)),
    rateLimits: [{
      bucket: 'writes',
      key: (ctx) => ctx.auth,
      points: (ctx) => (ctx.input?.body as { n: number }).n,
    }],
  })
  const app = express()
  app.use(router.middleware)
  const server = await startHttpServer(app)
  try {
    const write = (n: number, headers: Record<string, string> = {}) => fetch(`${server.origin}/xrpc/io.example.write`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ n }),
    })
    const alice = { authorization: 'Bearer did:alice' }
    assert.equal((await write(3, alice)).status, 200)
    const second = await write(2, alice)
    assert.equal(second.status, 200)
    assert.equal(second.headers.get('ratelimit-remaining'), '0')
    assert.equal((await write(1, alice)).status, 429)
    assert.equal((await write(5, { authorization: 'Bearer did:bob' })).status, 200)
    assert.equal((await write(50)).status, 200, 'no DID: the per-DID rule is skipped')
    assert.equal((await write(1, { ...alice, 'x-ratelimit-bypass': 'let-me-in' })).status, 200)
    // Five requests were charged to the global bucket; the bypassed one was not.
    assert.equal(limiter.consume('global', '127.0.0.1', 0).remaining, 95)
  } finally {
    await server.close()
  }
})
