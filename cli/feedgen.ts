/**
 * `atfed feedgen` — run the feed generator:
 *   atfed feedgen --port P --data DIR --relay URL --plc URL --hostname H
 *                 [--publisher-did DID] [--keyword K] [--popular-hours N] [--no-verify] [--dev]
 * (env ATFED_FEEDGEN_*; feedgen/config.ts has every option and default), and
 * publish one of its feeds from the owner's account:
 *   atfed feedgen publish --pds URL --handle H --password P --feed NAME
 *                 (--hostname H | --service-did DID) [--display-name …] [--description …] [--dev]
 *
 * The server prints one line with its URL, DID and feed uris, runs until
 * SIGINT or SIGTERM, then stops the consumer (its cursor is stored), the
 * HTTP server and the database. `publish` prints the feed's at-uri.
 */
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { loadFeedgenConfig, serviceDidFor } from '../feedgen/config.ts'
import type { FeedgenFlags } from '../feedgen/config.ts'
import { publishFeedGenerator } from '../feedgen/publish.ts'
import { feedUri } from '../feedgen/routes.ts'
import { DEFAULT_FEEDS, startFeedgen } from '../feedgen/server.ts'
import { shutdownSignal } from './shutdown-signal.ts'

type PublishFlags = {
  pds?: string
  handle?: string
  password?: string
  feed?: string
  hostname?: string
  serviceDid?: string
  displayName?: string
  description?: string
  dev?: boolean
}

async function serve(flags: FeedgenFlags): Promise<void> {
  const config = loadFeedgenConfig(flags)
  const server = await startFeedgen(config)
  const feeds = DEFAULT_FEEDS.map((f) => feedUri(config.publisherDid, f.name)).join(' ')
  const stopped = shutdownSignal()
  process.stdout.write(`feed generator ${config.serviceDid} listening on ${server.url} (data: ${config.dataDir}) feeds: ${feeds}\n`)
  await stopped
  await server.close()
}

function required(value: string | undefined, flag: string, env: string): string {
  const v = value ?? (process.env[env] || undefined)
  if (v === undefined) throw new AtfedError('InvalidArgument', `${flag} is required (or ${env})`)
  return v
}

async function publish(flags: PublishFlags): Promise<void> {
  const feed = required(flags.feed, '--feed', 'ATFED_FEEDGEN_FEED')
  const serviceDid =
    flags.serviceDid ?? serviceDidFor(required(flags.hostname, '--hostname or --service-did', 'ATFED_FEEDGEN_HOSTNAME'), flags.dev === true)
  const known = DEFAULT_FEEDS.find((f) => f.name === feed)
  const published = await publishFeedGenerator({
    pds: required(flags.pds, '--pds', 'ATFED_FEEDGEN_PDS'),
    identifier: required(flags.handle, '--handle', 'ATFED_FEEDGEN_HANDLE'),
    password: required(flags.password, '--password', 'ATFED_FEEDGEN_PASSWORD'),
    feed,
    serviceDid,
    displayName: flags.displayName ?? feed,
    ...(flags.description !== undefined ? { description: flags.description } : known !== undefined ? { description: known.description } : {}),
  })
  process.stdout.write(`${published.uri}\n`)
}

export function registerFeedgenCommands(program: Command): void {
  const feedgen = program
    .command('feedgen')
    .description('run a feed generator fed by a relay firehose (or see `atfed feedgen publish`)')
    .option('--port <port>', 'port to listen on (env ATFED_FEEDGEN_PORT, default 2585)')
    .option('--listen-host <host>', 'address to bind (env ATFED_FEEDGEN_LISTEN_HOST, default 127.0.0.1)')
    .option('--data <dir>', 'data directory (env ATFED_FEEDGEN_DATA)')
    .option('--relay <url>', 'relay or PDS to follow (env ATFED_FEEDGEN_RELAY)')
    .option('--plc <url>', 'PLC directory (env ATFED_FEEDGEN_PLC, default https://plc.directory)')
    .option('--hostname <host>', 'public hostname; the service DID is did:web:<host> (env ATFED_FEEDGEN_HOSTNAME)')
    .option('--publisher-did <did>', 'DID whose repo holds the feed records (env ATFED_FEEDGEN_PUBLISHER_DID; default the service DID)')
    .option('--keyword <word>', 'word or #hashtag of the keyword feed (env ATFED_FEEDGEN_KEYWORD, default #atfed)')
    .option('--popular-hours <n>', 'window of the popular feed (env ATFED_FEEDGEN_POPULAR_HOURS, default 24)')
    .option('--no-verify', 'do not verify commits (a trusted relay)')
    .option('--dev', 'development: loopback addresses, http, localhost:<port> hostnames')
    .action(({ verify, ...flags }: FeedgenFlags & { verify: boolean }) => serve(verify ? flags : { ...flags, verify: false }))
  feedgen
    .command('publish')
    .description("write a feed's app.bsky.feed.generator record to the publisher's PDS")
    .option('--pds <url>', "the publisher's PDS")
    .option('--handle <handle>', 'publisher handle or DID')
    .option('--password <password>', 'account or app password')
    .option('--feed <name>', 'feed name (keyword, popular, following)')
    .option('--hostname <host>', "the feed generator's hostname (service DID did:web:<host>)")
    .option('--service-did <did>', "the feed generator's service DID")
    .option('--display-name <name>', 'shown in the app (≤ 24 characters; default the feed name)')
    .option('--description <text>', 'shown in the app (≤ 300 characters)')
    .option('--dev', 'allow a localhost:<port> hostname')
    // Options named like the server's (--hostname, --dev) are parsed by the parent command: merge them in.
    .action((_flags: PublishFlags, cmd: Command) => publish(cmd.optsWithGlobals<PublishFlags>()))
}
