/**
 * `atfed labeler` — run the moderation labeler, and label by hand:
 *
 *   atfed labeler --port P --data DIR [--relay URL] [--plc URL] [--identity plc|web]
 *                 [--hostname H] [--rules FILE] [--admin-password X] [--no-verify] [--dev]
 *     (every flag also from ATFED_LABELER_*; feedgen/labeler/config.ts) until
 *     SIGINT/SIGTERM, then a clean shutdown. Prints its DID and endpoint.
 *   atfed labeler label --url U --admin-password X --uri AT_URI|DID --val V
 *                       [--cid CID] [--exp DATETIME] [--neg]
 *     calls app.atfed.labeler.createLabel (or negateLabel with --neg) on a
 *     running labeler (env ATFED_LABELER_URL, ATFED_LABELER_ADMIN_PASSWORD)
 *     and prints `{seq, label}` as one JSON line. An XRPC error is one line
 *     with its name (`atfed: InvalidLabelValue: …`).
 */
import { once } from 'node:events'
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'
import { CREATE_LABEL_NSID, NEGATE_LABEL_NSID } from '../feedgen/labeler/admin.ts'
import { LABELER_DEFAULT_PORT, loadLabelerConfig } from '../feedgen/labeler/config.ts'
import type { LabelerFlags } from '../feedgen/labeler/config.ts'
import { startLabeler } from '../feedgen/labeler/server.ts'

type LabelFlags = { url?: string; adminPassword?: string; uri?: string; val?: string; cid?: string; exp?: string; neg?: boolean }

async function serve(flags: LabelerFlags): Promise<void> {
  const config = loadLabelerConfig(flags)
  const labeler = await startLabeler(config)
  const rules = config.rulesFile === null ? 'no rules' : `rules: ${config.rulesFile}`
  const relay = config.relayUrl === null ? 'no firehose' : `firehose: ${config.relayUrl}`
  process.stdout.write(`labeler ${labeler.did} listening on ${labeler.url} (endpoint ${labeler.endpoint}; ${relay}; ${rules})\n`)
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
  await labeler.close()
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new AtfedError('InvalidArgument', `${what} is required`)
  return value
}

async function label(flags: LabelFlags): Promise<void> {
  const url = required(flags.url ?? process.env['ATFED_LABELER_URL'], '--url (or ATFED_LABELER_URL)')
  const password = required(flags.adminPassword ?? process.env['ATFED_LABELER_ADMIN_PASSWORD'], '--admin-password (or ATFED_LABELER_ADMIN_PASSWORD)')
  const uri = required(flags.uri, '--uri')
  const val = required(flags.val, '--val')
  if (flags.neg === true && (flags.cid !== undefined || flags.exp !== undefined)) {
    throw new AtfedError('InvalidArgument', '--neg takes no --cid or --exp (the negation names the label by uri and value)')
  }
  const client = new XrpcClient({ service: url, headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` } })
  const body =
    flags.neg === true
      ? { uri, val }
      : { uri, val, ...(flags.cid === undefined ? {} : { cid: flags.cid }), ...(flags.exp === undefined ? {} : { exp: flags.exp }) }
  try {
    const res = await client.procedure(flags.neg === true ? NEGATE_LABEL_NSID : CREATE_LABEL_NSID, body)
    process.stdout.write(`${JSON.stringify(res.body)}\n`)
  } catch (err) {
    if (err instanceof XrpcClientError) throw new AtfedError(err.error, err.message, { cause: err })
    throw err
  }
}

export function registerLabelerCommands(program: Command): void {
  const labeler = program
    .command('labeler')
    .description('run a moderation labeler: rules over the firehose, signed labels, queryLabels and subscribeLabels')
    .option('--port <port>', `port to listen on (env ATFED_LABELER_PORT, default ${LABELER_DEFAULT_PORT})`)
    .option('--listen-host <host>', 'address to bind (env ATFED_LABELER_LISTEN_HOST, default 127.0.0.1)')
    .option('--data <dir>', 'data directory: keys, identity, labels (env ATFED_LABELER_DATA)')
    .option('--relay <url>', 'relay (or PDS) firehose to follow (env ATFED_LABELER_RELAY)')
    .option('--plc <url>', 'PLC directory; also makes the labeler a did:plc there (env ATFED_LABELER_PLC)')
    .option('--identity <kind>', 'plc or web (env ATFED_LABELER_IDENTITY; default plc with --plc, else web)')
    .option('--hostname <host>', 'public hostname of the endpoint (env ATFED_LABELER_HOSTNAME)')
    .option('--rules <file>', 'labeling rules JSON (env ATFED_LABELER_RULES)')
    .option('--admin-password <password>', 'enables the admin methods, user "admin" (env ATFED_LABELER_ADMIN_PASSWORD)')
    .option('--no-verify', 'do not verify commits (trusted relay; env ATFED_LABELER_VERIFY=false)')
    .option('--dev', 'http endpoint, loopback addresses, localhost hostnames (env ATFED_LABELER_DEV=1)')
    .action((flags: LabelerFlags, command: Command) => {
      // `--no-verify` defaults verify to true; only an explicit flag may override ATFED_LABELER_VERIFY.
      const { verify, ...rest } = flags
      return serve(command.getOptionValueSource('verify') === 'cli' ? { ...rest, verify: verify === true } : rest)
    })
  labeler
    .command('label')
    .description('emit (or with --neg retract) a label on a running labeler through its admin API')
    .option('--url <url>', 'the labeler (env ATFED_LABELER_URL)')
    .option('--admin-password <password>', 'its admin password (env ATFED_LABELER_ADMIN_PASSWORD)')
    .option('--uri <uri>', 'subject: an at:// URI or a DID')
    .option('--val <value>', 'label value (lowercase letters, digits, "-"; or !hide, !warn, …)')
    .option('--cid <cid>', 'pin the label to one record version')
    .option('--exp <datetime>', 'expiry (a future datetime)')
    .option('--neg', 'retract the label instead')
    .action((_flags: LabelFlags, command: Command) => label(command.optsWithGlobals<LabelFlags>()))
}
