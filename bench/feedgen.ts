/**
 * One-off: the feed generator's two numbers.
 *
 * 1. Events indexed per second from a recorded firehose: `events` real signed
 *    #commit events (posts, likes, reposts, follows of `repos` DIDs registered
 *    in a local PLC) are recorded in a scripted subscribeRepos source; a fresh
 *    feedgen store then replays them from cursor 0 through FirehoseConsumer +
 *    FeedIndexer, once without and once with verification (signature +
 *    inversion; keys cached after the first commit of each repo).
 * 2. getFeedSkeleton requests per second and latency percentiles, per feed,
 *    from a load child process (`bench/feedgen-load.ts`, so server and client
 *    each get a core) with `concurrency` requests in flight; `following`
 *    carries a service JWT (verified on every request, key cached).
 *
 *   node --import tsx bench/feedgen.ts [events=5000] [repos=50] [requests=3000] [concurrency=16]
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createServiceJwt } from '../core/crypto/jwt.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { FirehoseConsumer } from '../feedgen/consumer/consumer.ts'
import { loadFeedgenConfig } from '../feedgen/config.ts'
import { FeedIndexer, INDEXED_COLLECTIONS } from '../feedgen/indexer/indexer.ts'
import { FeedStore } from '../feedgen/indexer/store.ts'
import { feedUri } from '../feedgen/routes.ts'
import { startFeedgen } from '../feedgen/server.ts'
import { TestAccount } from '../test/helpers/feed-accounts.ts'
import type { StrongRef } from '../test/helpers/feed-accounts.ts'
import { startFirehoseSource } from '../test/helpers/firehose-source.ts'
import { startTestPlc, tempDir } from '../test/helpers/plc.ts'
import { makeRng } from '../test/helpers/prng.ts'

const events = Number(process.argv[2] ?? 5_000)
const repos = Number(process.argv[3] ?? 50)
const requests = Number(process.argv[4] ?? 3_000)
const concurrency = Number(process.argv[5] ?? 16)

const plc = await startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })
const source = await startFirehoseSource()
const dir = tempDir('atfed-bench-feedgen-')
const accounts: TestAccount[] = []
for (let i = 0; i < repos; i++) accounts.push(await TestAccount.register(plc.url, `user${i}`))

// Record the stream: 50% posts (a third with the keyword), 30% likes, 5% reposts, 15% follows.
const rng = makeRng(7)
const posts: StrongRef[] = []
const t0 = performance.now()
for (let i = 0; i < events; i++) {
  const who = rng.pick(accounts)
  const roll = rng.next()
  if (roll < 0.5 || posts.length === 0) {
    const p = who.post(`post ${i} about things ${rng.int(1000)}${rng.int(3) === 0 ? ' #atfed' : ''}`)
    posts.push(p)
    source.emit(p.event)
  } else if (roll < 0.8) source.emit(who.like(rng.pick(posts)).event)
  else if (roll < 0.85) source.emit(who.repost(rng.pick(posts)).event)
  else source.emit(who.follow(rng.pick(accounts).did).event)
}
process.stdout.write(`recorded ${events} events from ${repos} repos in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)

async function replay(verify: boolean): Promise<void> {
  const store = await FeedStore.open(join(dir.path, verify ? 'verified' : 'plain'))
  await store.cursor.set(0)
  const indexer = new FeedIndexer(store)
  const resolver = new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true })
  const consumer = new FirehoseConsumer({
    url: source.url,
    cursorStore: store.cursor,
    handler: indexer.handle,
    verify,
    resolver,
    collections: INDEXED_COLLECTIONS,
  })
  const start = performance.now()
  await consumer.start()
  await consumer.whenHandled(source.lastSeq)
  const s = (performance.now() - start) / 1000
  await consumer.stop()
  const stats = consumer.stats()
  process.stdout.write(
    `index replay, verify=${verify}: ${events} events in ${s.toFixed(2)} s = ${Math.round(events / s)} events/s` +
      ` (skipped ${stats.skipped}, rows: ${await store.count('post')} posts, ${await store.count('like')} likes)\n`,
  )
  await store.close()
  resolver.close()
}

await replay(false)
await replay(true)

// Serve the verified store and load it.
const config = loadFeedgenConfig({ port: '0', data: join(dir.path, 'verified'), plc: plc.url, hostname: 'feed.test', keyword: '#atfed', dev: true }, {})
const resolver = new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true })
const server = await startFeedgen(config, { resolver, onError: () => {} })
const viewer = accounts[0] as TestAccount
const token = createServiceJwt({ iss: viewer.did, aud: config.serviceDid, lxm: 'app.bsky.feed.getFeedSkeleton', keypair: viewer.signingKey, exp: Math.floor(Date.now() / 1000) + 3000 })
for (const name of ['keyword', 'popular', 'following']) {
  const url = `${server.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri(config.publisherDid, name))}&limit=50`
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'feedgen-load.ts'), url, String(requests), String(concurrency), name === 'following' ? token : ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  for await (const line of createInterface({ input: child.stdout })) process.stdout.write(`getFeedSkeleton ${name}: ${line}\n`)
}
await server.close()
resolver.close()
await source.close()
await plc.stop()
dir.remove()
