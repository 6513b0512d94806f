/**
 * One service of `atfed dev` as a child process: `node bin/atfed.js
 * <service> …`, exactly what a user would type, so a crash of one service
 * is that process's exit, visible on its own.
 *
 * - Ready: every service prints one line containing `listening on <url>`
 *   once it serves (the DID, when it has one, is in the same line). `ready`
 *   resolves with that URL and DID; it rejects when the child exits first
 *   or stays silent past DEV_CHILD_READY_TIMEOUT_MS.
 * - Output: every stdout/stderr line goes to our stderr as `[name] line`
 *   (cut at DEV_LOG_LINE_CHARS_MAX); the last DEV_CHILD_TAIL_LINES are kept.
 * - Its own process group (`detached`): a terminal's Ctrl-C reaches only
 *   `atfed dev`, which then stops the children in its own order (consumers
 *   first, so their cursors land while the relay still runs). Should `atfed
 *   dev` exit without stopping them, the 'exit' hook kills what is left.
 * - stop(): SIGTERM, then SIGKILL after the grace period. Clean means the
 *   service exited with code 0 on the SIGTERM (each one closes its database
 *   on SIGTERM and exits 0).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { AtfedError } from '../core/errors.ts'
import { DEV_CHILD_READY_TIMEOUT_MS, DEV_CHILD_STOP_GRACE_MS, DEV_CHILD_TAIL_LINES, DEV_LOG_LINE_CHARS_MAX } from '../core/limits.ts'

export const ATFED_BIN = fileURLToPath(new URL('../bin/atfed.js', import.meta.url))

export type Ready = { readonly url: string; readonly did: string | null }
export type Exit = { readonly code: number | null; readonly signal: NodeJS.Signals | null }
export type StopResult = Exit & { readonly killed: boolean }

export type ChildOptions = {
  /** Where the `[name] line` output goes (default: stderr). */
  log?: (line: string) => void
  readyTimeoutMs?: number
  /** The program and its first arguments (default: node bin/atfed.js); `args` follow. */
  command?: readonly [string, ...string[]]
}

const READY_LINE = /listening on (\S+)/
const DID_IN_LINE = /\b(did:(?:plc|web):[A-Za-z0-9._:%-]+)/

export class ServiceChild {
  readonly name: string
  readonly args: readonly string[]
  readonly ready: Promise<Ready>
  readonly exited: Promise<Exit>
  readonly #proc: ChildProcess
  readonly #tail: string[] = []
  #exit: Exit | null = null

  constructor(name: string, args: readonly string[], options: ChildOptions = {}) {
    this.name = name
    this.args = args
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
    const [program, ...first] = options.command ?? [process.execPath, ATFED_BIN]
    this.#proc = spawn(program, [...first, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: process.env })
    const killOnExit = () => this.#proc.kill('SIGKILL')
    process.once('exit', killOnExit)
    this.exited = new Promise<Exit>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.#exit !== null) return
        process.off('exit', killOnExit)
        this.#exit = { code, signal }
        resolve(this.#exit)
      }
      this.#proc.once('close', finish) // after exit AND its output is drained: the tail is complete
      this.#proc.once('error', (err) => {
        log(`[${name}] cannot start: ${err.message}`)
        finish(null, null)
      })
    })
    const onLine = (line: string) => {
      const cut = line.length > DEV_LOG_LINE_CHARS_MAX ? `${line.slice(0, DEV_LOG_LINE_CHARS_MAX)}…` : line
      this.#tail.push(cut)
      if (this.#tail.length > DEV_CHILD_TAIL_LINES) this.#tail.shift()
      log(`[${name}] ${cut}`)
    }
    let onReadyLine: (line: string) => void = () => {}
    this.ready = new Promise<Ready>((resolve, reject) => {
      const timeoutMs = options.readyTimeoutMs ?? DEV_CHILD_READY_TIMEOUT_MS
      const timer = setTimeout(() => {
        reject(new AtfedError('DevServiceFailed', `${name} did not report "listening on" within ${timeoutMs} ms`))
      }, timeoutMs)
      onReadyLine = (line) => {
        const url = READY_LINE.exec(line)?.[1]
        if (url === undefined) return
        clearTimeout(timer)
        onReadyLine = () => {}
        resolve({ url, did: DID_IN_LINE.exec(line.slice(0, line.indexOf('listening on')))?.[1] ?? null })
      }
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer)
        const how = signal === null ? `code ${code}` : signal
        reject(new AtfedError('DevServiceFailed', `${name} exited (${how}) before it was ready; its output is above`))
      })
    })
    this.ready.catch(() => {}) // the caller awaits it; an unobserved rejection must not end the process
    this.#lines(this.#proc.stdout, (line) => {
      onLine(line)
      onReadyLine(line)
    })
    this.#lines(this.#proc.stderr, onLine)
  }

  get pid(): number | undefined {
    return this.#proc.pid
  }

  /** Null while running. */
  get exit(): Exit | null {
    return this.#exit
  }

  /** The last lines it printed (for an error report). */
  get tail(): readonly string[] {
    return this.#tail
  }

  #lines(stream: Readable | null, onLine: (line: string) => void): void {
    if (stream === null) return
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine)
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = DEV_CHILD_STOP_GRACE_MS): Promise<StopResult> {
    if (this.#exit !== null) return { ...this.#exit, killed: false }
    this.#proc.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)))
    const first = await Promise.race([this.exited, timedOut])
    clearTimeout(timer)
    if (first !== 'timeout') return { ...first, killed: false }
    this.#proc.kill('SIGKILL')
    return { ...(await this.exited), killed: true }
  }

  /** SIGKILL now (a second Ctrl-C). */
  kill(): void {
    if (this.#exit === null) this.#proc.kill('SIGKILL')
  }
}
