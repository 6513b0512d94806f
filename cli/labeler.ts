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
 *   atfed labeler publish --pds URL --handle H --password P [--rules FILE] [--value V]…
 *     writes the app.bsky.labeler.service record (feedgen/labeler/publish.ts:
 *     the rules' values, the --value ones, their definitions from the rules
 *     file's "definitions") into the account's repo and prints its at-uri
 *     (env ATFED_LABELER_PDS, _HANDLE, _PASSWORD, _RULES). With --plc (the
 *     parent's option) it then warns on stderr when the account's DID
 *     document names no labeler (clients would ignore the record).
 */
import { readFileSync } from 'node:fs'
import type { Did } from '../core/syntax/did.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'
import { CREATE_LABEL_NSID, NEGATE_LABEL_NSID } from '../feedgen/labeler/admin.ts'
import { LABELER_DEFAULT_PORT, loadLabelerConfig } from '../feedgen/labeler/config.ts'
import type { LabelerFlags } from '../feedgen/labeler/config.ts'
import { publishLabelerService } from '../feedgen/labeler/publish.ts'
import type { LabelDefinitionInput } from '../feedgen/labeler/publish.ts'
import { loadRulesFile, NO_RULES } from '../feedgen/labeler/rules.ts'
import { startLabeler } from '../feedgen/labeler/server.ts'
import { shutdownSignal } from './shutdown-signal.ts'

type PublishFlags = { pds?: string; handle?: string; password?: string; rules?: string; value?: string[]; plc?: string; dev?: boolean }
type LabelFlags = { url?: string; adminPassword?: string; uri?: string; val?: string; cid?: string; exp?: string; neg?: boolean }

async function serve(flags: LabelerFlags): Promise<void> {
  const config = loadLabelerConfig(flags)
  const labeler = await startLabeler(config)
  const rules = config.rulesFile === null ? 'no rules' : `rules: ${config.rulesFile}`
  const relay = config.relayUrl === null ? 'no firehose' : `firehose: ${config.relayUrl}`
  const stopped = shutdownSignal()
  process.stdout.write(`labeler ${labeler.did} listening on ${labeler.url} (endpoint ${labeler.endpoint}; ${relay}; ${rules})\n`)
  await stopped
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

/** The rules file's optional `"definitions": {value: {severity, blurs, …}}` (the running labeler ignores it). */
function definitionsIn(path: string): { [value: string]: LabelDefinitionInput } {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { definitions?: unknown }
  const defs = json.definitions
  if (defs === undefined) return {}
  if (typeof defs !== 'object' || defs === null || Array.isArray(defs) || Object.values(defs).some((d) => typeof d !== 'object' || d === null || Array.isArray(d))) {
    throw new AtfedError('InvalidRules', `${path}: definitions must map each label value to an object`)
  }
  return defs as { [value: string]: LabelDefinitionInput }
}

async function publish(flags: PublishFlags): Promise<void> {
  const env = (name: string): string | undefined => process.env[`ATFED_LABELER_${name}`] || undefined
  const rulesFile = flags.rules ?? env('RULES')
  const published = await publishLabelerService({
    pds: required(flags.pds ?? env('PDS'), '--pds (or ATFED_LABELER_PDS)'),
    identifier: required(flags.handle ?? env('HANDLE'), '--handle (or ATFED_LABELER_HANDLE)'),
    password: required(flags.password ?? env('PASSWORD'), '--password (or ATFED_LABELER_PASSWORD)'),
    rules: rulesFile === undefined ? NO_RULES : loadRulesFile(rulesFile),
    values: flags.value ?? [],
    definitions: rulesFile === undefined ? {} : definitionsIn(rulesFile),
  })
  process.stdout.write(`${published.uri}\n`)
  const plcUrl = flags.plc ?? env('PLC')
  if (plcUrl !== undefined) await warnIfNotALabeler(published.did as Did, plcUrl, flags.dev === true)
}

/** Clients use the record only when the account's DID document names a labeler (key and endpoint): say so if it does not. */
async function warnIfNotALabeler(did: Did, plcUrl: string, dev: boolean): Promise<void> {
  const resolver = new IdentityResolver({ plcUrl, allowPrivateAddresses: dev })
  try {
    const { labeler } = await resolver.resolveDid(did)
    if (labeler.key === undefined || labeler.endpoint === undefined) {
      process.stderr.write(`atfed: warning: ${did} has no #atproto_label key and #atproto_labeler service in its DID document; clients ignore its labeler record until it has\n`)
    }
  } catch (err) {
    process.stderr.write(`atfed: warning: could not resolve ${did} to check its labeler service: ${(err as Error).message}\n`)
  } finally {
    resolver.close()
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
  labeler
    .command('publish')
    .description("write the labeler's app.bsky.labeler.service record (values and their definitions) to the account's PDS")
    .option('--pds <url>', "the labeler account's PDS (env ATFED_LABELER_PDS)")
    .option('--handle <handle>', 'account handle or DID (env ATFED_LABELER_HANDLE)')
    .option('--password <password>', 'account or app password (env ATFED_LABELER_PASSWORD)')
    .option('--value <value>', 'a value labeled by hand, beyond the rules (repeatable)', (v: string, all: string[] = []) => [...all, v])
    // --rules, --plc and --dev are the parent command's options (parsed there): merged in below.
    .action((_flags: PublishFlags, command: Command) => publish(command.optsWithGlobals<PublishFlags>()))
}
