/**
 * The PDS crash target: `atfed pds` as the child, our PLC directory in this
 * process, ACCOUNTS accounts written by CLIENTS writers (pds-load.ts), and
 * one consumer that stays subscribed from cursor 0 across every kill,
 * reconnecting from its last seq as any consumer would.
 *
 * After each restart (no writes run meanwhile):
 * 1. firehose (firehose-ledger.ts): a replay from cursor 0 up to every
 *    repo's head (getLatestCommit) has seqs 1..n with no gap, frames
 *    unchanged across restarts, every #commit verifying and chaining; the
 *    resumed consumer holds exactly the same seqs and bytes (it lost
 *    nothing, was sent nothing twice);
 * 2. exactly the acknowledged commits: each acknowledged createRecord's
 *    commit is on the stream once (else lost); every other commit with ops
 *    is a create that was in flight at a kill — its record's text names a
 *    request that never got an answer — and it verified in 1 (complete). So
 *    the rule for an unacknowledged commit: allowed only when its request
 *    was sent and unanswered at a kill, and it is whole (signed, inverts,
 *    chains, its record in the repo). Anything else is a problem;
 * 3. repos: getRepo verifies with our core (signature, canonical MST, every
 *    record block) and, for one repo per iteration in turn, with
 *    @atproto/repo `verifyRepoCar`; its head is the last #commit; its
 *    records are exactly those the stream created; every acknowledged
 *    record is there with its CID (else lost);
 * 4. getRecord answers every write acknowledged in the life just killed, and
 *    a seeded sample of older ones, with the acknowledged CID (else lost).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifyRepoCar } from '@atproto/repo'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import { verifyRepoCarBytes } from '../../core/repo/verify-repo.ts'
import type { Did } from '../../core/syntax/did.ts'
import { freePort } from '../helpers/atfed-child.ts'
import { streamUrl } from '../helpers/e2e-network.ts'
import { startPlcForPds } from '../helpers/pds.ts'
import { createWriterAccount } from '../helpers/pds-writers.ts'
import type { TestPlc } from '../helpers/plc.ts'
import type { Rng } from '../helpers/prng.ts'
import { signingKeys } from '../helpers/stream-checks.ts'
import type { CheckResult, CrashTarget, Load } from './harness.ts'
import { createdText, FirehoseLedger, replayFromZero } from './firehose-ledger.ts'
import { pdsLoad, POST_COLLECTION } from './pds-load.ts'
import { ResumingConsumer } from './resuming-consumer.ts'
import type { PdsAccount, PdsLog } from './pds-load.ts'

const ACCOUNTS = 3
const CLIENTS = 4
const GET_RECORD_SAMPLE = 10
const REPLAY_TIMEOUT_MS = 20_000

type Context = { plc: TestPlc; root: string; port: number }

export async function pdsCrashTarget(): Promise<CrashTarget> {
  const ctx: Context = { plc: await startPlcForPds(), root: mkdtempSync(join(tmpdir(), 'atfed-crash-pds-')), port: await freePort() }
  const log: PdsLog = { acked: [], uncertain: new Map(), failures: [] }
  const accounts: PdsAccount[] = []
  let keys = new Map<string, string>()
  const live = new ResumingConsumer()
  let rng: Rng | null = null
  const ledger = new FirehoseLedger(async (did) => keys.get(did) ?? '')
  /** Repo records as the stream created them: `did path` → record CID. */
  const created = new Map<string, string>()
  return {
    component: 'pds',
    command: () => ({
      args: ['pds', '--port', String(ctx.port), '--data', join(ctx.root, 'pds'), '--plc', ctx.plc.url, '--dev'],
      ready: / listening on (http:\/\/\S+)/,
      env: { ATFED_PDS_RATE_LIMITS: 'false' },
    }),
    recovery: { line: /^pds: dropped \d+ firehose events written ahead/, what: 'dropped events written ahead of a repo batch that never landed' },
    setup: async (url, seeded) => {
      rng = seeded
      for (let i = 0; i < ACCOUNTS; i++) accounts.push(await createWriterAccount(url, `crash${i}.test`))
      keys = await signingKeys(ctx.plc.url, accounts.map((a) => a.did))
      live.resume(streamUrl(url))
    },
    load: (life, url): Load => pdsLoad({ url, accounts, clients: CLIENTS, life, log }),
    check: async (life, url) => {
      const result: CheckResult = { acked: log.acked.length, uncertainDurable: 0, lost: 0, problems: log.failures.splice(0) }
      const lost = new Set<string>()
      live.resume(streamUrl(url))
      const heads = await latestCommits(url, accounts)
      const atHeads = (events: readonly { event: { t: string } }[]): boolean => {
        const seen = new Set(events.flatMap((e) => ('commit' in e.event ? [String(e.event.commit)] : [])))
        return heads.every((h) => seen.has(h))
      }
      const replay = await replayFromZero(streamUrl(url), atHeads, { timeoutMs: REPLAY_TIMEOUT_MS, quietMs: 100 })
      const before = ledger.lastSeq
      result.problems.push(...(await ledger.absorb(replay)))
      result.problems.push(...(await live.differences(replay, REPLAY_TIMEOUT_MS)))
      checkCommits(ledger, before, { log, created, lost, result })
      for (const [i, account] of accounts.entries()) {
        await checkRepo(url, account, { key: keys.get(account.did)!, head: heads[i]!, log, created, lost, reference: i === life % ACCOUNTS, result })
      }
      await checkGetRecord(url, log, { life, rng: rng!, lost })
      result.lost = lost.size
      return result
    },
    close: async () => {
      live.close()
      await ctx.plc.stop()
      rmSync(ctx.root, { recursive: true, force: true })
    },
  }
}

