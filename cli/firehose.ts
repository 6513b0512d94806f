/**
 * `atfed firehose [--url URL] [--cursor N] [--collection NSID …] [--did DID …]
 *                 [--verify [--plc URL] [--dev]] [--limit N] [--jetstream]`
 *
 * Tails a relay's or a PDS's `com.atproto.sync.subscribeRepos` and prints
 * JSON lines on stdout:
 *   commit    one line per op: {type:"commit", seq, did, rev, time, action, path, cid, record}
 *             (`record` as atproto JSON: links {"$link"}, bytes {"$bytes"}; null for a delete)
 *   sync      {type:"sync", seq, did, rev, time}
 *   identity  {type:"identity", seq, did, time, handle}
 *   account   {type:"account", seq, did, time, active, status}
 *   info      {type:"info", name, message}
 * Filters: `--did` keeps the events of those repos; `--collection` keeps the
 * commit ops of those collections (`app.bsky.feed.*` matches a prefix) and
 * nothing else (Jetstream's wantedCollections lets identity and account
 * events through; a person tailing posts does not want them). A commit
 * left with no op (an account's first, empty commit) prints nothing. `--cursor N` replays from after seq N.
 * `--verify` checks every commit (CAR, signature by the repo's key from
 * its DID document, inversion) and reports a failing one on stderr instead
 * of printing it; `--plc` names the PLC directory, `--dev` allows loopback
 * addresses (a local network such as `atfed dev`).
 * `--jetstream` reads the relay's JSON stream instead (firehose-jetstream.ts).
 *
 * Ctrl-C (SIGINT/SIGTERM), `--limit` or a closed stdout (`| head`) ends it
 * cleanly with exit 0, saying on stderr which seq to resume from. An
 * unreachable server (FIREHOSE_CLI_FAILURES_MAX failed connections in a
 * row) or a cursor in the server's future is one error line and exit 1.
 */
import type { Command } from 'commander'
import { lexToJson } from '../core/data/json.ts'
import type { LexValue } from '../core/data/cbor.ts'
import { isAtfedError } from '../core/errors.ts'
import { FIREHOSE_CLI_FAILURES_MAX } from '../core/limits.ts'
import { SubscriptionClient } from '../core/stream/subscription-client.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { subscribeReposUrl } from '../feedgen/consumer/consumer-options.ts'
import type { ConsumerEvent } from '../feedgen/consumer/events.ts'
import { prepareEvent } from '../feedgen/consumer/prepare-event.ts'
import { tailJetstream } from './firehose-jetstream.ts'
import { parseFirehoseFilter, stopSignal, wantsCollection, writeLine } from './firehose-output.ts'
import type { FirehoseFilter } from './firehose-output.ts'

export const FIREHOSE_DEFAULT_URL = 'http://127.0.0.1:2470'
const DEFAULT_PLC_URL = 'https://plc.directory'

