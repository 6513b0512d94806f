/**
 * Shared pieces of the relay cluster end-to-end tests: bounded waits, the
 * canary that proves a host is followed, and the firehose checks (seqs
 * contiguous with no repeat, a replay identical, per repo exactly the PDS's
 * own #commit/#sync timeline, every acknowledged write present with its
 * commit CID).
 */
import assert from 'node:assert/strict'
import { createWriterAccount } from '../helpers/pds-writers.ts'
import type { AckedWrite, WriterAccount } from '../helpers/pds-writers.ts'
import { assertContiguous, assertNoDroppedRepeats, assertSameEvents, repoTimeline } from '../helpers/stream-checks.ts'
import { collectStream, eventDid } from '../helpers/stream-collector.ts'
import type { CollectedEvent, StreamCollector } from '../helpers/stream-collector.ts'

export const wsOf = (httpUrl: string): string => httpUrl.replace(/^http/, 'ws') + '/xrpc/com.atproto.sync.subscribeRepos'

export const commitKeys = (c: StreamCollector): Set<string> =>
  new Set(c.events.flatMap((e) => (e.event.t === '#commit' ? [`${e.event.repo} ${e.event.rev}`] : [])))

/** One probe may take this long; past it, it counts as "not yet" (a KV listing can hang on a loaded machine). */
const PROBE_MS_MAX = 10_000

/** Poll `probe` until it returns non-null; throws after `ms` (each probe bounded by PROBE_MS_MAX). */
export async function waitFor<T>(what: string, probe: () => Promise<T | null>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.min(PROBE_MS_MAX, Math.max(100, deadline - Date.now())))))
    const value = await Promise.race([probe(), bound]).finally(() => clearTimeout(timer))
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Canary accounts on `pds` until one of them reaches the firehose (hosts are
 * read live from when they are first followed). Any canary counts, not only
 * the newest: on a loaded machine the firehose may lag the wait per canary.
 */
export async function untilFollowed(pds: string, p: number, live: StreamCollector): Promise<void> {
  const canaries = new Set<string>()
  for (let i = 0; i < 30; i++) {
    canaries.add((await createWriterAccount(pds, `canary${p}x${i}.test`)).did)
    try {
      return await live.until(() => live.events.some((e) => canaries.has(eventDid(e.event))), `a canary of ${pds}`, 1_500)
    } catch {
      // not followed yet
    }
  }
  throw new Error(`the cluster never followed ${pds}`)
}

export async function writerAccounts(pdsUrls: readonly string[], perPds: number): Promise<WriterAccount[]> {
  const accounts: WriterAccount[] = []
  for (const [p, url] of pdsUrls.entries()) {
    accounts.push(...(await Promise.all(Array.from({ length: perPds }, (_, i) => createWriterAccount(url, `user${p}x${i}.test`)))))
  }
  return accounts
}

export type Collected = { live: StreamCollector; replay: StreamCollector; own: StreamCollector[] }

/** Once every acknowledged write is on `live`: a replay from 0 on `frontend` and each PDS's own firehose, complete. */
export async function collectAfter(options: { frontend: string; live: StreamCollector; pdsUrls: readonly string[]; accounts: readonly WriterAccount[]; acked: readonly AckedWrite[]; open: (c: StreamCollector) => StreamCollector }): Promise<Collected> {
  const { live, acked, open } = options
  await live.until(() => acked.every((w) => commitKeys(live).has(`${w.did} ${w.rev}`)), 'every acknowledged write on the firehose', 40_000)
  const head = live.events.at(-1)!.seq
  const replay = open(collectStream(wsOf(options.frontend), { cursor: 0 }))
  await replay.until(() => replay.events.at(-1)?.seq === head, 'a replay from 0')
  const own = options.pdsUrls.map((url) => open(collectStream(wsOf(url), { cursor: 0 })))
  for (const [p, stream] of own.entries()) {
    const mine = acked.filter((w) => options.accounts.find((a) => a.did === w.did)?.pds === options.pdsUrls[p])
    await stream.until(() => mine.every((w) => commitKeys(stream).has(`${w.did} ${w.rev}`)), `PDS ${p}'s own firehose`)
  }
  return { live, replay, own }
}

/** Exactly once, in order: see the module header. */
export function checkFirehose(c: Collected, options: { pdsUrls: readonly string[]; accounts: readonly WriterAccount[]; acked: readonly AckedWrite[] }): void {
  assertNoDroppedRepeats(c.live, 'live')
  assertNoDroppedRepeats(c.replay, 'replay')
  assertContiguous(c.live.events, 'live consumer')
  assertContiguous(c.replay.events, 'replay')
  assertSameEvents(c.live.events, c.replay.events, 'live vs replay')
  for (const account of options.accounts) {
    const pdsEvents: CollectedEvent[] = c.own[options.pdsUrls.indexOf(account.pds)]!.events
    assert.deepEqual(repoTimeline(c.live.events, account.did), repoTimeline(pdsEvents, account.did), `${account.handle}: firehose vs its PDS`)
  }
  const commitCid = new Map(c.live.events.flatMap((e) => (e.event.t === '#commit' ? [[`${e.event.repo} ${e.event.rev}`, e.event.commit.toString()]] : [])))
  for (const w of options.acked) assert.equal(commitCid.get(`${w.did} ${w.rev}`), w.commit, `${w.did} ${w.rev}`)
}
