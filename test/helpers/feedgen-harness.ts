/**
 * A feed generator under test: our PLC, a scripted firehose source, accounts
 * registered in that PLC, and `startFeedgen` on 127.0.0.1 (random port) over
 * a temp data dir, with fast consumer backoff and no popular-ranking cache.
 * `emit` sends an event and waits until the feedgen has handled it;
 * `skeleton` calls getFeedSkeleton and returns status and JSON body.
 */
import { createServiceJwt } from '../../core/crypto/jwt.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import { loadFeedgenConfig } from '../../feedgen/config.ts'
import type { FeedgenFlags } from '../../feedgen/config.ts'
import { feedUri } from '../../feedgen/routes.ts'
import { startFeedgen } from '../../feedgen/server.ts'
import type { FeedgenServer } from '../../feedgen/server.ts'
import { TestAccount } from './feed-accounts.ts'
import { startFirehoseSource } from './firehose-source.ts'
import type { FirehoseSource } from './firehose-source.ts'
import { startTestPlc, tempDir } from './plc.ts'
import type { TestPlc } from './plc.ts'

export const SKELETON = 'app.bsky.feed.getFeedSkeleton'

export type Skeleton = { status: number; body: { feed?: Array<{ post: string; reason?: { repost: string } }>; cursor?: string; error?: string; message?: string } }

export type FeedgenHarness = {
  plc: TestPlc
  source: FirehoseSource
  feedgen: FeedgenServer
  dataDir: string
  errors: Array<{ where: string; err: unknown }>
  account(name: string): Promise<TestAccount>
  /** Emit and wait until the feedgen has handled everything up to it. */
  emit(...events: UnsequencedEvent[]): Promise<number>
  feed(name: string): string
  skeleton(name: string, query?: { limit?: number | string; cursor?: string; token?: string; feed?: string }): Promise<Skeleton>
  /** A getFeedSkeleton service JWT from `account` (defaults: our DID, the right lxm, 60 s). */
  token(account: TestAccount, claims?: { aud?: string; lxm?: string | null; iat?: number; exp?: number }): string
  /** Stop the feedgen (keeping its data), run `between` (e.g. rewind the stored cursor), start a new one over the same directory. */
  restart(between?: (dataDir: string) => Promise<void>): Promise<void>
  close(): Promise<void>
}

export async function startFeedgenHarness(flags: Partial<FeedgenFlags> = {}): Promise<FeedgenHarness> {
  const plc = await startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })
  const source = await startFirehoseSource()
  const dir = tempDir('atfed-feedgen-')
  const errors: FeedgenHarness['errors'] = []
  const config = loadFeedgenConfig(
    { port: '0', data: dir.path, relay: source.origin, plc: plc.url, hostname: 'feed.test', keyword: '#atfed', dev: true, ...flags },
    {},
  )
  const resolver = new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true, cache: { forcedRefreshMinMs: 0 } })
  const start = async (): Promise<FeedgenServer> => {
    const server = await startFeedgen(config, {
      resolver,
      popularCacheMs: 0,
      jwtRefetchMinMs: 0,
      consumer: { client: { backoffMsMin: 10, backoffMsMax: 50 }, handlerBackoffMsMin: 5, resubscribeDelayMs: 20 },
      onError: (err, where) => void errors.push({ where, err }),
    })
    // Live-only until a cursor is stored: wait for the socket so no event is emitted into the void.
    const deadline = Date.now() + 10_000
    while ((server.consumer?.stats().stream?.connects ?? 0) < 1) {
      if (Date.now() > deadline) throw new Error('feedgen did not connect to the source')
      await new Promise((r) => setTimeout(r, 5))
    }
    return server
  }
  const h: FeedgenHarness = {
    plc,
    source,
    feedgen: await start(),
    dataDir: dir.path,
    errors,
    account: (name) => TestAccount.register(plc.url, name),
    async emit(...events) {
      let seq = 0
      for (const event of events) seq = source.emit(event)
      await h.feedgen.consumer?.whenHandled(seq)
      return seq
    },
    feed: (name) => feedUri(config.publisherDid, name),
    async skeleton(name, query = {}) {
      const url = new URL(`${h.feedgen.url}/xrpc/${SKELETON}`)
      url.searchParams.set('feed', query.feed ?? h.feed(name))
      if (query.limit !== undefined) url.searchParams.set('limit', String(query.limit))
      if (query.cursor !== undefined) url.searchParams.set('cursor', query.cursor)
      const res = await fetch(url, query.token === undefined ? {} : { headers: { authorization: `Bearer ${query.token}` } })
      return { status: res.status, body: (await res.json()) as Skeleton['body'] }
    },
    token(account, claims = {}) {
      return createServiceJwt({
        iss: account.did,
        aud: claims.aud ?? config.serviceDid,
        lxm: claims.lxm === undefined ? SKELETON : claims.lxm,
        keypair: account.signingKey,
        ...(claims.iat === undefined ? {} : { iat: claims.iat }),
        ...(claims.exp === undefined ? {} : { exp: claims.exp }),
      })
    },
    async restart(between) {
      await h.feedgen.close()
      await between?.(dir.path)
      h.feedgen = await start()
    },
    async close() {
      await h.feedgen.close()
      resolver.close()
      await source.close()
      await plc.stop()
      dir.remove()
    },
  }
  return h
}
