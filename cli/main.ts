/**
 * The `atfed` command. Each subcommand lives in its own file under cli/ and
 * registers itself (options, help, action) with commander.
 *
 * Lazy loading: a command's file imports its implementation (a PDS pulls in
 * express, level, the repo code, …: about a second of CPU for all of them),
 * so a process loads only the file of the command it runs. COMMANDS lists
 * every top-level command with its description; `buildProgram` registers
 * the named ones for real and the others as stubs (name, description,
 * usage term), which is all the top-level help shows. `atfed <cmd> …` and
 * `atfed help <cmd>` load `<cmd>`, so every command's own --help is the
 * real one. test/cli/main.test.ts keeps the stubs equal to the real
 * commands (same help text, stub or not).
 *
 * Errors (cli-errors.ts): one line on stderr, `atfed: <ErrorName>:
 * <message>`, where the name is the server's XRPC error name for a failed
 * call (`UsageError` for what commander refuses), and a non-zero exit;
 * never a stack trace.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Help } from 'commander'
import { installCrashHandler, reportError, usageErrorLine } from './cli-errors.ts'

type Register = (program: Command) => void

type CommandEntry = {
  readonly name: string
  readonly description: string
  /** What the top-level help shows after the name (commander's term for the real command). */
  readonly term: string
  readonly load: () => Promise<Register>
}

const ADMIN_DESCRIPTION = 'administer a running service'

/** Every top-level command, in help order; descriptions equal the real commands' (tested). */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'plc', term: '[options]', description: 'run a PLC directory server (or see `atfed plc history`)', load: async () => (await import('./plc.ts')).registerPlcCommands },
  { name: 'did', term: '', description: 'DID and handle tools', load: async () => (await import('./did.ts')).registerDidCommands },
  { name: 'car', term: '', description: 'export, import, inspect, list, verify and unpack repo CAR files', load: async () => (await import('./car.ts')).registerCarCommands },
  {
    name: 'feedgen', term: '[options]', description: 'run a feed generator fed by a relay firehose (or see `atfed feedgen publish`)',
    load: async () => (await import('./feedgen.ts')).registerFeedgenCommands,
  },
  {
    name: 'labeler', term: '[options]', description: 'run a moderation labeler: rules over the firehose, signed labels, queryLabels and subscribeLabels',
    load: async () => (await import('./labeler.ts')).registerLabelerCommands,
  },
  {
    name: 'relay', term: '[options]', description: 'run a relay: crawl PDS hosts, verify every event, serve one ordered firehose',
    load: async () => (await import('./relay.ts')).registerRelayCommands,
  },
  { name: 'admin', term: '', description: ADMIN_DESCRIPTION, load: loadAdmin },
  { name: 'pds', term: '[options]', description: 'run a Personal Data Server (accounts, repos, firehose)', load: async () => (await import('./pds.ts')).registerPdsCommands },
  { name: 'account', term: '', description: 'create, list and migrate accounts on a PDS', load: async () => (await import('./account.ts')).registerAccountCommands },
  {
    name: 'dev', term: '[options]', description: 'run a whole network here: PLC, two PDSes, relay, feed generator, labeler (Ctrl-C stops it)',
    load: async () => (await import('./dev.ts')).registerDevCommands,
  },
  { name: 'firehose', term: '[options]', description: 'tail a relay or PDS firehose (subscribeRepos) as JSON lines', load: async () => (await import('./firehose.ts')).registerFirehoseCommands },
]

/** `admin` gathers the relay's `hosts` (cli/relay-admin.ts) and the PDS's subcommands (cli/admin.ts). */
async function loadAdmin(): Promise<Register> {
  const [relayAdmin, pdsAdmin] = await Promise.all([import('./relay-admin.ts'), import('./admin.ts')])
  return (program) => {
    // `atfed relay`'s file registers `admin hosts` too: with every command loaded it is there already.
    const admin = program.commands.find((c) => c.name() === 'admin')
    if (admin === undefined || !admin.commands.some((c) => c.name() === 'hosts')) relayAdmin.registerRelayAdminCommands(program)
    pdsAdmin.registerAdminCommands(program)
  }
}

function packageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}

/**
 * The program with `load` commands registered for real ('all': every one)
 * and the rest as stubs that only show in the top-level help.
 */
export async function buildProgram(load: readonly string[] | 'all'): Promise<Command> {
  const program = new Command()
  program
    .name('atfed')
    .description('AT-Protocol federation: PDS, relay, PLC directory, feed generator, labeler')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
  const stubTerms = new Map<Command, string>()
  for (const entry of COMMANDS) {
    if (load === 'all' || load.includes(entry.name)) {
      const register = await entry.load()
      register(program)
    } else if (!program.commands.some((c) => c.name() === entry.name)) {
      stubTerms.set(program.command(entry.name).description(entry.description), entry.term)
    }
  }
  program.configureHelp({
    subcommandTerm(this: Help, cmd: Command): string {
      const term = stubTerms.get(cmd)
      return term === undefined ? Help.prototype.subcommandTerm.call(this, cmd) : [cmd.name(), term].filter((s) => s !== '').join(' ')
    },
  })
  oneLineUsageErrors(program, 'atfed')
  return program
}

/** Every command reports a usage error as one line naming its own --help. */
function oneLineUsageErrors(cmd: Command, path: string): void {
  cmd.configureOutput({ outputError: (text, write) => write(usageErrorLine(path, text)) })
  for (const sub of cmd.commands) oneLineUsageErrors(sub, `${path} ${sub.name()}`)
}

/** The top-level command `argv` runs (also for `atfed help <cmd>`), or none. */
export function commandOf(argv: readonly string[]): string | null {
  const words = argv.slice(2)
  const first = words[0]
  if (first === undefined || first.startsWith('-')) return null
  if (first === 'help') return words[1] ?? null
  return first
}

export async function main(argv: string[]): Promise<void> {
  installCrashHandler()
  try {
    const name = commandOf(argv)
    const program = await buildProgram(name === null ? [] : [name])
    await program.parseAsync(argv)
  } catch (err) {
    process.exitCode = err instanceof CommanderError ? err.exitCode : reportError(err)
  }
}
