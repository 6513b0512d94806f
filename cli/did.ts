/**
 * `atfed did resolve <did|handle> [--plc URL] [--dns SERVER] [--allow-private]`
 *
 * Prints one JSON object: {did, handle, handleVerified, signingKey, pds}
 * where signingKey is a did:key string (or null for identities without an
 * #atproto key, e.g. service DIDs) and pds the #atproto_pds endpoint.
 * `--allow-private` is the dev flag: it lets did:web and handle lookups reach
 * loopback/private addresses (local test networks); never use it in production.
 */
import type { Command } from 'commander'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'

const DEFAULT_PLC_URL = 'https://plc.directory'

type ResolveOptions = { plc?: string; dns?: string[]; allowPrivate?: boolean }

async function resolve(subject: string, options: ResolveOptions): Promise<void> {
  const resolver = new IdentityResolver({
    plcUrl: options.plc ?? process.env['ATFED_PLC_URL'] ?? DEFAULT_PLC_URL,
    allowPrivateAddresses: options.allowPrivate === true || process.env['ATFED_DEV'] === '1',
    ...(options.dns && options.dns.length > 0 ? { dnsServers: options.dns } : {}),
  })
  try {
    const identity = await resolver.resolveIdentity(subject)
    const out = {
      did: identity.did,
      handle: identity.handle,
      handleVerified: identity.handleVerified,
      signingKey: identity.signingKey?.didKey ?? null,
      pds: identity.pds,
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
  } finally {
    resolver.close()
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export function registerDidCommands(program: Command): void {
  const did = program.command('did').description('DID and handle tools')
  did
    .command('resolve <didOrHandle>')
    .description('resolve a DID or handle and print its atproto identity as JSON')
    .option('--plc <url>', `PLC directory URL (env ATFED_PLC_URL, default ${DEFAULT_PLC_URL})`)
    .option('--dns <server>', 'DNS server for handle TXT lookups, host[:port] (repeatable)', collect)
    .option('--allow-private', 'dev flag: allow loopback/private addresses (env ATFED_DEV=1)')
    .action((subject: string, options: ResolveOptions) => resolve(subject, options))
}
