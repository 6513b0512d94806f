/**
 * Running `node bin/atfed.js …` from tests, as a user would:
 * - `runAtfed(args)`: run to the end, collect {code, stdout, stderr};
 * - `spawnAtfed(args)`: a long-running one (`atfed dev`, `atfed firehose`)
 *   with its output collected line by line, `waitFor(regex)` on stdout,
 *   and `exit` (code and signal); `kill()` is SIGKILL for clean-up;
 * - `freeBasePort(n)`: a base port with n free ports after it on
 *   127.0.0.1 (checked by binding each), so a test network never collides
 *   with a developer's `atfed dev` on the default ports;
 * - `assertOneLineError`: exit 1 and `atfed: <Name>: …`, no stack trace.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export const ATFED_BIN = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')

export type RunResult = { code: number; stdout: string; stderr: string }

export function runAtfed(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ATFED_BIN, ...args],
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

export function assertOneLineError(out: RunResult, name: string): void {
  assert.equal(out.code, 1, `exit code (stderr: ${out.stderr})`)
  assert.match(out.stderr, new RegExp(`^atfed: ${name}: .+$`, 'm'))
  assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack trace')
}

export type AtfedProcess = {
  readonly proc: ChildProcess
  readonly stdoutLines: string[]
  readonly stderrLines: string[]
  /** Resolves with the first stdout line (seen so far or later) matching `re`. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(): void
}

export function spawnAtfed(args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): AtfedProcess {
  const proc = spawn(process.execPath, [ATFED_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env })
  const stdoutLines: string[] = []
  const stderrLines: string[] = []
  const waiters = new Set<(line: string) => void>()
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    stdoutLines.push(line)
    for (const w of waiters) w(line)
  })
  createInterface({ input: proc.stderr! }).on('line', (line) => stderrLines.push(line))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
  const waitFor = (re: RegExp, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const seen = stdoutLines.find((l) => re.test(l))
      if (seen !== undefined) return resolve(seen)
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`no stdout line matching ${re} within ${timeoutMs} ms; stderr tail:\n${stderrLines.slice(-30).join('\n')}`))
      }, timeoutMs)
      const check = (line: string) => {
        if (!re.test(line)) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve(line)
      }
      waiters.add(check)
      void exit.then(({ code, signal }) => {
        if (!waiters.has(check)) return
        clearTimeout(timer)
        waiters.delete(check)
        reject(new Error(`exited (${code ?? signal}) before a line matching ${re}; stderr tail:\n${stderrLines.slice(-30).join('\n')}`))
      })
    })
  return { proc, stdoutLines, stderrLines, waitFor, exit, kill: () => void proc.kill('SIGKILL') }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A base port in [20000, 60000) with `count` consecutive free ports. */
export async function freeBasePort(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000)
    let free = true
    for (let i = 0; i < count && free; i++) free = await portIsFree(base + i)
    if (free) return base
  }
  throw new Error(`no ${count} consecutive free ports found`)
}
