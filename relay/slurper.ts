/**
 * The upstream side: one subscribeRepos connection per host, each feeding
 * that host's ingest (ingest.ts).
 *
 * Per host, a loop:
 * - a SubscriptionClient (core/stream) from the host's cursor (none for a
 *   new host: live only, no backfill). It validates frames, drops repeated
 *   seqs, reconnects with capped, jittered exponential backoff
 *   (RELAY_HOST_BACKOFF_MS_MIN..MAX), and gives up after
 *   RELAY_HOST_FAILURES_MAX failed connections in a row;
 * - before each message, the host's rate limiter (hosts/rate-limiter.ts):
 *   over the limit, the loop waits (the host reads as `throttled`; its socket
 *   pauses once the client queue is full) and other hosts are unaffected;
 * - given up → `offline`, then a describeServer probe every
 *   RELAY_HOST_OFFLINE_RETRY_MS, forever, and a new subscription (from the
 *   cursor) when the host answers;
 * - a FutureCursor error → `idle`, cursor reset to "live", no reconnect (as
 *   indigo; a requestCrawl brings it back);
 * - banned (admin) → the subscription is closed.
 * Frames over FRAME_BYTES_MAX are refused by the client's read limit
 * (connection dropped, counted as 'FrameTooLarge').
 *
 * A host without a cursor (new, or reset by FutureCursor) gets a durable one
 * on its first event, BEFORE that event is taken: cursor = seq - 1, written
 * at once (sequencer.flush). Otherwise, until the first event batch landed,
 * the stored record would still say "no cursor", and a relay killed in that
 * window would come back live and never fetch what it missed. Anchoring at
 * the first frame keeps the reference relay's "a new host is followed live,
 * no backfill" (subscribing from cursor 0 instead would replay the host's
 * whole retained window on every requestCrawl); from the first frame on,
 * nothing the host sends is lost to a crash.
 */
import { isAtfedError } from '../core/errors.ts'
import {
  RELAY_HOST_BACKOFF_MS_MAX,
  RELAY_HOST_BACKOFF_MS_MIN,
  RELAY_HOST_FAILURES_MAX,
  RELAY_HOST_OFFLINE_RETRY_MS,
  RELAY_HOST_ERROR_CHARS_MAX,
} from '../core/limits.ts'
import { SubscriptionClient } from '../core/stream/subscription-client.ts'
import type { HostLimits } from './hosts/host-limits.ts'
import { hostStreamUrl } from './hosts/host-name.ts'
import type { HostName } from './hosts/host-name.ts'
import type { HostProbe } from './hosts/probe.ts'
import type { HostRecord, HostRegistry } from './hosts/host-registry.ts'
import { HostRateLimiter } from './hosts/rate-limiter.ts'
import { HostIngest } from './ingest.ts'
import type { IngestDeps } from './ingest.ts'

export type SlurperOptions = {
  readonly ingest: IngestDeps
  readonly hosts: HostRegistry
  readonly probe: HostProbe
  readonly backoffMsMin?: number
  readonly backoffMsMax?: number
  readonly failuresMax?: number
  readonly offlineRetryMs?: number
  readonly now?: () => number
  readonly log?: (message: string) => void
}

class HostSubscription {
  readonly ingest: HostIngest
  readonly #options: SlurperOptions
  readonly #limiter: HostRateLimiter
  #client: SubscriptionClient | null = null
  #stopped = false
  #wake: (() => void) | null = null
  readonly done: Promise<void>

  constructor(record: HostRecord, options: SlurperOptions) {
    this.#options = options
    this.ingest = new HostIngest(record, options.ingest)
    this.#limiter = new HostRateLimiter(record.limits, options.now)
    this.done = this.#run().catch((err: unknown) => options.log?.(`relay: host ${record.hostname} stopped: ${String(err)}`))
  }

  get record(): HostRecord {
    return this.ingest.host
  }

  setLimits(limits: HostLimits): void {
    this.#limiter.setLimits(limits)
  }

  stop(): Promise<void> {
    this.#stopped = true
    this.#client?.close()
    this.#wake?.()
    return this.done
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const outcome = await this.#consume()
      await this.ingest.drain()
      if (this.#stopped || outcome === 'closed') return
      if (outcome === 'future-cursor') return this.#setStatus('idle', 'FutureCursor: the host is behind our cursor', null)
      this.#setStatus('offline', outcome.message)
      await this.#probeUntilUp()
    }
  }

