/**
 * `atfed admin hosts …` — a relay's host administration over its /admin
 * routes (relay/routes/admin.ts), HTTP Basic auth as `admin`:
 *   atfed admin hosts list                        [--relay URL] [--password X]
 *   atfed admin hosts ban <hostname>
 *   atfed admin hosts unban <hostname>
 *   atfed admin hosts limits <hostname> [--accounts-max N] [--events-per-second N]
 *                                       [--events-per-hour N] [--events-per-day N]
 * --relay defaults to ATFED_RELAY_URL or http://127.0.0.1:2470; --password to
 * ATFED_RELAY_ADMIN_PASSWORD. Output is JSON: `list` one host per line, the
 * others the relay's answer.
 */
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { RELAY_DEFAULT_PORT } from '../relay/config.ts'

type Connection = { relay?: string; password?: string }
type LimitFlags = Connection & { accountsMax?: string; eventsPerSecond?: string; eventsPerHour?: string; eventsPerDay?: string }

const ADMIN_TIMEOUT_MS = 30_000

async function call(conn: Connection, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const relay = conn.relay ?? process.env['ATFED_RELAY_URL'] ?? `http://127.0.0.1:${RELAY_DEFAULT_PORT}`
  const password = conn.password ?? process.env['ATFED_RELAY_ADMIN_PASSWORD']
  if (password === undefined || password === '') throw new AtfedError('InvalidArgument', 'an admin password is required (--password or ATFED_RELAY_ADMIN_PASSWORD)')
  const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(new URL(path, relay), {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    redirect: 'error',
    signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: report the text
  }
  if (!res.ok) {
    const err = parsed as { error?: unknown; message?: unknown }
    throw new AtfedError(typeof err?.error === 'string' ? err.error : `HTTP${res.status}`, typeof err?.message === 'string' ? err.message : text.slice(0, 200))
  }
  return parsed
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

function positiveInt(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new AtfedError('InvalidArgument', `${what} must be a positive integer`)
  return Number(text)
}

function withConnection(command: Command): Command {
  return command
    .option('--relay <url>', `relay URL (env ATFED_RELAY_URL, default http://127.0.0.1:${RELAY_DEFAULT_PORT})`)
    .option('--password <password>', 'admin password (env ATFED_RELAY_ADMIN_PASSWORD)')
}

export function registerRelayAdminCommands(program: Command): void {
  // `admin` may already exist (cli/admin.ts adds the PDS's subcommands): join it.
  const admin = program.commands.find((c) => c.name() === 'admin') ?? program.command('admin').description('administer a running service')
  const hosts = admin.command('hosts').description("a relay's upstream hosts")
  withConnection(hosts.command('list').description('list every host with its status, limits and drop counts')).action(async (conn: Connection) => {
    const answer = (await call(conn, 'GET', '/admin/pds/list')) as { hosts?: unknown[] }
    for (const host of answer.hosts ?? []) print(host)
  })
  withConnection(hosts.command('ban <hostname>').description('ban a host: status banned, its stream closed')).action(
    async (hostname: string, conn: Connection) => print(await call(conn, 'POST', '/admin/pds/block', { host: hostname })),
  )
  withConnection(hosts.command('unban <hostname>').description('lift a ban and reconnect')).action(
    async (hostname: string, conn: Connection) => print(await call(conn, 'POST', '/admin/pds/unblock', { host: hostname })),
  )
  withConnection(hosts.command('limits <hostname>').description("change a host's account and event-rate limits"))
    .option('--accounts-max <n>', 'accounts the host may bring (an untrusted host\'s rates follow unless given)')
    .option('--events-per-second <n>', 'events per second')
    .option('--events-per-hour <n>', 'events per hour')
    .option('--events-per-day <n>', 'events per day')
    .action(async (hostname: string, flags: LimitFlags) => {
      const body = {
        host: hostname,
        accountsMax: positiveInt(flags.accountsMax, '--accounts-max'),
        eventsPerSecond: positiveInt(flags.eventsPerSecond, '--events-per-second'),
        eventsPerHour: positiveInt(flags.eventsPerHour, '--events-per-hour'),
        eventsPerDay: positiveInt(flags.eventsPerDay, '--events-per-day'),
      }
      print(await call(flags, 'POST', '/admin/pds/changeLimits', body))
    })
}
