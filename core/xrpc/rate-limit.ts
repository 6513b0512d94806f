/**
 * In-memory rate limiting with named buckets (`global` per IP, `repoWriteHour`
 * per DID, ...), fixed windows per key, bounded memory.
 *
 * A bucket is `{points, windowMs}`. A key's window opens at its first hit and
 * lasts `windowMs`; every request spends points (1, or e.g. 3 per created
 * record) and is refused once the window's total passes `points`. Refused
 * requests still count, so a client hammering past the limit stays limited
 * until the window ends. Each bucket tracks at most `keysMax` keys: a JS Map
 * iterates in insertion order and a key is re-inserted when its window
 * restarts, so the first entry is the oldest window and eviction is O(1).
 * Evicting a live key forgets its count; keysMax is sized so that only a
 * flood of distinct keys can cause it.
 *
 * Over HTTP (reference `rate-limiter-http.ts`): every rate-limited response
 * carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (unix
 * seconds) and `RateLimit-Policy: <limit>;w=<window seconds>` for the
 * tightest bucket; a refusal is 429 `RateLimitExceeded` with `Retry-After`
 * (seconds).
 */
import { assert } from '../errors.ts'
import { RATE_LIMIT_KEYS_MAX } from '../limits.ts'
import { XrpcError } from './errors.ts'

export type RateLimitWindow = { readonly points: number; readonly windowMs: number }

export type RateLimitStatus = {
  readonly bucket: string
  readonly limit: number
  readonly windowMs: number
  /** Points left in the window (0 when exceeded). */
  readonly remaining: number
  readonly resetAtMs: number
  readonly exceeded: boolean
}

type Entry = { startMs: number; used: number }

export type RateLimiterOptions = {
  buckets: { readonly [name: string]: RateLimitWindow }
  keysMax?: number
  /** Clock, for tests. */
  now?: () => number
}

export class RateLimiter {
  readonly #buckets = new Map<string, { window: RateLimitWindow; keys: Map<string, Entry> }>()
  readonly #keysMax: number
  readonly #now: () => number

  constructor(opts: RateLimiterOptions) {
    this.#keysMax = opts.keysMax ?? RATE_LIMIT_KEYS_MAX
    this.#now = opts.now ?? Date.now
    assert(Number.isInteger(this.#keysMax) && this.#keysMax > 0, 'keysMax must be a positive integer')
    for (const [name, window] of Object.entries(opts.buckets)) {
      assert(window.points > 0 && window.windowMs > 0, `rate limit bucket ${name} needs points and windowMs`)
      this.#buckets.set(name, { window, keys: new Map() })
    }
  }

  /** Spend `points` of `key`'s allowance in `bucket`. */
  consume(bucket: string, key: string, points = 1): RateLimitStatus {
    const state = this.#buckets.get(bucket)
    assert(state !== undefined, `unknown rate limit bucket ${bucket}`)
    const now = this.#now()
    let entry = state.keys.get(key)
    if (entry === undefined || now >= entry.startMs + state.window.windowMs) {
      state.keys.delete(key)
      entry = { startMs: now, used: 0 }
      state.keys.set(key, entry)
      if (state.keys.size > this.#keysMax) state.keys.delete(state.keys.keys().next().value as string)
    }
    entry.used += points
    const { points: limit, windowMs } = state.window
    return {
      bucket,
      limit,
      windowMs,
      remaining: Math.max(0, limit - entry.used),
      resetAtMs: entry.startMs + windowMs,
      exceeded: entry.used > limit,
    }
  }

  /** Forget `key` in `bucket` (e.g. after a successful login). */
  reset(bucket: string, key: string): void {
    this.#buckets.get(bucket)?.keys.delete(key)
  }

  /** Keys tracked in `bucket` (tests, metrics). */
  keyCount(bucket: string): number {
    return this.#buckets.get(bucket)?.keys.size ?? 0
  }

  now(): number {
    return this.#now()
  }
}

type HeaderTarget = { setHeader(name: string, value: string): unknown; getHeader(name: string): unknown }

const EXPOSED = 'RateLimit-Limit, RateLimit-Reset, RateLimit-Remaining, RateLimit-Policy'

export function setRateLimitHeaders(res: HeaderTarget, status: RateLimitStatus): void {
  res.setHeader('RateLimit-Limit', String(status.limit))
  res.setHeader('RateLimit-Remaining', String(status.remaining))
  res.setHeader('RateLimit-Reset', String(Math.floor(status.resetAtMs / 1000)))
  res.setHeader('RateLimit-Policy', `${status.limit};w=${Math.round(status.windowMs / 1000)}`)
  const current = res.getHeader('Access-Control-Expose-Headers')
  if (typeof current !== 'string' || !current.includes('RateLimit-Limit')) {
    res.setHeader('Access-Control-Expose-Headers', typeof current === 'string' && current !== '' ? `${current}, ${EXPOSED}` : EXPOSED)
  }
}

export type RateLimitCharge = { readonly bucket: string; readonly key: string; readonly points: number }

/**
 * Charge every bucket, set the headers of the tightest one, and throw 429
 * (with `Retry-After`) if any is exceeded.
 */
export function enforceRateLimits(limiter: RateLimiter, res: HeaderTarget, charges: readonly RateLimitCharge[]): void {
  let tightest: RateLimitStatus | undefined
  for (const charge of charges) {
    const status = limiter.consume(charge.bucket, charge.key, charge.points)
    if (tightest === undefined || tighter(status, tightest)) tightest = status
  }
  if (tightest === undefined) return
  setRateLimitHeaders(res, tightest)
  if (!tightest.exceeded) return
  const retryAfterS = Math.max(1, Math.ceil((tightest.resetAtMs - limiter.now()) / 1000))
  throw new XrpcError(429, 'RateLimitExceeded', 'Rate Limit Exceeded', {
    headers: { 'Retry-After': String(retryAfterS), 'Access-Control-Expose-Headers': `${EXPOSED}, Retry-After` },
  })
}

/** Exceeded beats not; among exceeded, the later reset; otherwise fewer points left. */
function tighter(a: RateLimitStatus, b: RateLimitStatus): boolean {
  if (a.exceeded !== b.exceeded) return a.exceeded
  if (a.exceeded) return a.resetAtMs > b.resetAtMs
  return a.remaining < b.remaining
}