export type FirehoseFlags = {
  url?: string
  cursor?: string
  collection?: string[]
  did?: string[]
  verify?: boolean
  plc?: string
  dev?: boolean
  limit?: string
  jetstream?: boolean
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** The lines one event prints (none when the filters drop it). */
export function eventLines(event: ConsumerEvent, filter: FirehoseFilter): object[] {
  if (filter.dids.size > 0 && !filter.dids.has(event.did)) return []
  if (event.type === 'commit') {
    const { seq, did, rev, time } = event
    return event.ops
      .filter((op) => wantsCollection(filter, op.collection))
      .map((op) => ({
        type: 'commit', seq, did, rev, time, action: op.action, path: `${op.collection}/${op.rkey}`,
        cid: op.cid?.toString() ?? null, record: op.record === null ? null : lexToJson(op.record as LexValue),
      }))
  }
  if (filter.collections.size > 0 || filter.prefixes.length > 0) return [] // --collection asks for records only
  switch (event.type) {
    case 'sync':
      return [{ type: 'sync', seq: event.seq, did: event.did, rev: event.rev, time: event.time }]
    case 'identity':
      return [{ type: 'identity', seq: event.seq, did: event.did, time: event.time, handle: event.handle }]
    case 'account':
      return [{ type: 'account', seq: event.seq, did: event.did, time: event.time, active: event.active, status: event.status }]
  }
}

async function tail(flags: FirehoseFlags): Promise<void> {
  const filter = parseFirehoseFilter(flags)
  const url = flags.url ?? process.env['ATFED_FIREHOSE_URL'] ?? FIREHOSE_DEFAULT_URL
  if (flags.jetstream === true) return tailJetstream(url, filter)
  const log = (line: string) => void process.stderr.write(`firehose: ${line}\n`)
  const client = new SubscriptionClient({
    url: subscribeReposUrl(url),
    cursor: filter.cursor,
    failuresMax: FIREHOSE_CLI_FAILURES_MAX,
    onConnectionError: (err) => log(`connection: ${(err as Error).message ?? String(err)} (retrying)`),
  })
  const verify = flags.verify === true
  const resolver = verify
    ? new IdentityResolver({ plcUrl: flags.plc ?? process.env['ATFED_PLC_URL'] ?? DEFAULT_PLC_URL, allowPrivateAddresses: flags.dev === true || process.env['ATFED_DEV'] === '1' })
    : null
  const stop = stopSignal(() => client.close())
  let printed = 0
  let lastSeq: number | null = filter.cursor
  try {
    for await (const message of client) {
      if (message.kind === 'invalid') {
        log(`skipped an invalid event: ${message.error.message}`)
        continue
      }
      let lines: object[]
      if (message.kind === 'info') {
        lines = [{ type: 'info', name: message.info.name, message: message.info.message }]
      } else {
        lastSeq = message.event.seq
        lines = await linesOf(message.event, { verify, resolver, filter, log })
      }
      for (const line of lines) {
        if (!(await writeLine(line)) || ++printed === filter.limit) return
      }
    }
  } finally {
    stop.dispose()
    client.close()
    resolver?.close()
    log(`stopped${lastSeq === null ? '' : ` after seq ${lastSeq} (resume with --cursor ${lastSeq})`}`)
  }
}

type LineContext = { verify: boolean; resolver: IdentityResolver | null; filter: FirehoseFilter; log: (line: string) => void }

async function linesOf(event: Parameters<typeof prepareEvent>[0], ctx: LineContext): Promise<object[]> {
  const did = event.t === '#commit' ? event.repo : event.did
  if (ctx.filter.dids.size > 0 && !ctx.filter.dids.has(did)) return []
  try {
    const prepared = await prepareEvent(event, { verify: ctx.verify, resolver: ctx.resolver, collections: null, allowMissingPrevData: false })
    if (prepared.malformedOps > 0) ctx.log(`seq ${event.seq}: ${prepared.malformedOps} ops without a readable record left out`)
    return eventLines(prepared.event, ctx.filter)
  } catch (err) {
    if (!isAtfedError(err)) throw err
    ctx.log(`seq ${event.seq} (${did}) ${ctx.verify ? 'failed verification' : 'is unreadable'}: ${err.name}: ${err.message}`)
    return []
  }
}

export function registerFirehoseCommands(program: Command): void {
  program
    .command('firehose')
    .description('tail a relay or PDS firehose (subscribeRepos) as JSON lines')
    .option('--url <url>', `relay or PDS, http(s)/ws(s) origin or full endpoint (env ATFED_FIREHOSE_URL, default ${FIREHOSE_DEFAULT_URL})`)
    .option('--cursor <seq>', 'replay from after this seq (with --jetstream: unix microseconds)')
    .option('--collection <nsid>', 'keep commit ops of this collection, or a prefix like app.bsky.feed.* (repeatable)', collect)
    .option('--did <did>', 'keep events of this repo (repeatable)', collect)
    .option('--verify', 'verify every commit against its DID document; failures go to stderr')
    .option('--plc <url>', `PLC directory for --verify (env ATFED_PLC_URL, default ${DEFAULT_PLC_URL})`)
    .option('--dev', 'let --verify reach loopback/private addresses (env ATFED_DEV=1)')
    .option('--limit <n>', 'stop after printing this many lines')
    .option('--jetstream', "read the relay's Jetstream JSON stream (/subscribe) and print its messages as they come")
    .action((flags: FirehoseFlags) => tail(flags))
}
