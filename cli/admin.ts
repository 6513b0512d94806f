/**
 * `atfed admin …` for a PDS, over its admin XRPC methods (Basic auth as
 * `admin`; pds/routes/admin.ts, admin-invites.ts):
 *   atfed admin invites create [--uses N] [--count N] [--for DID]…
 *   atfed admin invites list [--sort recent|usage] [--limit N]
 *   atfed admin invites disable CODE…
 *   atfed admin accounts [--limit N]
 *   atfed admin takedown DID [--ref TEXT]
 *   atfed admin untakedown DID
 * Every command takes --pds URL (env ATFED_PDS_URL, default
 * http://127.0.0.1:2583) and --admin-password X (env ATFED_ADMIN_PASSWORD).
 * Output: `invites create` prints one code per line; `invites list` and
 * `accounts` one JSON object per line (every page is fetched); the others
 * print nothing on success. An XRPC error is one line with its name.
 *
 * The `admin` command may already exist (cli/relay-admin.ts adds `admin
 * hosts`); these subcommands join it.
 */
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { XrpcClient, XrpcClientError, type QueryParams } from '../core/xrpc/client.ts'
import { DEFAULT_PDS_PORT } from '../pds/config.ts'

type Connection = { pds?: string; adminPassword?: string }

/** Pages read at most by a listing (each up to the method's page size). */
const LIST_PAGES_MAX = 10_000

function client(conn: Connection): XrpcClient {
  const service = conn.pds ?? process.env['ATFED_PDS_URL'] ?? `http://127.0.0.1:${DEFAULT_PDS_PORT}`
  const password = conn.adminPassword ?? process.env['ATFED_ADMIN_PASSWORD']
  if (password === undefined || password === '') {
    throw new AtfedError('InvalidArgument', 'an admin password is required (--admin-password or ATFED_ADMIN_PASSWORD)')
  }
  const authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`
  return new XrpcClient({ service, headers: { authorization } })
}

/** Runs an XRPC call; its failure becomes an AtfedError named by the XRPC error. */
async function xrpc<T>(run: () => Promise<{ body: T }>): Promise<T> {
  try {
    return (await run()).body
  } catch (err) {
    if (err instanceof XrpcClientError) throw new AtfedError(err.error, err.message, { cause: err })
    throw err
  }
}

function positiveInt(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new AtfedError('InvalidArgument', `${what} must be a positive integer`)
  return Number(text)
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

function withConnection(command: Command): Command {
  return command
    .option('--pds <url>', `PDS URL (env ATFED_PDS_URL, default http://127.0.0.1:${DEFAULT_PDS_PORT})`)
    .option('--admin-password <password>', 'admin password (env ATFED_ADMIN_PASSWORD)')
}

/** Prints every item of a paged listing, one JSON object per line. */
async function printPages(conn: Connection, nsid: string, params: QueryParams, field: string): Promise<void> {
  const api = client(conn)
  let cursor: string | undefined
  for (let page = 0; page < LIST_PAGES_MAX; page++) {
    const body = await xrpc(() => api.query<{ cursor?: string; [key: string]: unknown }>(nsid, { ...params, cursor }))
    for (const item of (body[field] as unknown[] | undefined) ?? []) process.stdout.write(`${JSON.stringify(item)}\n`)
    if (body.cursor === undefined || body.cursor === cursor) return
    cursor = body.cursor
  }
}

async function setTakedown(did: string, conn: Connection & { ref?: string }, applied: boolean): Promise<void> {
  const takedown = applied ? { applied, ...(conn.ref === undefined ? {} : { ref: conn.ref }) } : { applied }
  const subject = { $type: 'com.atproto.admin.defs#repoRef', did }
  await xrpc(() => client(conn).procedure('com.atproto.admin.updateSubjectStatus', { subject, takedown }))
}

function registerInviteCommands(admin: Command): void {
  const invites = admin.command('invites').description("a PDS's invite codes")
  withConnection(invites.command('create').description('create invite codes (printed one per line)'))
    .option('--uses <n>', 'uses per code (default 1)')
    .option('--count <n>', 'codes to create per account (default 1)')
    .option('--for <did>', 'make the codes for this account, repeatable (default: for nobody in particular)', collect)
    .action(async (flags: Connection & { uses?: string; count?: string; for?: string[] }) => {
      const input = {
        useCount: positiveInt(flags.uses, '--uses', 1),
        codeCount: positiveInt(flags.count, '--count', 1),
        ...(flags.for === undefined ? {} : { forAccounts: flags.for }),
      }
      const body = await xrpc(() => client(flags).procedure<{ codes: Array<{ codes: string[] }> }>('com.atproto.server.createInviteCodes', input))
      for (const group of body.codes) for (const code of group.codes) process.stdout.write(`${code}\n`)
    })
  withConnection(invites.command('list').description('list invite codes with their uses, one JSON object per line'))
    .option('--sort <order>', 'recent (default) or usage')
    .option('--limit <n>', 'page size (default 100)')
    .action(async (flags: Connection & { sort?: string; limit?: string }) => {
      const params = { sort: flags.sort ?? 'recent', limit: positiveInt(flags.limit, '--limit', 100) }
      await printPages(flags, 'com.atproto.admin.getInviteCodes', params, 'codes')
    })
  withConnection(invites.command('disable <codes...>').description('disable invite codes')).action(
    async (codes: string[], flags: Connection) => {
      await xrpc(() => client(flags).procedure('com.atproto.admin.disableInviteCodes', { codes }))
    },
  )
}

export function registerAdminCommands(program: Command): void {
  const admin = program.commands.find((c) => c.name() === 'admin') ?? program.command('admin').description('administer a running service')
  registerInviteCommands(admin)
  withConnection(admin.command('accounts').description("list a PDS's accounts, one JSON object per line"))
    .option('--limit <n>', 'page size (default 100)')
    .action(async (flags: Connection & { limit?: string }) => {
      await printPages(flags, 'com.atproto.admin.searchAccounts', { limit: positiveInt(flags.limit, '--limit', 100) }, 'accounts')
    })
  withConnection(admin.command('takedown <did>').description('take an account down: no login, no writes, repo hidden'))
    .option('--ref <text>', 'a reference kept with the takedown (e.g. a ticket id)')
    .action((did: string, flags: Connection & { ref?: string }) => setTakedown(did, flags, true))
  withConnection(admin.command('untakedown <did>').description('lift a takedown')).action((did: string, flags: Connection) =>
    setTakedown(did, flags, false),
  )
}
