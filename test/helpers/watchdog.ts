/**
 * A hard deadline for a test file that runs real processes (nats-server,
 * relays, PDSes). `node --test`'s per-test `timeout` fails a test but the
 * file's process lives on while sockets and children keep its event loop
 * busy, and the runner waits for that process forever: a hung CI run. The
 * watchdog SIGKILLs every registered child process group and exits the
 * file with status 1 once `ms` have passed. It never keeps the process
 * alive itself (unref'd).
 */
const groups = new Set<number>()

/** Track a child: started with `detached: true` its whole group is killed, else the process. */
export function trackProcessGroup(pid: number | undefined): void {
  if (pid !== undefined) groups.add(pid)
}

export function untrackProcessGroup(pid: number | undefined): void {
  if (pid !== undefined) groups.delete(pid)
}

/** SIGKILL each tracked group (or, for a child not started detached, the process itself). */
export function killTrackedGroups(): void {
  for (const pid of groups) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // Not a group leader, or already gone.
      }
    }
  }
  groups.clear()
}

export function startWatchdog(ms: number, what: string): void {
  const timer = setTimeout(() => {
    process.stderr.write(`watchdog: ${what} still running after ${ms} ms; killing its processes and exiting\n`)
    killTrackedGroups()
    process.exit(1)
  }, ms)
  timer.unref()
  process.once('exit', killTrackedGroups)
}
