/**
 * Typed errors. The `name` is API (stable, matched by tests and by callers);
 * the message is free text for humans.
 *
 * Two kinds of failure: `assert` is for our own bugs, `AtfedError` is for bad input.
 */
export class AtfedError<N extends string = string> extends Error {
  override readonly name: N
  constructor(name: N, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = name
  }
}

export function isAtfedError(err: unknown, name?: string): err is AtfedError {
  return err instanceof AtfedError && (name === undefined || err.name === name)
}

export class AssertionError extends Error {
  override readonly name = 'AssertionError'
}

export function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(message)
}