async function latestCommits(url: string, accounts: readonly PdsAccount[]): Promise<string[]> {
  return Promise.all(accounts.map(async (a) => {
    const res = await fetch(`${url}/xrpc/com.atproto.sync.getLatestCommit?did=${a.did}`)
    if (res.status !== 200) throw new Error(`getLatestCommit ${a.did}: HTTP ${res.status}`)
    return ((await res.json()) as { cid: string }).cid
  }))
}

/** Commits new since `before`: acknowledged, or in flight at a kill; acknowledged ones all on the stream. */
type Tally = { log: PdsLog; created: Map<string, string>; lost: Set<string>; result: CheckResult }

function checkCommits(ledger: FirehoseLedger, before: number, tally: Tally): void {
  const { log, created, result } = tally
  const ackedCommits = new Set(log.acked.map((a) => a.commit))
  for (const [cid, event] of ledger.commits) {
    if (event.seq <= before) continue
    for (const op of event.ops) {
      if (op.action === 'create' && op.cid !== null) created.set(`${event.repo} ${op.path}`, op.cid.toString())
      else result.problems.push(`seq ${event.seq}: a ${op.action} nobody asked for`)
    }
    if (event.ops.length === 0 || ackedCommits.has(cid)) continue
    const text = createdText(event)
    if (text !== null && log.uncertain.has(text)) result.uncertainDurable++
    else result.problems.push(`seq ${event.seq}: commit ${cid} was neither acknowledged nor in flight at a kill (text ${JSON.stringify(text)})`)
  }
  for (const a of log.acked) if (!ledger.commits.has(a.commit)) tally.lost.add(a.text)
}

type RepoCheck = Tally & { key: string; head: string; reference: boolean }

async function checkRepo(url: string, account: PdsAccount, check: RepoCheck): Promise<void> {
  const { result } = check
  const res = await fetch(`${url}/xrpc/com.atproto.sync.getRepo?did=${account.did}`)
  if (res.status !== 200) return void result.problems.push(`getRepo ${account.did}: HTTP ${res.status}`)
  const car = new Uint8Array(await res.arrayBuffer())
  let leaves: Map<string, string>
  try {
    const verified = verifyRepoCarBytes(car, { did: account.did as Did, key: check.key })
    if (verified.commitCid.toString() !== check.head) result.problems.push(`${account.did}: getRepo's commit is not getLatestCommit's`)
    leaves = new Map([...walkRepoLeaves(verified.blockMap, verified.root)].map((l) => [l.key, l.cid.toString()]))
    if (check.reference) await verifyRepoCar(car, account.did, check.key)
  } catch (err) {
    return void result.problems.push(`${account.did}: the repo does not verify: ${err instanceof Error ? err.message : String(err)}`)
  }
  const fromStream = [...check.created].filter(([k]) => k.startsWith(`${account.did} `))
  if (fromStream.length !== leaves.size || fromStream.some(([k, cid]) => leaves.get(k.slice(account.did.length + 1)) !== cid)) {
    result.problems.push(`${account.did}: the repo's ${leaves.size} records are not the ${fromStream.length} the stream created`)
  }
  for (const a of check.log.acked) if (a.did === account.did && leaves.get(a.path) !== a.cid) check.lost.add(a.text)
}

async function checkGetRecord(url: string, log: PdsLog, options: { life: number; rng: Rng; lost: Set<string> }): Promise<void> {
  const recent = log.acked.filter((a) => a.life === options.life)
  const older = log.acked.filter((a) => a.life !== options.life)
  const sample = older.length === 0 ? [] : Array.from({ length: Math.min(GET_RECORD_SAMPLE, older.length) }, () => options.rng.pick(older))
  await Promise.all([...recent, ...sample].map(async (a) => {
    const rkey = a.path.slice(POST_COLLECTION.length + 1)
    const res = await fetch(`${url}/xrpc/com.atproto.repo.getRecord?repo=${a.did}&collection=${POST_COLLECTION}&rkey=${rkey}`)
    const body = (await res.json()) as { cid?: string }
    if (res.status !== 200 || body.cid !== a.cid) options.lost.add(a.text)
  }))
}
