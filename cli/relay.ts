/**
 * `atfed relay` — run the relay:
 *   atfed relay --port P --data DIR --plc URL [--host URL …] [--admin-password X]
 *               [--dev] [--retention-hours H] [--bind ADDR] [--dns SERVER …]
 * (every flag also from ATFED_RELAY_*; see relay/config.ts), until SIGINT or
 * SIGTERM, then a clean shutdown (last batch written, db closed).
 * With `--nats URL[,URL…] --role ingest|serve|all` the process is a member of
 * a relay cluster sharing one JetStream stream (relay/cluster/relay-cluster.ts):
 * ingest workers lease hosts, serve frontends answer from the stream.
 * Also registers `atfed admin hosts …` (cli/relay-admin.ts).
 */
import type { Command } from 'commander'
import { relayConfigFrom, RELAY_DEFAULT_PORT } from '../relay/config.ts'
import type { RelayFlags } from '../relay/config.ts'
import { startRelay } from '../relay/server.ts'
import { registerRelayAdminCommands } from './relay-admin.ts'
import { shutdownSignal } from './shutdown-signal.ts'

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

async function serve(flags: RelayFlags): Promise<void> {
  const config = relayConfigFrom(flags)
  const relay = await startRelay(config)
  const hosts = config.hosts.length === 0 ? 'no configured hosts' : `hosts: ${config.hosts.join(', ')}`
  const cluster = (config.nats ?? []).length === 0 ? '' : `; cluster member, role ${config.role ?? 'all'}, NATS ${(config.nats ?? []).join(',')}`
  const stopped = shutdownSignal()
  process.stdout.write(`relay listening on ${relay.url} (data: ${config.dataDir}; ${hosts}${cluster})\n`)
  await stopped
  await relay.close()
}

export function registerRelayCommands(program: Command): void {
  program
    .command('relay')
    .description('run a relay: crawl PDS hosts, verify every event, serve one ordered firehose')
    .option('--port <port>', `port to listen on (env ATFED_RELAY_PORT, default ${RELAY_DEFAULT_PORT})`)
    .option('--bind <addr>', 'address to bind (env ATFED_RELAY_BIND, default 127.0.0.1)')
    .option('--data <dir>', 'data directory (env ATFED_RELAY_DATA)')
    .option('--plc <url>', 'PLC directory URL (env ATFED_RELAY_PLC, default https://plc.directory)')
    .option('--host <url>', 'a PDS host to follow (repeatable; env ATFED_RELAY_HOSTS, comma-separated)', collect)
    .option('--admin-password <password>', 'password for /admin routes, user "admin" (env ATFED_RELAY_ADMIN_PASSWORD)')
    .option('--dev', 'dev flag: http, loopback and ported hosts (env ATFED_RELAY_DEV=1)')
    .option('--retention-hours <hours>', 'firehose replay window (env ATFED_RELAY_RETENTION_HOURS, default 72)')
    .option('--dns <server>', 'DNS server for handle checks, host[:port] (repeatable; env ATFED_RELAY_DNS)', collect)
    .option('--nats <urls>', 'event log on this NATS JetStream cluster, URL[,URL…] (env ATFED_RELAY_NATS; default: embedded level)')
    .option('--nats-stream <name>', 'JetStream stream name (env ATFED_RELAY_NATS_STREAM, default ATFED_RELAY)')
    .option('--nats-replicas <n>', 'replicas of the JetStream stream when it is created: 1 or 3 (env ATFED_RELAY_NATS_REPLICAS)')
    .option('--role <role>', 'with --nats: ingest (lease and follow hosts), serve (answer from the stream and shared state) or all (both; env ATFED_RELAY_ROLE, default all)')
    .option('--verify-workers <n>', 'verification worker threads, 0 = main thread (env ATFED_RELAY_VERIFY_WORKERS)')
    .action((flags: RelayFlags) => serve(flags))
  registerRelayAdminCommands(program)
}
