/**
 * Bench section `feedgen`: events indexed per second from a recorded
 * firehose replay (without and with verification), and getFeedSkeleton
 * requests per second with p99 latency, per feed.
 *
 * The stream (feedgen-data.ts): real signed #commit frames of `repos`
 * accounts registered in a local PLC (posts, likes, reposts, follows; the
 * viewer follows every other account), served from cursor 0 by a scripted
 * host in its own process (relay-ingest-host.ts) over a loopback WebSocket.
 *
 * ours (feedgen-replay.ts): FirehoseConsumer + FeedIndexer into a fresh
 *   FeedStore, once without verification and once verifying every commit
 *   (k256 signature + sync 1.1 inversion); then `startFeedgen` over the
 *   verified store (no firehose) and a load child per feed, 16 requests in
 *   flight, limit 50; `following` carries a service JWT (verified on every
 *   request). The `following-before` row is the previous following handler
 *   (feedgen-following-before.ts) on the same server: the before/after of
 *   the merge over cached author heads (an eighth of the requests: it is slow).
 * reference (feedgen-reference.ts): an indexer built from @ipld/dag-cbor +
 *   @atproto/repo + level over the same frames, one event at a time, as the
 *   official feed generator template consumes; with verification it runs
 *   the same checks through @atproto/repo. There is no reference server for
 *   the skeleton rows.
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServiceJwt } from '../core/crypto/jwt.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { loadFeedgenConfig } from '../feedgen/config.ts'
import { feedUri } from '../feedgen/routes.ts'
import { DEFAULT_FEEDS, startFeedgen } from '../feedgen/server.ts'
import type { RecordedStream } from './feedgen-data.ts'
import { previousFollowingFeed } from './feedgen-following-before.ts'
import { referenceReplay } from './feedgen-reference.ts'
import { replayIndex, runLoad } from './feedgen-replay.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { withRecordedHost, withSavedHost } from './recorded-host.ts'

const FULL = { repos: 200, events: 10_000, requests: 4_000, warmUp: 1_000 }
const QUICK = { repos: 40, events: 1_500, requests: 600, warmUp: 300 }
type Sizes = typeof FULL
const CONCURRENCY = 16
const LIMIT = 50

const NOTE_INDEX = 'recorded #commit frames (posts, likes, reposts, follows) replayed from cursor 0 over a loopback WebSocket from a host process, until the last event is written (after an untimed warm-up replay of the first events, both sides); reference: @ipld/dag-cbor + @atproto/repo + level, one event at a time, as the feed generator template'
const NOTE_SKELETON = `getFeedSkeleton, limit ${LIMIT}, ${CONCURRENCY} requests in flight from a load process over keep-alive HTTP; following carries a service JWT verified per request`
const ROW_PLAIN = 'index replay, no verification'
const ROW_VERIFIED = 'index replay, verified (k256 signature + inversion)'
const FEEDS = ['keyword', 'popular', 'following', 'following-before'] as const

/** Where ours leaves the frames for the reference side of the same run (both are children of one runner). */
const sharedDir = (): string => join(tmpdir(), `atfed-bench-feedgen-${process.ppid}`)

const quiet = { onError: () => {} }

