/**
 * `atfed <command> …` as a child process, for tests that must kill a
 * service for real (SIGKILL) or run several services on separate cores:
 * `spawnAtfed(args, { ready })` starts `node bin/atfed.js …` and resolves
 * once a stdout line matches `ready` (its first capture group is the URL),
 * or rejects when the child exits first or the start-up time runs out.
 * stderr is kept (last lines) so a failing test can show why a child died.
 *
 * `freePort()` asks the kernel for a port and releases it: a service that
 * restarts on "the same port" (a relay URL its PDSes were told about) needs
 * a fixed number, which port 0 cannot give. Another process could take the
 * port in between; on a test machine that is rare enough.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import net from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/atfed.js', import.meta.url))
const START_TIMEOUT_MS = 30_000
const STDERR_LINES_KEPT = 40
const STDOUT_START_LINES_KEPT = 40

export type AtfedChild = {
  readonly child: ChildProcess
  /** The URL the ready line named. */
  readonly url: string
  /** The child's last stderr lines. */
  readonly stderr: string[]
  /** Its stdout lines up to the ready line (at most STDOUT_START_LINES_KEPT, the last ones). */
  readonly startup: readonly string[]
  /** Resolves when the child has exited (at once if it already has). */
  readonly exited: Promise<void>
  /** Send `signal` (default SIGKILL) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

export type SpawnAtfedOptions = {
  /** A stdout line matching this means started; capture group 1 is the URL. */
  ready: RegExp
  env?: Record<string, string>
  timeoutMs?: number
}

export function spawnAtfed(args: readonly string[], options: SpawnAtfedOptions): Promise<AtfedChild> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stderr: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line)
    if (stderr.length > STDERR_LINES_KEPT) stderr.shift()
  })
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`atfed ${args[0]} did not start in ${options.timeoutMs ?? START_TIMEOUT_MS} ms:\n${stderr.join('\n')}`))
    }, options.timeoutMs ?? START_TIMEOUT_MS)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`atfed ${args[0]} exited (${signal ?? code}) before it was ready:\n${stderr.join('\n')}`))
    })
    const startup: string[] = []
    let started = false
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      if (started) return
      startup.push(line)
      if (startup.length > STDOUT_START_LINES_KEPT) startup.shift()
      const match = options.ready.exec(line)
      if (match === null) return
      started = true
      clearTimeout(timer)
      resolve({ child, url: match[1] ?? '', stderr, startup, exited, kill })
    })
  })
}

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
