/**
 * Bounded waiting for the crash tests: `pollUntil(check, what, { timeoutMs })`
 * calls an async or sync `check` every `intervalMs` until it returns true,
 * and throws naming `what` once `timeoutMs` has passed. A check that throws
 * (the service is still starting) counts as "not yet".
 */
export type PollOptions = { timeoutMs: number; intervalMs?: number }

export async function pollUntil(check: () => boolean | Promise<boolean>, what: string, options: PollOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let lastError: unknown = null
  for (;;) {
    try {
      if (await check()) return
      lastError = null
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`, lastError === null ? undefined : { cause: lastError })
    }
    await sleep(options.intervalMs ?? 10)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