async function measureSkeletons(context: SectionContext, sizes: Sizes, run: { plcUrl: string; dataDir: string; stream: RecordedStream }): Promise<void> {
  const config = loadFeedgenConfig({ port: '0', data: run.dataDir, plc: run.plcUrl, hostname: 'feed.test', keyword: '#atfed', dev: true }, {})
  const resolver = new IdentityResolver({ plcUrl: run.plcUrl, allowPrivateAddresses: true })
  const server = await startFeedgen(config, { ...quiet, resolver, feeds: [...DEFAULT_FEEDS, previousFollowingFeed] })
  try {
    const viewer = run.stream.accounts[0]!
    const token = createServiceJwt({ iss: viewer.did, aud: config.serviceDid, lxm: 'app.bsky.feed.getFeedSkeleton', keypair: viewer.signingKey, exp: Math.floor(Date.now() / 1000) + 3600 })
    const rates = new Map<string, number>()
    for (const name of FEEDS) {
      // The previous handler is ~20x slower at full size: an eighth of the requests keeps the section within minutes.
      const requests = name === 'following-before' ? Math.ceil(sizes.requests / 8) : sizes.requests
      context.progress(`getFeedSkeleton ${name}: ${requests} requests`)
      const url = `${server.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri(config.publisherDid, name))}&limit=${LIMIT}`
      const load = await runLoad(url, { requests, concurrency: CONCURRENCY, ...(name.startsWith('following') ? { token } : {}) })
      const label = name === 'following-before' ? 'following, previous handler' : name
      context.record({ name: `getFeedSkeleton ${label}`, value: load.perSecond, unit: 'req/s', higherIsBetter: true, note: NOTE_SKELETON })
      context.record({ name: `getFeedSkeleton ${label} p99`, value: load.p99, unit: 'ms', higherIsBetter: false })
      rates.set(name, load.perSecond)
    }
    const after = rates.get('following')!
    const before = rates.get('following-before')!
    context.info(`following feed (viewer follows ${sizes.repos - 1} accounts): k-way merge over cached author heads ${Math.round(after)} req/s vs previous handler ${Math.round(before)} req/s = ${(after / before).toFixed(1)}x`)
    context.info(`RSS of this process after the skeleton loads: ${Math.round(process.memoryUsage.rss() / 1e6)} MB (its peak includes recording the stream: ${sizes.repos} repos in memory)`)
  } finally {
    await server.close()
    resolver.close()
  }
}

async function runOurs(context: SectionContext, sizes: Sizes): Promise<void> {
  context.progress(`recording ${sizes.events} events of ${sizes.repos} accounts`)
  await withRecordedHost(sharedDir(), { repos: sizes.repos, events: sizes.events, mix: 'feed' }, async ({ host, plcUrl, stream }) => {
    const bytes = stream.frames.reduce((sum, f) => sum + f.length, 0)
    context.info(`stream: ${stream.frames.length} #commit frames, ${Math.round(bytes / stream.frames.length)} B on average, ${sizes.repos} accounts`)
    const base = { origin: host.origin, plcUrl, dids: [...stream.keys.keys()], lastSeq: stream.frames.length, warmUp: sizes.warmUp }
    const dirs = { plain: join(sharedDir(), 'plain'), verified: join(sharedDir(), 'verified') }
    context.progress('index replay, no verification')
    const plain = await replayIndex({ ...base, dataDir: dirs.plain, verify: false })
    context.record({ name: ROW_PLAIN, value: plain, unit: 'events/s', higherIsBetter: true, note: NOTE_INDEX })
    context.progress('index replay, verified')
    const verified = await replayIndex({ ...base, dataDir: dirs.verified, verify: true })
    context.record({ name: ROW_VERIFIED, value: verified, unit: 'events/s', higherIsBetter: true, note: NOTE_INDEX })
    await measureSkeletons(context, sizes, { plcUrl, dataDir: dirs.verified, stream })
    rmSync(dirs.plain, { recursive: true, force: true })
    rmSync(dirs.verified, { recursive: true, force: true })
  })
}

async function runReference(context: SectionContext, sizes: Sizes): Promise<void> {
  await withSavedHost(sharedDir(), { repos: sizes.repos, events: sizes.events, mix: 'feed' }, async ({ host, stream }) => {
    context.progress('reference index replay, no verification')
    await referenceReplay(host.origin, sizes.warmUp, null) // untimed warm-up, as ours
    const plain = await referenceReplay(host.origin, stream.frames.length, null)
    context.record({ name: ROW_PLAIN, value: plain, unit: 'events/s', higherIsBetter: true, note: NOTE_INDEX })
    context.progress('reference index replay, verified')
    await referenceReplay(host.origin, sizes.warmUp, stream.keys)
    const verified = await referenceReplay(host.origin, stream.frames.length, stream.keys)
    context.record({ name: ROW_VERIFIED, value: verified, unit: 'events/s', higherIsBetter: true, note: NOTE_INDEX })
  })
}

export const section: BenchSection = {
  name: 'feedgen',
  title: 'Feed generator: events indexed/s from a recorded firehose (with and without verification); getFeedSkeleton req/s and p99',
  sides: ['ours', 'reference'],
  async run(side, context) {
    const sizes = context.quick ? QUICK : FULL
    if (side === 'ours') await runOurs(context, sizes)
    else await runReference(context, sizes)
  },
}
