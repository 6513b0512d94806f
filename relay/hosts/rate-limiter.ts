/**
 * A host's event-rate limiter: three token buckets (per second, hour, day),
 * each holding up to its limit and refilled continuously at limit/period.
 * An event passes when every bucket has a whole token; then one is taken from
 * each. Otherwise `waitMs()` says how long until all three will have one.
 *
 * Throttling is backpressure, not loss (as indigo): the slurper waits before
 * it takes the host's next frame, its client queue fills, the socket is
 * paused and TCP pushes back on the host. Other hosts are unaffected. Buckets
 * start full, so a quiet host may burst up to one window's worth.
 */
import type { HostLimits } from './host-limits.ts'

const SECOND_MS = 1_000
const HOUR_MS = 60 * 60 * 1000
const DAY_MS = 24 * HOUR_MS

class TokenBucket {
  #capacity: number
  #perMs: number
  #tokens: number
  #at: number

  constructor(limit: number, periodMs: number, nowMs: number) {
    this.#capacity = limit
    this.#perMs = limit / periodMs
    this.#tokens = limit
    this.#at = nowMs
  }

  setLimit(limit: number, periodMs: number, nowMs: number): void {
    this.#refill(nowMs)
    this.#capacity = limit
    this.#perMs = limit / periodMs
    this.#tokens = Math.min(this.#tokens, limit)
  }

  /** Milliseconds until a whole token is available (0: now). */
  waitMs(nowMs: number): number {
    this.#refill(nowMs)
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs)
  }

  take(): void {
    this.#tokens -= 1
  }

  #refill(nowMs: number): void {
    const elapsed = nowMs - this.#at
    if (elapsed > 0) this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs)
    this.#at = Math.max(this.#at, nowMs)
  }
}

export class HostRateLimiter {
  readonly #now: () => number
  readonly #buckets: [TokenBucket, TokenBucket, TokenBucket]

  constructor(limits: HostLimits, now: () => number = Date.now) {
    this.#now = now
    const t = now()
    this.#buckets = [
      new TokenBucket(limits.eventsPerSecond, SECOND_MS, t),
      new TokenBucket(limits.eventsPerHour, HOUR_MS, t),
      new TokenBucket(limits.eventsPerDay, DAY_MS, t),
    ]
  }

  setLimits(limits: HostLimits): void {
    const t = this.#now()
    this.#buckets[0].setLimit(limits.eventsPerSecond, SECOND_MS, t)
    this.#buckets[1].setLimit(limits.eventsPerHour, HOUR_MS, t)
    this.#buckets[2].setLimit(limits.eventsPerDay, DAY_MS, t)
  }

  /** Take a token from every window and return 0, or return how long to wait (nothing taken). */
  tryTake(): number {
    const t = this.#now()
    let wait = 0
    for (const bucket of this.#buckets) wait = Math.max(wait, bucket.waitMs(t))
    if (wait > 0) return wait
    for (const bucket of this.#buckets) bucket.take()
    return 0
  }
}
