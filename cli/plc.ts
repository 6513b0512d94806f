/**
 * `atfed plc` — run a PLC directory server:
 *   atfed plc --port P --data DIR [--host H]      (env ATFED_PLC_PORT, ATFED_PLC_DATA)
 * and read a DID's history from any directory:
 *   atfed plc history <did> [--plc URL] [--verify] (env ATFED_PLC_URL; default https://plc.directory)
 *
 * `history` prints the audit log, one JSON entry per line
 * (`{did, operation, cid, nullified, createdAt}`), oldest first; `--verify`
 * also replays it under the directory rules and fails if it does not hold.
 * The server runs until SIGINT or SIGTERM, then closes its database cleanly.
 */
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { isPlcDid } from '../core/syntax/did.ts'
import { PlcClient } from '../did-resolver/plc/client.ts'
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { validateAuditLog } from '../did-resolver/plc/validate.ts'
import { shutdownSignal } from './shutdown-signal.ts'

const DEFAULT_PLC_PORT = 2582
const DEFAULT_PLC_URL = 'https://plc.directory'

type ServeOptions = { port?: string; data?: string; host: string }
type HistoryOptions = { plc?: string; verify?: boolean }

function usage(message: string): AtfedError<'InvalidArgument'> {
  return new AtfedError('InvalidArgument', message)
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port > 65_535) throw usage(`not a port number: ${text}`)
  return port
}

async function serve(options: ServeOptions): Promise<void> {
  const port = parsePort(options.port ?? process.env['ATFED_PLC_PORT'] ?? String(DEFAULT_PLC_PORT))
  const dataDir = options.data ?? process.env['ATFED_PLC_DATA']
  if (dataDir === undefined || dataDir === '') throw usage('a data directory is required (--data DIR or ATFED_PLC_DATA)')
  const server = await startPlcServer({ port, dataDir, host: options.host })
  const stopped = shutdownSignal()
  process.stdout.write(`PLC directory listening on ${server.url} (data: ${dataDir})\n`)
  await stopped
  await server.close()
}

async function history(did: string, options: HistoryOptions): Promise<void> {
  if (!isPlcDid(did)) throw new AtfedError('InvalidDid', `not a did:plc: ${did}`)
  const client = new PlcClient(options.plc ?? process.env['ATFED_PLC_URL'] ?? DEFAULT_PLC_URL)
  const log = await client.getAuditLog(did)
  if (options.verify === true) validateAuditLog(did, log)
  for (const e of log) {
    const line = { did: e.did, operation: e.operation, cid: e.cid, nullified: e.nullified, createdAt: new Date(e.createdAt).toISOString() }
    process.stdout.write(`${JSON.stringify(line)}\n`)
  }
}

export function registerPlcCommands(program: Command): void {
  const plc = program
    .command('plc')
    .description('run a PLC directory server (or see `atfed plc history`)')
    .option('--port <port>', `port to listen on (env ATFED_PLC_PORT, default ${DEFAULT_PLC_PORT})`)
    .option('--data <dir>', 'data directory (env ATFED_PLC_DATA)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .action((options: ServeOptions) => serve(options))
  plc
    .command('history <did>')
    .description("print a DID's PLC audit log, one JSON entry per line")
    .option('--plc <url>', `PLC directory URL (env ATFED_PLC_URL, default ${DEFAULT_PLC_URL})`)
    .option('--verify', 'replay the log under the directory rules and fail if it does not hold')
    .action((did: string, options: HistoryOptions) => history(did, options))
}
