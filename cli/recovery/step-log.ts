/**
 * Numbered steps on stderr for the recovery commands
 * (`recover: [3/8] import the repo`). A server that refuses a step (an
 * XrpcClientError, or any non-typed error) becomes one error name per
 * command (`errorName`) whose message names the step and the server's
 * error name and status; our own typed errors (a bad backup, a bad key
 * file, the PLC client's names) pass through unchanged — the step line
 * printed just before says where. The cause is kept on the error.
 *
 * `skip` prints a step that had nothing to do (a resumed recovery), so the
 * numbering stays the same on every run.
 */
import { AtfedError } from '../../core/errors.ts'
import { XrpcClientError } from '../../core/xrpc/client.ts'

export function describeError(err: unknown): string {
  if (err instanceof XrpcClientError) return `${err.error} (HTTP ${err.status}): ${err.message}`
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

export type StepLogOptions = {
  /** Prefix of each line, e.g. `recover`. */
  command: string
  total: number
  log: (line: string) => void
  /** Name of the error a failed server call throws, e.g. `RecoveryFailed`. */
  errorName: string
}

export class StepLog {
  #n = 0
  readonly #opts: StepLogOptions

  constructor(opts: StepLogOptions) {
    this.#opts = opts
  }

  #line(what: string): void {
    this.#n++
    this.#opts.log(`${this.#opts.command}: [${this.#n}/${this.#opts.total}] ${what}`)
  }

  /** Run one step; a failure becomes `errorName` with the step and the cause in its message. */
  async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.#line(what)
    try {
      return await fn()
    } catch (err) {
      // Typed refusals (bad backup, bad key file, the PLC's own names) are clear already: keep them.
      if (err instanceof AtfedError && !(err instanceof XrpcClientError)) throw err
      throw new AtfedError(this.#opts.errorName, `step ${this.#n} (${what}) failed: ${describeError(err)}`, { cause: err })
    }
  }

  skip(what: string, why: string): void {
    this.#line(`${what}: ${why}`)
  }

  note(line: string): void {
    this.#opts.log(`${this.#opts.command}:        ${line}`)
  }
}
