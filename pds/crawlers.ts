/**
 * Telling relays this PDS exists: `com.atproto.sync.requestCrawl {hostname}`
 * POSTed to every configured crawler (`--crawl`, config.crawlers).
 *
 * When:
 * - at start;
 * - after a write, debounced (`writeDebounceMs`, so a burst makes one call)
 *   and at most once per `notifyIntervalMs` (the reference's 20 minutes);
 * - again when no relay has been subscribed to our firehose for
 *   `unsubscribedMs` (checked every `idleCheckMs` against the subscription
 *   server's subscriber count) and nothing was announced for as long —
 *   a relay that dropped us hears from us again.
 * Each POST has a timeout; a network error, 5xx or 429 is retried at most
 * `retriesMax` times with doubling delays; other answers (a relay refusing
 * us) are final. Failures are logged, never thrown. `close()` stops the
 * timers and aborts calls in flight. `status()` (and `crawlerStatus(ctx)`
 * for a running PDS) gives each crawler's last final result, for the admin
 * page.
 *
 * `hostname` sent: the public URL's host (`pds.example.com`), or the whole
 * origin when the public URL is plain http (`http://localhost:2583`, local
 * networks), so a dev relay knows not to use https.
 */
import {
  PDS_CRAWL_IDLE_CHECK_INTERVAL_MS,
  PDS_CRAWL_NOTIFY_INTERVAL_MS,
  PDS_CRAWL_REQUEST_TIMEOUT_MS,
  PDS_CRAWL_RETRIES_MAX,
  PDS_CRAWL_RETRY_BACKOFF_MS,
  PDS_CRAWL_CLOSE_WAIT_MS,
  PDS_CRAWL_UNSUBSCRIBED_REANNOUNCE_MS,
  PDS_CRAWL_WRITE_DEBOUNCE_MS,
} from '../core/limits.ts'
import type { PdsContext } from './context.ts'

export type CrawlTiming = {
  writeDebounceMs: number
  notifyIntervalMs: number
  idleCheckMs: number
  unsubscribedMs: number
  requestTimeoutMs: number
  retriesMax: number
  retryBackoffMs: number
}

export const CRAWL_TIMING: CrawlTiming = {
  writeDebounceMs: PDS_CRAWL_WRITE_DEBOUNCE_MS,
  notifyIntervalMs: PDS_CRAWL_NOTIFY_INTERVAL_MS,
  idleCheckMs: PDS_CRAWL_IDLE_CHECK_INTERVAL_MS,
  unsubscribedMs: PDS_CRAWL_UNSUBSCRIBED_REANNOUNCE_MS,
  requestTimeoutMs: PDS_CRAWL_REQUEST_TIMEOUT_MS,
  retriesMax: PDS_CRAWL_RETRIES_MAX,
  retryBackoffMs: PDS_CRAWL_RETRY_BACKOFF_MS,
}

/** A crawler's last announcement: when it ended and how ('ok', 'HTTP 4xx', 'failed after N attempts'). */
export type CrawlerStatus = { crawler: string; lastResult: string | null; lastResultAt: string | null; lastOkAt: string | null }

export type CrawlerNotifierOptions = {
  crawlers: readonly string[]
  /** This PDS's public URL (see the module header for what is sent). */
  publicUrl: string
  /** Current firehose subscribers (SubscriptionServer.stats). */
  subscribers: () => number
  timing?: Partial<CrawlTiming>
  log?: (message: string) => void
}

/** The `hostname` a relay is asked to crawl. */
export function crawlHostname(publicUrl: string): string {
  const url = new URL(publicUrl)
  return url.protocol === 'http:' ? url.origin : url.host
}

export class CrawlerNotifier {
  readonly #options: CrawlerNotifierOptions
  readonly #timing: CrawlTiming
  readonly #body: string
  readonly #abort = new AbortController()
  readonly #idleTimer: NodeJS.Timeout
  #writeTimer: NodeJS.Timeout | null = null
  #announcing: Promise<void> | null = null
  #lastAnnouncedAt = Date.now()
  #lastSubscribedAt = Date.now()
  #closed = false
  readonly #status = new Map<string, CrawlerStatus>()
  /** Announcements started (tests). */
  announcements = 0

