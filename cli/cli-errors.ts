/**
 * How `atfed` reports a failure: ONE line on stderr and exit code 1, never
 * a stack trace.
 *
 *   atfed: <ErrorName>: <message>
 *
 * - A failed XRPC call (XrpcClientError) is named by the server's error
 *   (`RepoNotFound`, `HandleNotAvailable`, `AuthRequired`, …) or, with no
 *   usable response, by the client's (`UpstreamFailure`, `UpstreamTimeout`).
 * - Our own bad-input errors (AtfedError) by their name.
 * - A Node system error (a missing file) by its code: `ENOENT: …`.
 * - Anything else is a bug of ours: its name and message, plus a hint that
 *   ATFED_DEBUG=1 prints the stack.
 * - A usage error commander finds (unknown command or option, missing
 *   argument) is `UsageError`, with the command whose --help explains it.
 * Messages are folded onto one line and cut at CLI_ERROR_MESSAGE_CHARS_MAX.
 *
 * `installCrashHandler` makes an error thrown outside a command's promise
 * (an event handler, a timer) end the process the same way.
 */
import { AtfedError } from '../core/errors.ts'
import { CLI_ERROR_MESSAGE_CHARS_MAX } from '../core/limits.ts'
import { XrpcClientError } from '../core/xrpc/client.ts'

function debugging(): boolean {
  const flag = process.env['ATFED_DEBUG']
  return flag !== undefined && flag !== '' && flag !== '0'
}

function oneLine(text: string): string {
  const folded = text.replace(/\s*[\r\n]+\s*/g, ' ').trim()
  return folded.length > CLI_ERROR_MESSAGE_CHARS_MAX ? `${folded.slice(0, CLI_ERROR_MESSAGE_CHARS_MAX)}…` : folded
}

/** `[name, message]` of the line printed for `err`. */
export function describeError(err: unknown): { name: string; message: string; bug: boolean } {
  if (err instanceof XrpcClientError) return { name: err.error, message: err.message, bug: false }
  if (err instanceof AtfedError) return { name: err.name, message: withCause(err.message, err.cause), bug: false }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      return { name: code, message: err.message.startsWith(`${code}: `) ? err.message.slice(code.length + 2) : err.message, bug: false }
    }
    return { name: err.name || 'Error', message: err.message, bug: true }
  }
  return { name: 'Error', message: String(err), bug: true }
}

/** Our error wrapping a system error (`ListenFailed` around EADDRINUSE): the line names both. */
function withCause(message: string, cause: unknown): string {
  if (!(cause instanceof Error) || cause instanceof AtfedError) return message
  const code = (cause as { code?: unknown }).code
  if (typeof code !== 'string' || message.includes(code)) return message
  return `${message} (${cause.message.includes(code) ? cause.message : `${code}: ${cause.message}`})`
}

/** Prints the one line for `err` (and the stack with ATFED_DEBUG=1); returns the exit code. */
export function reportError(err: unknown): number {
  const { name, message, bug } = describeError(err)
  const hint = bug && !debugging() ? ' (an atfed bug? ATFED_DEBUG=1 prints the stack)' : ''
  process.stderr.write(`atfed: ${name}: ${oneLine(message)}${hint}\n`)
  if (debugging() && err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`)
  return 1
}

/** Commander's error text (`error: unknown option '--x'` + a suggestion line) as our one line. */
export function usageErrorLine(commandPath: string, text: string): string {
  return `atfed: UsageError: ${oneLine(text.replace(/^error: /, ''))} (see: ${commandPath} --help)\n`
}

let installed = false

/** An uncaught exception or unhandled rejection: the one line, exit 1. */
export function installCrashHandler(): void {
  if (installed) return
  installed = true
  process.on('uncaughtException', (err) => {
    process.exitCode = reportError(err)
    process.exit()
  })
}
