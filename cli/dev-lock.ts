/**
 * DATA/dev.pid: which `atfed dev` uses DATA, and its service children.
 * `{ "pid": 123, "children": [124, 125, …] }`, rewritten as children start.
 *
 * - A second `atfed dev` on the same DATA is refused (`DevAlreadyRunning`)
 *   while the recorded process lives.
 * - If it is gone (killed with SIGKILL, say, so it could not stop its
 *   children — they run in their own process groups), its children may
 *   still hold DATA's databases and the ports. The next start stops them
 *   first: SIGTERM, then SIGKILL after DEV_CHILD_STOP_GRACE_MS. A pid is
 *   only signalled when /proc says it is still `bin/atfed.js` running on
 *   DATA (a recycled pid is left alone; without /proc nothing is signalled).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError } from '../core/errors.ts'
import { DEV_CHILD_STOP_GRACE_MS } from '../core/limits.ts'
import { ATFED_BIN } from './dev-child.ts'

export type DataDirLock = { recordChildren(pids: readonly number[]): void; release(): void }

type LockFile = { pid: number; children: number[] }

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readLock(path: string): LockFile | null {
  if (!existsSync(path)) return null
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockFile>
    const pids = [raw.pid, ...(Array.isArray(raw.children) ? raw.children : [])]
    if (!pids.every((p) => Number.isSafeInteger(p) && (p as number) > 1)) return null
    return { pid: raw.pid as number, children: raw.children as number[] }
  } catch {
    return null // unreadable: treated as stale
  }
}

/** A process that ended meanwhile (ESRCH) is fine. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

/** True when /proc shows `pid` running bin/atfed.js with `dataDir` in its arguments. */
function isOurService(pid: number, dataDir: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return args.includes(ATFED_BIN) && args.some((a) => a.startsWith(dataDir))
  } catch {
    return false
  }
}

async function stopOrphans(pids: readonly number[], dataDir: string, log: (line: string) => void): Promise<void> {
  const orphans = pids.filter((pid) => isAlive(pid) && isOurService(pid, dataDir))
  if (orphans.length === 0) return
  log(`atfed dev: stopping ${orphans.length} services left running by an earlier atfed dev (pids ${orphans.join(', ')})`)
  for (const pid of orphans) signal(pid, 'SIGTERM')
  const deadline = Date.now() + DEV_CHILD_STOP_GRACE_MS
  while (orphans.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  for (const pid of orphans.filter(isAlive)) signal(pid, 'SIGKILL')
}

/** Takes DATA/dev.pid for this process (stopping an earlier one's orphans); `release` also runs at exit. */
export async function claimDataDir(dataDir: string, log: (line: string) => void = () => {}): Promise<DataDirLock> {
  const path = join(dataDir, 'dev.pid')
  const previous = readLock(path)
  if (previous !== null && previous.pid !== process.pid && isAlive(previous.pid)) {
    throw new AtfedError('DevAlreadyRunning', `atfed dev (pid ${previous.pid}) is already running on ${dataDir}; stop it first`)
  }
  if (previous !== null) await stopOrphans(previous.children, dataDir, log)
  const write = (children: readonly number[]) => writeFileSync(path, `${JSON.stringify({ pid: process.pid, children })}\n`)
  write([])
  const release = () => {
    if (readLock(path)?.pid === process.pid) rmSync(path, { force: true })
    process.off('exit', release)
  }
  process.on('exit', release)
  return { recordChildren: write, release }
}