  constructor(options: CrawlerNotifierOptions) {
    this.#options = options
    this.#timing = { ...CRAWL_TIMING, ...options.timing }
    this.#body = JSON.stringify({ hostname: crawlHostname(options.publicUrl) })
    for (const crawler of options.crawlers) this.#status.set(crawler, { crawler, lastResult: null, lastResultAt: null, lastOkAt: null })
    this.#idleTimer = setInterval(() => this.#checkIdle(), this.#timing.idleCheckMs)
    this.#idleTimer.unref()
    this.announce()
  }

  /** After a repo write (WriteHook afterCommit). */
  notifyOfWrite(): void {
    if (this.#closed || this.#writeTimer !== null) return
    if (Date.now() - this.#lastAnnouncedAt < this.#timing.notifyIntervalMs) return
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = null
      this.announce()
    }, this.#timing.writeDebounceMs)
    this.#writeTimer.unref()
  }

  /** Ask every crawler now (unless an announcement is still running). */
  announce(): void {
    if (this.#closed || this.#announcing !== null || this.#options.crawlers.length === 0) return
    this.#lastAnnouncedAt = Date.now()
    this.announcements++
    this.#announcing = Promise.all(this.#options.crawlers.map((crawler) => this.#post(crawler))).then(() => {
      this.#announcing = null
    })
  }

  /** Each configured crawler's last final result, in configuration order. */
  status(): CrawlerStatus[] {
    return [...this.#status.values()].map((entry) => ({ ...entry }))
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#idleTimer)
    if (this.#writeTimer !== null) clearTimeout(this.#writeTimer)
    this.#abort.abort()
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, PDS_CRAWL_CLOSE_WAIT_MS)
    })
    await Promise.race([this.#announcing, grace])
    clearTimeout(timer)
  }

  #checkIdle(): void {
    const now = Date.now()
    if (this.#options.subscribers() > 0) {
      this.#lastSubscribedAt = now
      return
    }
    if (now - Math.max(this.#lastSubscribedAt, this.#lastAnnouncedAt) >= this.#timing.unsubscribedMs) this.announce()
  }

  async #post(crawler: string): Promise<void> {
    const url = `${crawler}/xrpc/com.atproto.sync.requestCrawl`
    for (let attempt = 0; !this.#closed; attempt++) {
      const outcome = await this.#postOnce(url)
      if (outcome === 'ok') return this.#record(crawler, 'ok')
      if (outcome !== 'retry' || attempt >= this.#timing.retriesMax) {
        const result = outcome === 'retry' ? `failed after ${attempt + 1} attempts` : outcome
        this.#record(crawler, result)
        this.#log(`pds: requestCrawl to ${crawler} failed (${result})`)
        return
      }
      await this.#sleep(this.#timing.retryBackoffMs * 2 ** attempt)
    }
  }

  /** 'ok', 'retry' (network error, timeout, 5xx, 429) or the final status text. */
  async #postOnce(url: string): Promise<string> {
    try {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timing.requestTimeoutMs)])
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: this.#body, signal })
      // Not awaited: a cancel racing the abort can hang in Node 20's fetch.
      res.body?.cancel().catch(() => {})
      if (res.ok) return 'ok'
      return res.status >= 500 || res.status === 429 ? 'retry' : `HTTP ${res.status}`
    } catch {
      return 'retry'
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  #record(crawler: string, result: string): void {
    const at = new Date().toISOString()
    const previous = this.#status.get(crawler)
    this.#status.set(crawler, { crawler, lastResult: result, lastResultAt: at, lastOkAt: result === 'ok' ? at : (previous?.lastOkAt ?? null) })
  }

  #log(message: string): void {
    ;(this.#options.log ?? console.warn)(message)
  }
}

const notifiers = new WeakMap<PdsContext, CrawlerNotifier>()

/** The running PDS's crawlers and their last results; empty when none is configured. */
export function crawlerStatus(ctx: PdsContext): CrawlerStatus[] {
  return notifiers.get(ctx)?.status() ?? []
}

/**
 * Start announcing for a running PDS: a write hook, timers, and a cleanup
 * on the context. Nothing happens when no crawler is configured.
 */
export function startCrawlers(ctx: PdsContext, options: { subscribers: () => number; timing?: Partial<CrawlTiming> }): void {
  if (ctx.config.crawlers.length === 0) return
  const notifier = new CrawlerNotifier({ crawlers: ctx.config.crawlers, publicUrl: ctx.publicUrl, ...options })
  notifiers.set(ctx, notifier)
  ctx.writeHooks.push({ afterCommit: () => notifier.notifyOfWrite() })
  ctx.cleanups.push(() => notifier.close())
}
