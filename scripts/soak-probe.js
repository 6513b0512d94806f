/**
 * Preloaded into each soak child (`node --import <this file>`, through
 * NODE_OPTIONS) when ATFED_SOAK_PROBE_DIR is set: every second it writes
 * the process's `process.memoryUsage()` (bytes: rss, heapTotal, heapUsed,
 * external, arrayBuffers) as JSON to `<dir>/<pid>.json`, so the soak can
 * tell which kind of memory moves — the JS heap, buffers outside it, or
 * native memory (RSS minus both). The write replaces the file through a
 * rename, so a reader never sees half a file. On SIGUSR2 it writes a V8 heap
 * snapshot `<dir>/<pid>-<n>.heapsnapshot` (for diffing retained sizes by
 * constructor between two moments of a run).
 *
 * Plain JavaScript: it runs before bin/atfed.js registers the TypeScript
 * loader. The timer is unref'd and the signal handler only exists when the
 * probe does, so a child without the variable runs unchanged. Worker
 * threads (the relay's verify pool) preload it too and write
 * `<dir>/<pid>-t<threadId>.json`: their heaps are in RSS but not in the
 * main isolate's figures.
 */
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
import { isMainThread, threadId } from 'node:worker_threads'

const dir = process.env.ATFED_SOAK_PROBE_DIR
const PERIOD_MS = 1000

if (dir) {
  // Worker threads (the relay's verify pool) have their own V8 heaps, which
  // RSS holds but the main isolate's figures do not: each writes its own file.
  const path = join(dir, isMainThread ? `${process.pid}.json` : `${process.pid}-t${threadId}.json`)
  const write = () => {
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify(process.memoryUsage()))
      renameSync(`${path}.tmp`, path)
    } catch {
      // the soak's root is gone: it is shutting down
    }
  }
  write()
  setInterval(write, PERIOD_MS).unref()
  if (isMainThread) {
    let snapshots = 0
    process.on('SIGUSR2', () => {
      writeHeapSnapshot(join(dir, `${process.pid}-${++snapshots}.heapsnapshot`))
    })
  }
}
