/**
 * The relay crash target: `atfed relay` as the child, following one
 * `atfed pds` child (`--host`) that is never killed and keeps writing
 * (WRITERS writers, `writePauseMs` apart, pds-load.ts) through every kill, restart and
 * check; our PLC directory in this process.
 *
 * Setup: canary accounts are created on the PDS until one reaches the
 * relay's firehose (a new host is followed live, so only from then on must
 * the relay see everything; its first frame gives the host a durable
 * cursor), then the writers' accounts.
 *
 * A life is "write in progress" once the relay has sequenced a new event;
 * the kill lands a seeded 0..killDelayMsMax ms later and the relay stays
 * down a seeded 0..downMsMax ms while the PDS writes on. After each
 * restart:
 * - the relay's replay from cursor 0 eventually holds every commit the PDS
 *   acknowledged before the restart (else lost);
 * - firehose-ledger.ts: seqs 1..n with no gap, frames unchanged across
 *   restarts, each #commit verifying and chaining on its repo's previous
 *   one, no commit twice: exactly once, complete;
 * - per writer repo, the relay's commits are the PDS's own firehose's, in
 *   the same order, `#sync` included (a prefix of it: the PDS is ahead
 *   while it writes; a relay resync after losing the chain would add one);
 * - the consumer resumed from its cursor holds exactly the replay's seqs
 *   and frames.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, spawnAtfed } from '../helpers/atfed-child.ts'
import type { AtfedChild } from '../helpers/atfed-child.ts'
import { streamUrl } from '../helpers/e2e-network.ts'
import { startPlcForPds } from '../helpers/pds.ts'
import { createWriterAccount } from '../helpers/pds-writers.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { repoTimeline, signingKeys } from '../helpers/stream-checks.ts'
import { collectStream, eventDid } from '../helpers/stream-collector.ts'
import type { CollectedEvent, StreamCollector } from '../helpers/stream-collector.ts'
import { trackProcessGroup } from '../helpers/watchdog.ts'
import type { CheckResult, CrashTarget, Load } from './harness.ts'
import { FirehoseLedger, replayFromZero } from './firehose-ledger.ts'
import { pdsLoad } from './pds-load.ts'
import type { PdsAccount, PdsLog } from './pds-load.ts'
import { ResumingConsumer } from './resuming-consumer.ts'

const WRITERS = 3
const CANARIES_MAX = 20
const CANARY_WAIT_MS = 1_500
const CATCH_UP_TIMEOUT_MS = 30_000

type World = { plc: TestPlc; root: string; relayPort: number; pds: AtfedChild }

async function startWorld(): Promise<World> {
  const plc = await startPlcForPds()
  const root = mkdtempSync(join(tmpdir(), 'atfed-crash-relay-'))
  const [relayPort, pdsPort] = [await freePort(), await freePort()]
  const pds = await spawnAtfed(['pds', '--port', String(pdsPort), '--data', join(root, 'pds'), '--plc', plc.url, '--dev'], {
    ready: / listening on (http:\/\/\S+)/,
    env: { ATFED_PDS_RATE_LIMITS: 'false' },
  })
  trackProcessGroup(pds.child.pid)
  return { plc, root, relayPort, pds }
}

/** Canary accounts until one shows on the relay: from then on the relay follows the PDS. */
async function untilFollowed(pdsUrl: string, live: ResumingConsumer): Promise<void> {
  for (let i = 0; i < CANARIES_MAX; i++) {
    const canary = await createWriterAccount(pdsUrl, `canary${i}.test`)
    try {
      await live.until((e) => eventDid(e.event) === canary.did, CANARY_WAIT_MS)
      return
    } catch {
      // the relay was not reading the PDS yet when this canary was made
    }
  }
  throw new Error('the relay never followed the PDS')
}