  /** One client's life: how it ended. */
  async #consume(): Promise<'closed' | 'future-cursor' | { message: string }> {
    const o = this.#options
    const client = new SubscriptionClient({
      url: hostStreamUrl(this.record),
      cursor: this.record.cursor,
      backoffMsMin: o.backoffMsMin ?? RELAY_HOST_BACKOFF_MS_MIN,
      backoffMsMax: o.backoffMsMax ?? RELAY_HOST_BACKOFF_MS_MAX,
      failuresMax: o.failuresMax ?? RELAY_HOST_FAILURES_MAX,
      onConnectionError: (err) => this.ingest.connectionError(err),
    })
    this.#client = client
    let duplicates = 0
    try {
      for await (const message of client) {
        duplicates = this.#countDuplicates(client, duplicates)
        await this.#throttle()
        if (this.#stopped) break
        if (message.kind === 'event' && this.record.cursor === null) await this.#anchorCursor(message.event.seq)
        await this.ingest.push(message)
      }
      return 'closed'
    } catch (err) {
      if (isAtfedError(err, 'FutureCursor')) return 'future-cursor'
      return { message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
    } finally {
      client.close()
      this.#client = null
    }
  }

  /** Make "just before this first event" the host's durable cursor (see the header). */
  async #anchorCursor(seq: number): Promise<void> {
    this.#options.hosts.update(this.record, (r) => (r.cursor = Math.max(0, seq - 1)))
    await this.#options.ingest.sequencer.flush()
  }

  /** The client drops events whose seq does not advance; count them as this host's drops. */
  #countDuplicates(client: SubscriptionClient, seen: number): number {
    const now = client.stats().duplicates
    for (let i = seen; i < now; i++) this.#options.hosts.countDrop(this.record, 'DuplicateSeq', 'seq did not advance on the stream')
    return now
  }

  async #throttle(): Promise<void> {
    for (;;) {
      const waitMs = this.#limiter.tryTake()
      if (waitMs === 0 || this.#stopped) return
      this.#options.hosts.markThrottled(this.record.hostname, (this.#options.now ?? Date.now)())
      await this.#sleep(Math.min(waitMs, 1_000))
    }
  }

  async #probeUntilUp(): Promise<void> {
    while (!this.#stopped) {
      await this.#sleep(this.#options.offlineRetryMs ?? RELAY_HOST_OFFLINE_RETRY_MS)
      if (this.#stopped) return
      try {
        await this.#options.probe(this.record)
        this.#setStatus('active', null)
        return
      } catch (err) {
        this.#setStatus('offline', err instanceof Error ? err.message : String(err))
      }
    }
  }

  #setStatus(status: HostRecord['status'], lastError: string | null, cursor?: null): void {
    this.#options.hosts.update(this.record, (r) => {
      if (r.status !== 'banned') r.status = status
      if (lastError !== null) r.lastError = lastError.slice(0, RELAY_HOST_ERROR_CHARS_MAX)
      if (cursor === null) r.cursor = null
    })
    this.#options.ingest.sequencer.poke()
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }
}

export class Slurper {
  readonly #options: SlurperOptions
  readonly #subs = new Map<HostName, HostSubscription>()

  constructor(options: SlurperOptions) {
    this.#options = options
  }

  /** Start reading `record`'s stream unless it already is (or it is banned). */
  subscribe(record: HostRecord): void {
    if (record.status === 'banned' || this.#subs.has(record.hostname)) return
    const sub = new HostSubscription(record, this.#options)
    this.#subs.set(record.hostname, sub)
    void sub.done.then(() => {
      if (this.#subs.get(record.hostname) === sub) this.#subs.delete(record.hostname)
    })
  }

  async unsubscribe(hostname: HostName): Promise<void> {
    const sub = this.#subs.get(hostname)
    this.#subs.delete(hostname)
    await sub?.stop()
  }

  isSubscribed(hostname: HostName): boolean {
    return this.#subs.has(hostname)
  }

  ingestOf(hostname: HostName): HostIngest | undefined {
    return this.#subs.get(hostname)?.ingest
  }

  setLimits(hostname: HostName, limits: HostLimits): void {
    this.#subs.get(hostname)?.setLimits(limits)
  }

  async close(): Promise<void> {
    const subs = [...this.#subs.values()]
    this.#subs.clear()
    await Promise.all(subs.map((sub) => sub.stop()))
  }
}
