/**
 * The feed generator service: one data directory (FeedStore: index +
 * cursor), a FirehoseConsumer following the relay into the FeedIndexer, and
 * the HTTP surface of routes.ts. `startFeedgen` opens everything, listens,
 * then starts following; `close` stops the consumer first (its final cursor
 * lands), then the HTTP server, then the store.
 *
 * The feeds served are the modules of feeds/ (keyword, popular, following)
 * unless the caller passes its own list.
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { AtfedError } from '../core/errors.ts'
import { FEEDGEN_POPULAR_CACHE_MS } from '../core/limits.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { FirehoseConsumer } from './consumer/consumer.ts'
import type { FirehoseConsumerOptions } from './consumer/consumer-options.ts'
import type { FeedgenConfig } from './config.ts'
import { createFeedMemo } from './feeds/feed.ts'
import type { FeedModule } from './feeds/feed.ts'
import { feed as followingFeed } from './feeds/following.ts'
import { feed as keywordFeed } from './feeds/keyword.ts'
import { feed as popularFeed } from './feeds/popular.ts'
import { FeedIndexer, INDEXED_COLLECTIONS } from './indexer/indexer.ts'
import { FeedStore } from './indexer/store.ts'
import { createFeedgenApp } from './routes.ts'

export const DEFAULT_FEEDS: readonly FeedModule[] = [keywordFeed, popularFeed, followingFeed]

export type FeedgenOptions = {
  feeds?: readonly FeedModule[]
  /** Default: one over config.plcUrl (dev flag from config.dev). */
  resolver?: IdentityResolver
  now?: () => number
  popularCacheMs?: number
  /** Least time between forced key refetches per JWT issuer (default DID_CACHE_FORCED_REFRESH_MIN_MS). */
  jwtRefetchMinMs?: number
  /** Consumer tuning (tests: fast backoff). */
  consumer?: Partial<Omit<FirehoseConsumerOptions, 'url' | 'cursorStore' | 'handler' | 'verify' | 'resolver'>>
  /** Problems handled without stopping (logs); default: one line on stderr. */
  onError?: (err: unknown, where: string) => void
}

export type FeedgenServer = {
  /** `http://<listen host>:<port>` */
  url: string
  config: FeedgenConfig
  store: FeedStore
  indexer: FeedIndexer
  consumer: FirehoseConsumer | null
  resolver: IdentityResolver
  close(): Promise<void>
}

function logError(err: unknown, where: string): void {
  const e = err as { name?: string; message?: string }
  process.stderr.write(`feedgen: ${where}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n`)
}

export async function startFeedgen(config: FeedgenConfig, options: FeedgenOptions = {}): Promise<FeedgenServer> {
  const onError = options.onError ?? logError
  const now = options.now ?? Date.now
  const resolver = options.resolver ?? new IdentityResolver({ plcUrl: config.plcUrl, allowPrivateAddresses: config.dev })
  const store = await FeedStore.open(config.dataDir)
  const indexer = new FeedIndexer(store)
  const app = createFeedgenApp({
    serviceDid: config.serviceDid,
    publicUrl: config.publicUrl,
    publisherDid: config.publisherDid,
    feeds: options.feeds ?? DEFAULT_FEEDS,
    store,
    resolver,
    params: { keyword: config.keyword, popularWindowMs: config.popularWindowMs, popularCacheMs: options.popularCacheMs ?? FEEDGEN_POPULAR_CACHE_MS, now },
    memo: createFeedMemo(now),
    ...(options.jwtRefetchMinMs === undefined ? {} : { jwtRefetchMinMs: options.jwtRefetchMinMs }),
    onInternalError: (err) => onError(err, 'xrpc'),
  })
  const http = app.listen(config.port, config.listenHost)
  try {
    await once(http, 'listening')
  } catch (err) {
    await store.close()
    throw new AtfedError('ListenFailed', `cannot listen on ${config.listenHost}:${config.port}`, { cause: err })
  }
  const { port } = http.address() as AddressInfo
  const consumer =
    config.relayUrl === null
      ? null
      : new FirehoseConsumer({
          concurrency: config.concurrency,
          queueMax: config.queueMax,
          ...options.consumer,
          url: config.relayUrl,
          cursorStore: store.cursor,
          handler: indexer.handle,
          verify: config.verify,
          resolver,
          collections: INDEXED_COLLECTIONS,
          onError,
        })
  await consumer?.start()
  consumer?.done.catch((err: unknown) => onError(err, 'consumer stopped'))
  let closing: Promise<void> | null = null
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await consumer?.stop().catch((err: unknown) => onError(err, 'consumer'))
      const closed = new Promise<void>((resolve) => http.close(() => resolve()))
      http.closeAllConnections()
      await closed
      await store.close()
      if (options.resolver === undefined) resolver.close()
    })())
  const host = config.listenHost.includes(':') ? `[${config.listenHost}]` : config.listenHost
  return { url: `http://${host}:${port}`, config, store, indexer, consumer, resolver, close }
}
