/**
 * `atfed account` — accounts on a PDS, over its XRPC API:
 *   atfed account migrate --from URL --to URL --handle H --password P [--new-handle H2]
 *                         [--email E] [--invite-code C] [--plc-token T | --from-admin-password X] [--plc URL]
 *   atfed account create --pds URL --handle H --password P [--email E] [--invite-code C]
 *   atfed account list --pds URL --admin-password X
 *
 * migrate: see account-migrate.ts. The PLC token the old PDS issues is
 * normally mailed; with atfed there is no mail, so it is taken from
 * --plc-token (the old PDS logs it), from the old PDS's admin-only dev
 * route when it runs with --dev (--from-admin-password), or else read from
 * stdin. --plc (env ATFED_PLC_URL, default https://plc.directory) is read
 * to keep recovery keys and extra services across the move.
 * recovery-key add/show, backup, recover: cli/recovery/commands.ts.
 * create: prints `{did, handle}`. list: one JSON line per account
 * (sync.listRepos, with handle and email from admin.getAccountInfos when the
 * PDS has it).
 */
import { createInterface } from 'node:readline/promises'
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { PDS_LIST_REPOS_LIMIT_MAX } from '../core/limits.ts'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'
import { migrateAccount } from './account-migrate.ts'
import { registerRecoveryCommands } from './recovery/commands.ts'

const DEFAULT_PLC_URL = 'https://plc.directory'
/** listRepos pages `account list` reads at most (a million accounts). */
const LIST_PAGES_MAX = 1_000

type MigrateFlags = {
  from: string
  to: string
  handle: string
  password: string
  newHandle?: string
  email?: string
  inviteCode?: string
  plcToken?: string
  fromAdminPassword?: string
  plc?: string
}

async function readTokenFromStdin(): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true })
  try {
    const answer = (await rl.question('PLC operation token from the old PDS (its log, or its mail): ')).trim()
    if (answer === '') throw new AtfedError('InvalidArgument', 'no PLC operation token given (use --plc-token)')
    return answer
  } finally {
    rl.close()
  }
}

async function migrate(flags: MigrateFlags): Promise<void> {
  const report = await migrateAccount({
    ...flags,
    plc: flags.plc ?? process.env['ATFED_PLC_URL'] ?? DEFAULT_PLC_URL,
    readToken: readTokenFromStdin,
    log: (line) => process.stderr.write(`${line}\n`),
  })
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

type CreateFlags = { pds: string; handle: string; password: string; email?: string; inviteCode?: string }

async function create(flags: CreateFlags): Promise<void> {
  const client = new XrpcClient({ service: flags.pds })
  const input = {
    handle: flags.handle,
    password: flags.password,
    ...(flags.email === undefined ? {} : { email: flags.email }),
    ...(flags.inviteCode === undefined ? {} : { inviteCode: flags.inviteCode }),
  }
  const res = await client.procedure<{ did: string; handle: string }>('com.atproto.server.createAccount', input)
  process.stdout.write(`${JSON.stringify({ did: res.body.did, handle: res.body.handle })}\n`)
}

type RepoRow = { did: string; rev: string; active?: boolean; status?: string }
type InfoRow = { did: string; handle?: string; email?: string }

async function accountInfos(client: XrpcClient, dids: string[], basic: string): Promise<Map<string, InfoRow> | null> {
  try {
    const res = await client.query<{ infos: InfoRow[] }>('com.atproto.admin.getAccountInfos', { dids }, { headers: { authorization: basic } })
    return new Map(res.body.infos.map((info) => [info.did, info]))
  } catch (err) {
    if (err instanceof XrpcClientError && (err.status === 501 || err.status === 404)) return null
    throw err
  }
}

async function list(flags: { pds: string; adminPassword: string }): Promise<void> {
  const client = new XrpcClient({ service: flags.pds })
  const basic = `Basic ${Buffer.from(`admin:${flags.adminPassword}`).toString('base64')}`
  let cursor: string | undefined
  let withoutInfos = false
  for (let page = 0; page < LIST_PAGES_MAX; page++) {
    const params = { limit: PDS_LIST_REPOS_LIMIT_MAX, ...(cursor === undefined ? {} : { cursor }) }
    const res = await client.query<{ repos: RepoRow[]; cursor?: string }>('com.atproto.sync.listRepos', params)
    const repos = res.body.repos
    const infos = repos.length === 0 || withoutInfos ? null : await accountInfos(client, repos.map((r) => r.did), basic)
    if (infos === null && repos.length > 0 && !withoutInfos) {
      withoutInfos = true
      process.stderr.write('account list: the PDS has no admin.getAccountInfos; listing DIDs and status only\n')
    }
    for (const repo of repos) {
      const info = infos?.get(repo.did)
      const line = { did: repo.did, handle: info?.handle, email: info?.email, active: repo.active ?? true, status: repo.status, rev: repo.rev }
      process.stdout.write(`${JSON.stringify(line)}\n`)
    }
    if (res.body.cursor === undefined || repos.length === 0) return
    cursor = res.body.cursor
  }
}

export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('create, list and migrate accounts on a PDS')
  account
    .command('migrate')
    .description('move an account from one PDS to another (repo, blobs, preferences, identity)')
    .requiredOption('--from <url>', 'the PDS the account is on now')
    .requiredOption('--to <url>', 'the PDS to move it to')
    .requiredOption('--handle <handle>', 'the handle (or DID) to log in with on the old PDS')
    .requiredOption('--password <password>', 'the account password (also the password on the new PDS)')
    .option('--new-handle <handle>', 'the handle on the new PDS (default: the current one)')
    .option('--email <email>', 'email on the new PDS (default: the one on the old PDS)')
    .option('--invite-code <code>', 'invite code for the new PDS')
    .option('--plc-token <token>', 'the PLC operation token the old PDS issued (its log, or its mail)')
    .option('--from-admin-password <password>', "read the token from the old PDS's --dev admin route")
    .option('--plc <url>', `PLC directory to read the current identity from (env ATFED_PLC_URL, default ${DEFAULT_PLC_URL})`)
    .action((flags: MigrateFlags) => migrate(flags))
  account
    .command('create')
    .description('create an account (prints {did, handle})')
    .requiredOption('--pds <url>', 'the PDS')
    .requiredOption('--handle <handle>', 'handle under one of the PDS domains')
    .requiredOption('--password <password>', 'password')
    .option('--email <email>', 'email')
    .option('--invite-code <code>', 'invite code')
    .action((flags: CreateFlags) => create(flags))
  account
    .command('list')
    .description('list the accounts of a PDS, one JSON line each')
    .requiredOption('--pds <url>', 'the PDS')
    .requiredOption('--admin-password <password>', 'the PDS admin password')
    .action((flags: { pds: string; adminPassword: string }) => list(flags))
  registerRecoveryCommands(account, { readToken: readTokenFromStdin })
}
