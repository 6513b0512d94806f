/**
 * FirehoseConsumer's options (checked once, at construction: `InvalidConfig`)
 * and its stats, plus the endpoint URL rule: a relay or PDS origin becomes
 * its `com.atproto.sync.subscribeRepos` WebSocket URL.
 */
import { AtfedError } from '../../core/errors.ts'
import {
  FEEDGEN_CONSUMER_CONCURRENCY_DEFAULT,
  FEEDGEN_CONSUMER_CONCURRENCY_MAX,
  FEEDGEN_CONSUMER_QUEUE_MAX_DEFAULT,
  FEEDGEN_CONSUMER_QUEUE_MAX_MAX,
} from '../../core/limits.ts'
import type { ClientStats, SubscriptionClientOptions } from '../../core/stream/subscription-client.ts'
import type { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import type { ConsumerHandler, CursorStore } from './events.ts'

export type FirehoseConsumerOptions = {
  /** Relay or PDS: `ws(s)://`/`http(s)://` origin, or the full subscribeRepos URL. */
  url: string
  cursorStore: CursorStore
  handler: ConsumerHandler
  /** Verify each `#commit` (signature + inversion) and `#sync`; needs `resolver`. */
  verify: boolean
  /** Signing keys for `verify`, refreshed on `#identity`; null only without verify. */
  resolver: IdentityResolver | null
  concurrency?: number
  queueMax?: number
  /** Only ops of these collections reach the handler (and only their records are decoded). Default: all. */
  collections?: readonly string[]
  /** Accept commits without `prevData` (legacy producers): inversion is then skipped. */
  allowMissingPrevData?: boolean
  /** Stream client tuning (backoff, queue, keepalive). */
  client?: Omit<SubscriptionClientOptions, 'url' | 'cursor'>
  handlerBackoffMsMin?: number
  resubscribeDelayMs?: number
  /** Problems the consumer handled itself (for logs). */
  onError?: (err: unknown, where: string) => void
}

export type ConsumerStats = {
  /** Events taken from the stream (with a seq). */
  received: number
  /** Events the handler finished. */
  handled: number
  byType: { commit: number; identity: number; account: number; sync: number }
  /** Events not handed over, by error name (`InvalidEvent`, `BadCommitSignature`, ...). */
  skipped: number
  skippedBy: { [name: string]: number }
  /** Create/update ops dropped because their record was unreadable. */
  malformedOps: number
  handlerRetries: number
  identityRefreshFailures: number
  infos: number
  cursorResets: number
  resubscribes: number
  /** Highest seq handled with everything before it; and the cursor last stored. */
  watermark: number | null
  persistedCursor: number | null
  /** Received but not yet handled; tasks running now. */
  pending: number
  running: number
  failed: string | null
  stream: ClientStats | null
}

/** The bounds every consumer is held to; returns the effective concurrency and queueMax. */
export function checkConsumerOptions(options: FirehoseConsumerOptions): { concurrency: number; queueMax: number } {
  const concurrency = options.concurrency ?? FEEDGEN_CONSUMER_CONCURRENCY_DEFAULT
  const queueMax = options.queueMax ?? FEEDGEN_CONSUMER_QUEUE_MAX_DEFAULT
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > FEEDGEN_CONSUMER_CONCURRENCY_MAX) {
    throw new AtfedError('InvalidConfig', `concurrency must be 1..${FEEDGEN_CONSUMER_CONCURRENCY_MAX}`)
  }
  if (!Number.isSafeInteger(queueMax) || queueMax < concurrency || queueMax > FEEDGEN_CONSUMER_QUEUE_MAX_MAX) {
    throw new AtfedError('InvalidConfig', `queueMax must be concurrency..${FEEDGEN_CONSUMER_QUEUE_MAX_MAX}`)
  }
  if (options.verify && options.resolver === null) throw new AtfedError('InvalidConfig', 'verify needs a resolver')
  return { concurrency, queueMax }
}

/** `ws(s)://host[:port]` or `http(s)://…` → the subscribeRepos endpoint (a full endpoint URL is kept). */
export function subscribeReposUrl(input: string): string {
  let url: URL
  try {
    url = new URL(input)
  } catch (err) {
    throw new AtfedError('InvalidConfig', `not a URL: ${input}`, { cause: err })
  }
  if (url.protocol === 'http:') url.protocol = 'ws:'
  else if (url.protocol === 'https:') url.protocol = 'wss:'
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new AtfedError('InvalidConfig', `not a ws/http URL: ${input}`)
  if (!url.pathname.startsWith('/xrpc/')) url.pathname = '/xrpc/com.atproto.sync.subscribeRepos'
  url.search = ''
  url.hash = ''
  return url.toString()
}
