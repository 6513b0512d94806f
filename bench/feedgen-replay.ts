/**
 * Our side of the feedgen bench, in pieces the section composes:
 * - `replayIndex`: a fresh FeedStore in `dataDir` follows the scripted host
 *   at `origin` (frames served by a child process, relay-ingest-host.ts) from
 *   cursor 0 through FirehoseConsumer + FeedIndexer, with or without commit
 *   verification; the DID cache is warmed first (every DID resolved once),
 *   as the reference's Map of keys is. The clock runs from `start` until the
 *   last seq is handled (its effects written), after an untimed warm-up
 *   replay of the first events into a throwaway store (both sides warm up
 *   the same way). Fails if anything was skipped.
 * - `runLoad`: the load child (feedgen-load.ts) against one URL.
 */
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Did } from '../core/syntax/did.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { FirehoseConsumer } from '../feedgen/consumer/consumer.ts'
import { FeedIndexer, INDEXED_COLLECTIONS } from '../feedgen/indexer/indexer.ts'
import { FeedStore } from '../feedgen/indexer/store.ts'

export type ReplayRun = { origin: string; plcUrl: string; dids: readonly string[]; lastSeq: number; dataDir: string; verify: boolean }

/** Events handled per second; first, untimed, the first `warmUp` events into a throwaway store (JIT). */
export async function replayIndex(run: ReplayRun & { warmUp: number }): Promise<number> {
  if (run.warmUp > 0) {
    await replayOnce({ ...run, lastSeq: run.warmUp, dataDir: `${run.dataDir}-warm-up` })
    rmSync(`${run.dataDir}-warm-up`, { recursive: true, force: true })
  }
  return await replayOnce(run)
}

async function replayOnce(run: ReplayRun): Promise<number> {
  const store = await FeedStore.open(run.dataDir)
  const resolver = new IdentityResolver({ plcUrl: run.plcUrl, allowPrivateAddresses: true })
  try {
    for (const did of run.dids) await resolver.resolveDid(did as Did)
    await store.cursor.set(0)
    const indexer = new FeedIndexer(store)
    const consumer = new FirehoseConsumer({
      url: run.origin,
      cursorStore: store.cursor,
      handler: indexer.handle,
      verify: run.verify,
      resolver,
      collections: INDEXED_COLLECTIONS,
    })
    const start = performance.now()
    await consumer.start()
    await consumer.whenHandled(run.lastSeq)
    const seconds = (performance.now() - start) / 1000
    await consumer.stop()
    const stats = consumer.stats()
    if (stats.skipped > 0 || stats.malformedOps > 0) throw new Error(`replay skipped events: ${JSON.stringify(stats.skippedBy)}, ${stats.malformedOps} ops`)
    return run.lastSeq / seconds
  } finally {
    await store.close()
    resolver.close()
  }
}

export type LoadResult = { perSecond: number; p50: number; p99: number; max: number; failed: number }

/** `requests` GETs of `url`, `concurrency` in flight, from a child process. */
export async function runLoad(url: string, options: { requests: number; concurrency: number; token?: string }): Promise<LoadResult> {
  const args = ['--import', 'tsx', join(import.meta.dirname, 'feedgen-load.ts'), url, String(options.requests), String(options.concurrency), options.token ?? '']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let result: LoadResult | null = null
  for await (const line of createInterface({ input: child.stdout })) result = JSON.parse(line) as LoadResult
  if (result === null) throw new Error(`load child printed nothing for ${url}`)
  if (result.failed > 0) throw new Error(`${result.failed} requests to ${url} were not 200`)
  return result
}