/** `writePauseMs`: each PDS writer's pause between writes (the load's pace; CI uses a lighter one). */
export async function relayCrashTarget(options: { writePauseMs: number }): Promise<CrashTarget> {
  const world = await startWorld()
  const log: PdsLog = { acked: [], uncertain: new Map(), failures: [] }
  const accounts: PdsAccount[] = []
  const keys = new Map<string, string>()
  const keyOf = async (did: string): Promise<string> => {
    if (!keys.has(did)) for (const [d, k] of await signingKeys(world.plc.url, [did])) keys.set(d, k)
    return keys.get(did)!
  }
  const ledger = new FirehoseLedger(keyOf)
  const live = new ResumingConsumer()
  let pdsStream: StreamCollector | null = null
  let writers: Load | null = null
  const relayStream = streamUrl(`http://127.0.0.1:${world.relayPort}`)
  return {
    component: 'relay',
    command: () => ({
      args: ['relay', '--port', String(world.relayPort), '--data', join(world.root, 'relay'), '--plc', world.plc.url, '--dev', '--host', world.pds.url],
      ready: /^relay listening on (http:\/\/\S+)/,
    }),
    setup: async () => {
      pdsStream = collectStream(streamUrl(world.pds.url), { cursor: 0 })
      live.resume(relayStream)
      await untilFollowed(world.pds.url, live)
      for (let i = 0; i < WRITERS; i++) accounts.push(await createWriterAccount(world.pds.url, `writer${i}.test`))
      writers = pdsLoad({ url: world.pds.url, accounts, clients: WRITERS, life: 0, log, pauseMs: options.writePauseMs })
    },
    load: (): Load => ({ acknowledged: live.reach(live.lastSeq + 1, CATCH_UP_TIMEOUT_MS), stop: async () => {} }),
    check: async () => {
      live.resume(relayStream)
      const snapshot = log.acked.slice()
      const result: CheckResult = { acked: snapshot.length, uncertainDurable: 0, lost: 0, problems: log.failures.splice(0) }
      const holdsAll = (events: readonly CollectedEvent[]): boolean => {
        const seen = new Set(events.flatMap((e) => (e.event.t === '#commit' ? [e.event.commit.toString()] : [])))
        return snapshot.every((a) => seen.has(a.commit))
      }
      const replay = await replayFromZero(relayStream, holdsAll, { timeoutMs: CATCH_UP_TIMEOUT_MS, quietMs: 50 })
      result.problems.push(...(await ledger.absorb(replay)))
      result.lost = snapshot.filter((a) => !ledger.commits.has(a.commit)).length
      result.problems.push(...(await live.differences(replay, CATCH_UP_TIMEOUT_MS)))
      result.problems.push(...(await samePerRepoOrder(pdsStream!, ledger, replay, accounts)))
      return result
    },
    close: async () => {
      await writers?.stop()
      live.close()
      pdsStream?.close()
      await world.pds.kill()
      await world.plc.stop()
      rmSync(world.root, { recursive: true, force: true })
    },
  }
}

/** Each writer repo's #commit and #sync events on the relay are the PDS's, in its order (a relay resync would add a #sync). */
async function samePerRepoOrder(pds: StreamCollector, ledger: FirehoseLedger, replay: readonly CollectedEvent[], accounts: readonly PdsAccount[]): Promise<string[]> {
  const onRelay = [...ledger.commits.keys()]
  const onPds = (): Set<string> => new Set(pds.events.flatMap((e) => (e.event.t === '#commit' ? [e.event.commit.toString()] : [])))
  await pds.until(() => {
    const seen = onPds()
    return onRelay.every((c) => seen.has(c))
  }, "the PDS's own firehose to hold what the relay has", CATCH_UP_TIMEOUT_MS)
  const problems: string[] = []
  for (const { did } of accounts) {
    const pdsTimeline = repoTimeline(pds.events, did)
    const relayTimeline = repoTimeline(replay, did)
    if (relayTimeline.length === 0 || relayTimeline.some((x, i) => pdsTimeline[i] !== x)) {
      problems.push(`${did}: the relay's ${relayTimeline.length} #commit/#sync events are not the first of the PDS's ${pdsTimeline.length}, in order`)
    }
  }
  return problems
}
