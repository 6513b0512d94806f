/**
 * The `atfed` command. Each subcommand lives in its own file under cli/ and
 * registers itself here. Errors are one clear line on stderr and a non-zero
 * exit, never a stack trace.
 */
import { Command, CommanderError } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { registerPlcCommands } from './plc.ts'
import { registerDidCommands } from './did.ts'
import { registerCarCommands } from './car.ts'
import { registerFeedgenCommands } from './feedgen.ts'
import { registerLabelerCommands } from './labeler.ts'
import { registerRelayCommands } from './relay.ts'
import { registerPdsCommands } from './pds.ts'
import { registerAccountCommands } from './account.ts'
import { registerAdminCommands } from './admin.ts'
import { registerDevCommands } from './dev.ts'
import { registerFirehoseCommands } from './firehose.ts'

export function buildProgram(): Command {
  const program = new Command()
  program
    .name('atfed')
    .description('AT-Protocol federation: PDS, relay, PLC directory, feed generator, labeler')
    .showHelpAfterError()
    .exitOverride()
  registerPlcCommands(program)
  registerDidCommands(program)
  registerCarCommands(program)
  registerFeedgenCommands(program)
  registerLabelerCommands(program)
  registerRelayCommands(program)
  registerPdsCommands(program)
  registerAccountCommands(program)
  registerAdminCommands(program)
  registerDevCommands(program)
  registerFirehoseCommands(program)
  return program
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    process.exitCode = exitCodeFor(err)
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode
  if (err instanceof AtfedError) {
    process.stderr.write(`atfed: ${err.name}: ${err.message}\n`)
    return 1
  }
  process.stderr.write(`atfed: ${(err as Error)?.message ?? String(err)}\n`)
  return 1
}
