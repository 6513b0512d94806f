/**
 * `atfed pds` — run a Personal Data Server:
 *   atfed pds --port P --data DIR --hostname H --plc URL [--handle-domain .test]…
 *             [--crawl RELAY_URL]… [--invite-required] [--admin-password X]
 *             [--public-url U] [--dev] [--host ADDR]
 * Every flag also reads an environment variable (pds/config.ts lists them
 * all, with the ones that have no flag: JWT secret, blob limit, backfill
 * window, rate limits, describeServer links). Runs until SIGINT or SIGTERM,
 * then stops accepting, closes firehose subscribers and the database.
 */
import type { Command } from 'commander'
import { DEFAULT_PDS_PLC_URL, DEFAULT_PDS_PORT, readPdsConfig, type PdsFlags } from '../pds/config.ts'
import { startPds } from '../pds/server.ts'
import { shutdownSignal } from './shutdown-signal.ts'

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

async function serve(flags: PdsFlags): Promise<void> {
  const config = readPdsConfig(flags)
  const pds = await startPds(config)
  const { ctx } = pds
  const stopped = shutdownSignal()
  process.stdout.write(
    `PDS ${ctx.serviceDid} listening on ${pds.url} (public URL ${ctx.publicUrl}, data ${config.dataDir}, ` +
      `handles ${config.handleDomains.join(' ')}, PLC ${config.plcUrl})\n`,
  )
  await stopped
  await pds.close()
}

export function registerPdsCommands(program: Command): void {
  program
    .command('pds')
    .description('run a Personal Data Server (accounts, repos, firehose)')
    .option('--port <port>', `port to listen on (env ATFED_PDS_PORT, default ${DEFAULT_PDS_PORT})`)
    .option('--host <addr>', 'address to bind (env ATFED_PDS_HOST, default 127.0.0.1)')
    .option('--data <dir>', 'data directory (env ATFED_PDS_DATA)')
    .option('--hostname <name>', 'public host name; service DID did:web:<name> (env ATFED_PDS_HOSTNAME, default localhost)')
    .option('--plc <url>', `PLC directory (env ATFED_PDS_PLC_URL, default ${DEFAULT_PDS_PLC_URL})`)
    .option('--handle-domain <suffix>', 'handle domain such as .pds.example, repeatable (env ATFED_PDS_HANDLE_DOMAINS, comma list)', collect)
    .option('--crawl <url>', 'relay to ask for crawls, repeatable (env ATFED_PDS_CRAWLERS, comma list)', collect)
    .option('--invite-required', 'require an invite code to sign up (env ATFED_PDS_INVITE_REQUIRED=true)')
    .option('--admin-password <password>', 'admin Basic-auth password (env ATFED_PDS_ADMIN_PASSWORD)')
    .option('--public-url <url>', 'public origin written into DID documents (env ATFED_PDS_PUBLIC_URL)')
    .option('--dev', 'allow private addresses, http and .test handles in identity lookups (env ATFED_PDS_DEV=true)')
    .addHelpText(
      'after',
      '\nMore environment variables: ATFED_PDS_JWT_SECRET, ATFED_PDS_BLOB_UPLOAD_LIMIT, ATFED_PDS_BACKFILL_WINDOW_MS,\n' +
        'ATFED_PDS_RATE_LIMITS, ATFED_PDS_CONTACT_EMAIL, ATFED_PDS_PRIVACY_POLICY_URL, ATFED_PDS_TERMS_OF_SERVICE_URL\n' +
        '(see pds/config.ts).',
    )
    .action((flags: PdsFlags) => serve(flags))
}
