/**
 * The recovery commands under `atfed account` (wired by cli/account.ts):
 *
 *   atfed account recovery-key add --pds URL --handle H --password P [--key-file FILE]
 *                                  [--import-key MULTIBASE] [--plc-token T | --admin-password X] [--plc URL]
 *   atfed account recovery-key show --did DID [--plc URL] [--key-file FILE] [--json]
 *   atfed account backup --did DID --out DIR [--pds URL] [--plc URL] [--allow-private]
 *   atfed account recover --backup DIR --recovery-key FILE --to URL [--handle H] [--password P]
 *                         [--email E] [--invite-code C] [--plc URL]
 *
 * Progress and warnings go to stderr; the result is one JSON line on stdout
 * (`show` prints a small table unless --json). --plc defaults to env
 * ATFED_PLC_URL, then https://plc.directory; `recover`'s password may come
 * from env ATFED_PASSWORD instead of the command line.
 */
import type { Command } from 'commander'
import { AtfedError } from '../../core/errors.ts'
import { runBackup } from './backup.ts'
import { recoverAccount } from './recover.ts'
import { addRecoveryKey } from './recovery-key.ts'
import { showRecoveryKeys } from './recovery-key-show.ts'

const DEFAULT_PLC_URL = 'https://plc.directory'
const PLC_HELP = `PLC directory (env ATFED_PLC_URL, default ${DEFAULT_PLC_URL})`

function plcUrl(flag: string | undefined): string {
  return flag ?? process.env['ATFED_PLC_URL'] ?? DEFAULT_PLC_URL
}

function stderr(line: string): void {
  process.stderr.write(`${line}\n`)
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

type AddFlags = { pds: string; handle: string; password: string; keyFile?: string; importKey?: string; plcToken?: string; adminPassword?: string; plc?: string }
type ShowFlags = { did: string; plc?: string; keyFile?: string; json?: boolean }
type BackupFlags = { did: string; out: string; pds?: string; plc?: string; allowPrivate?: boolean }
type RecoverFlags = { backup: string; recoveryKey: string; to: string; handle?: string; password?: string; email?: string; inviteCode?: string; plc?: string }

function registerKeyCommands(account: Command, options: { readToken: () => Promise<string> }): void {
  const key = account.command('recovery-key').description('a rotation key you hold yourself, first in your DID’s rotationKeys')
  key
    .command('add')
    .description('generate (or import) a recovery key, save it to a file and make it your DID’s first rotation key')
    .requiredOption('--pds <url>', 'the PDS the account is on')
    .requiredOption('--handle <handle>', 'handle (or DID) to log in with')
    .requiredOption('--password <password>', 'the account’s main password')
    .option('--key-file <file>', 'where the private key goes (default ./did_plc_….recovery-key; never overwritten, reused on a re-run)')
    .option('--import-key <multibase>', 'use this private multikey instead of generating one (visible in your shell history!)')
    .option('--plc-token <token>', 'the PLC operation token the PDS issued (its log, or its mail)')
    .option('--admin-password <password>', "read the token from the PDS's --dev admin route")
    .option('--plc <url>', PLC_HELP)
    .action(async (flags: AddFlags) => {
      const report = await addRecoveryKey({ ...flags, plc: plcUrl(flags.plc), readToken: options.readToken, log: stderr })
      printJson(report)
    })
  key
    .command('show')
    .description("print the DID's rotation keys, marking yours and the PDS's")
    .requiredOption('--did <did>', 'the DID')
    .option('--plc <url>', PLC_HELP)
    .option('--key-file <file>', 'your recovery-key file, to mark your key')
    .option('--json', 'print JSON')
    .action(async (flags: ShowFlags) => {
      process.stdout.write(await showRecoveryKeys({ ...flags, plc: plcUrl(flags.plc) }))
    })
}

export function registerRecoveryCommands(account: Command, options: { readToken: () => Promise<string> }): void {
  registerKeyCommands(account, options)
  account
    .command('backup')
    .description('back up a repo and its blobs into a directory (incremental after the first run; always complete and verified)')
    .requiredOption('--did <did>', 'the account')
    .requiredOption('--out <dir>', 'the backup directory')
    .option('--pds <url>', "server to fetch from (default: the DID document's PDS)")
    .option('--plc <url>', PLC_HELP)
    .option('--allow-private', 'dev flag: did:web documents on loopback/private addresses (env ATFED_DEV=1)')
    .action(async (flags: BackupFlags) => {
      const allowPrivate = flags.allowPrivate === true || process.env['ATFED_DEV'] === '1'
      printJson(await runBackup({ ...flags, plc: plcUrl(flags.plc), allowPrivate, log: stderr }))
    })
  account
    .command('recover')
    .description('bring an account up on a new PDS from a backup and your recovery key, without the old PDS')
    .requiredOption('--backup <dir>', 'a directory made by `atfed account backup`')
    .requiredOption('--recovery-key <file>', 'your recovery-key file (from `recovery-key add`)')
    .requiredOption('--to <url>', 'the new PDS')
    .option('--handle <handle>', "handle on the new PDS (default: the current one, which must be under the new PDS's domain or still resolve to the DID)")
    .option('--password <password>', 'password for the account on the new PDS (or env ATFED_PASSWORD)')
    .option('--email <email>', 'email on the new PDS')
    .option('--invite-code <code>', 'invite code, if the new PDS requires one')
    .option('--plc <url>', PLC_HELP)
    .action(async (flags: RecoverFlags) => {
      const password = flags.password ?? process.env['ATFED_PASSWORD']
      if (password === undefined || password === '') throw new AtfedError('InvalidArgument', 'give the new account a password: --password or env ATFED_PASSWORD')
      printJson(await recoverAccount({ ...flags, password, plc: plcUrl(flags.plc), log: stderr }))
    })
}
