/**
 * What test/docs/readme-commands.test.ts needs to run the README as a
 * newcomer would:
 *   - `shellBlocks(markdown)`: every fenced block marked sh/bash/shell/console,
 *     with its section heading and its commands (one per line; a trailing `\`
 *     joins lines; blank and comment-only lines dropped);
 *   - `withoutComment(command)`: the command without a trailing ` # …` comment;
 *   - `newcomerEnv()`: this process's environment without what a test run
 *     adds: what `npm test` sets for its script (npm_package_*, npm_lifecycle_*,
 *     npm_config_local_prefix naming THIS checkout, its loglevel), node:test's
 *     context, NODE_OPTIONS. The user's own npm configuration (npm_config_*:
 *     cache, registry, proxies, …) stays, so the inner `npm ci` uses the same
 *     (warm) cache;
 *   - `runScript(commands, …)`: the commands in ONE bash (so `did=$(…)`
 *     carries over), `set -e -o pipefail`, each preceded by a marker line on
 *     stdout and stderr, so the output is cut per command; its own process
 *     group, killed whole at the time limit;
 *   - `startGroup(command, …)`: a long-running command (`npm start`) in its
 *     own process group, stdout lines collected, `waitFor(re)` bounded,
 *     `signal(sig)` to the whole group (what a terminal's Ctrl-C does).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

export type ShellBlock = { readonly heading: string; readonly line: number; readonly commands: readonly string[] }

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console'])

export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n')
  const blocks: ShellBlock[] = []
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const h = /^#{1,6}\s+(.*)$/.exec(line)
    if (h !== null) heading = h[1]!.trim()
    const fence = /^```(\S*)\s*$/.exec(line)
    if (fence === null) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!)
    if (SHELL_LANGS.has(fence[1]!)) blocks.push({ heading, line: start + 1, commands: commandsOf(body) })
  }
  return blocks
}

function commandsOf(body: readonly string[]): string[] {
  const commands: string[] = []
  let pending = ''
  for (const raw of body) {
    const line = raw.replace(/\s+$/, '')
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `
      continue
    }
    commands.push(`${pending}${line.trim()}`)
    pending = ''
  }
  if (pending !== '') commands.push(pending.trim())
  return commands
}

export function withoutComment(command: string): string {
  return command.replace(/\s+#\s.*$/, '').trim()
}

export function newcomerEnv(extra: { readonly [name: string]: string } = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    const npmScriptVariable = /^npm_/i.test(name) && (!/^npm_config_/i.test(name) || /^npm_config_(local_prefix|loglevel)$/i.test(name))
    if (npmScriptVariable || name === 'INIT_CWD' || name === 'NODE_TEST_CONTEXT' || name === 'NODE_OPTIONS') continue
    env[name] = value
  }
  return { ...env, ...extra }
}

export type CommandOutput = { readonly command: string; readonly stdout: string; readonly stderr: string }
export type ScriptResult = { readonly code: number | null; readonly outputs: readonly CommandOutput[]; readonly timedOut: boolean }

const MARK = '@@readme-command '

export function runScript(commands: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ScriptResult> {
  const script = ['set -e -o pipefail']
  commands.forEach((command, i) => script.push(`printf '\\n${MARK}%d\\n' ${i}; printf '\\n${MARK}%d\\n' ${i} >&2`, command))
  return new Promise((resolve) => {
    const proc = spawn('bash', ['-c', script.join('\n')], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(proc, 'SIGKILL')
    }, opts.timeoutMs)
    proc.once('close', (code) => {
      clearTimeout(timer)
      const out = split(stdout)
      const err = split(stderr)
      const outputs = commands.map((command, i) => ({ command, stdout: out.get(i) ?? '', stderr: err.get(i) ?? '' })).filter((_, i) => out.has(i))
      resolve({ code, outputs, timedOut })
    })
  })
}

function split(text: string): Map<number, string> {
  const parts = new Map<number, string>()
  const re = new RegExp(`\\n${MARK}(\\d+)\\n`, 'g')
  const marks = [...text.matchAll(re)]
  marks.forEach((m, k) => {
    const end = k + 1 < marks.length ? marks[k + 1]!.index : text.length
    parts.set(Number(m[1]), text.slice(m.index + m[0].length, end))
  })
  return parts
}

export function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, signal)
  } catch {
    // the group is gone already
  }
}

export type GroupProcess = {
  readonly proc: ChildProcess
  readonly stdoutLines: string[]
  readonly stderrLines: string[]
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  waitFor(re: RegExp, timeoutMs: number): Promise<void>
  signal(sig: NodeJS.Signals): void
  running(): boolean
}

export function startGroup(command: string, opts: { cwd: string; env: NodeJS.ProcessEnv }): GroupProcess {
  const proc = spawn('bash', ['-c', command], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdoutLines: string[] = []
  const stderrLines: string[] = []
  createInterface({ input: proc.stdout! }).on('line', (l) => stdoutLines.push(l))
  createInterface({ input: proc.stderr! }).on('line', (l) => stderrLines.push(l))
  let exited = false
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true
      resolve({ code, signal })
    }),
  )
  const waitFor = async (re: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs
    while (!stdoutLines.some((l) => re.test(l))) {
      if (exited) throw new Error(`\`${command}\` exited before printing ${re}; stderr tail:\n${stderrLines.slice(-30).join('\n')}`)
      if (Date.now() > deadline) throw new Error(`\`${command}\` printed no ${re} within ${timeoutMs} ms; stderr tail:\n${stderrLines.slice(-30).join('\n')}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  return { proc, stdoutLines, stderrLines, exit, waitFor, signal: (sig) => killGroup(proc, sig), running: () => !exited }
}
