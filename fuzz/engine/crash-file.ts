/**
 * Crash inputs on disk: test/fuzz/regressions/<target>/<sha>.bin (the input)
 * and <sha>.txt (`found: <one-line reason>`; an `expect: <ErrorName>` or
 * `expect: ok` line is added by hand once the bug is fixed, and
 * test/fuzz/regressions.test.ts replays the pair forever). <sha> is the first
 * 16 hex digits of the input's SHA-256, so one input is saved once.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'

export const REGRESSIONS_URL = new URL('../../test/fuzz/regressions/', import.meta.url)

/** Writes a crash input and its reason; returns the .bin path (relative), or null if it was known. */
export function saveCrash(
  target: string,
  crash: { input: Uint8Array; reason: string },
  options: { dirUrl?: URL } = {},
): string | null {
  const { input, reason } = crash
  const dirUrl = options.dirUrl ?? REGRESSIONS_URL
  const sha = createHash('sha256').update(input).digest('hex').slice(0, 16)
  const dir = new URL(`${target}/`, dirUrl)
  mkdirSync(dir, { recursive: true })
  const bin = new URL(`${sha}.bin`, dir)
  if (existsSync(bin)) return null
  writeFileSync(bin, input)
  writeFileSync(new URL(`${sha}.txt`, dir), `found: ${reason.replace(/\s+/g, ' ')}\n`)
  return `test/fuzz/regressions/${target}/${sha}.bin`
}
