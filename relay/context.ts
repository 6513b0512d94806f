/**
 * Everything a running relay holds, built in dependency order by
 * `createRelayContext` and torn down in reverse by `closeRelayContext`:
 *
 *   db ─ log (events) ─ hosts ─ accounts        (relay-db.ts: one level db)
 *   resolver (did-resolver, cached) ─ verifier (inline or worker threads)
 *   sequencer (batches: events + host cursors + account states)
 *   resync (getRepo recovery) ─ ingest deps ─ slurper (one stream per host)
 *   crawler (requestCrawl, configured hosts)
 *
 * The routes and the server read from it; nothing in it knows about HTTP.
 * A timer trims events older than the retention window.
 */
import { RELAY_TRIM_INTERVAL_MS } from '../core/limits.ts'
import type { EventLog } from '../core/stream/event-log.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { acceptChecked } from './accept.ts'
import { AccountStore } from './accounts.ts'
import type { RelayConfig, RelayTuning } from './config.ts'
import { ForcedResolveGate } from './forced-resolve.ts'
import { RelayCluster } from './cluster/relay-cluster.ts'
import { HostCrawler } from './hosts/crawl.ts'
import { HostRegistry } from './hosts/host-registry.ts'
import { describeServerProbe } from './hosts/probe.ts'
import type { HostProbe } from './hosts/probe.ts'
import { recordOutcome } from './ingest.ts'
import type { IngestDeps } from './ingest.ts'
import { checkRelayRole, openRelayLog } from './log/open-relay-log.ts'
import type { RelayLog } from './log/open-relay-log.ts'
import { openRelayDb } from './relay-db.ts'
import type { RelayBatchOp, RelayDb } from './relay-db.ts'
import { Resyncer } from './resync.ts'
import { Sequencer } from './sequencer.ts'
import { Slurper } from './slurper.ts'
import { inlineVerifier } from './verifier.ts'
import type { EventVerifier } from './verifier.ts'
import { startVerifyPool } from './verify-pool.ts'

export type RelayContext = {
  readonly config: RelayConfig
  readonly tuning: Partial<RelayTuning>
  readonly db: RelayDb
  /** The firehose log: level in the relay db, or a JetStream stream (`--nats`, log/open-relay-log.ts). */
  readonly log: EventLog
  readonly relayLog: RelayLog
  readonly hosts: HostRegistry
  readonly accounts: AccountStore
  readonly resolver: IdentityResolver
  readonly verifier: EventVerifier
  readonly sequencer: Sequencer
  readonly resync: Resyncer
  readonly ingest: IngestDeps
  readonly slurper: Slurper
  readonly crawler: HostCrawler
  readonly probe: HostProbe
  /** With `--nats`: shared state and host leases (relay/cluster/relay-cluster.ts); null on one machine. */
  cluster: RelayCluster | null
  readonly logLine: (message: string) => void
  /** Set when the event log failed; the relay stops taking events. */
  fatal: unknown
  trimTimer: NodeJS.Timeout | null
}

export type RelayContextOptions = { logLine?: (message: string) => void; probe?: HostProbe }

type Stores = { db: RelayDb; log: EventLog; relayLog: RelayLog; hosts: HostRegistry; accounts: AccountStore }
type Core = Stores & { config: RelayConfig; tuning: Partial<RelayTuning>; resolver: IdentityResolver; verifier: EventVerifier; logLine: (message: string) => void; clusterRef: { cluster: RelayCluster | null } }

async function openStores(config: RelayConfig, tuning: Partial<RelayTuning>): Promise<Stores> {
  checkRelayRole(config)
  const db = await openRelayDb(config.dataDir)
  let relayLog: RelayLog
  try {
    relayLog = await openRelayLog(config, db, tuning)
  } catch (err) {
    await db.close()
    throw err
  }
  return { db, log: relayLog.log, relayLog, hosts: await HostRegistry.open(db), accounts: await AccountStore.open(db) }
}

function newResolver(config: RelayConfig, tuning: Partial<RelayTuning>): IdentityResolver {
  return new IdentityResolver({
    plcUrl: config.plcUrl,
    allowPrivateAddresses: config.dev,
    ...(config.dnsServers.length > 0 ? { dnsServers: config.dnsServers } : {}),
    ...(tuning.forcedResolveMinMs === undefined ? {} : { cache: { forcedRefreshMinMs: tuning.forcedResolveMinMs } }),
  })
}

/** The sequencer, the resync machinery and the ingest deps, wired to each other. */
function buildIngest(core: Core, onFatal: (err: unknown) => void): { sequencer: Sequencer; resync: Resyncer; ingest: IngestDeps } {
  const { config, tuning, db, log, hosts, accounts, resolver, verifier, logLine } = core
  const afterWrite = async (ops: readonly RelayBatchOp[]): Promise<void> => core.clusterRef.cluster?.shared.mirror(ops) ?? undefined
  const sequencer = new Sequencer({ db, log, logJoinsBatch: core.relayLog.joinsBatch, stores: [hosts, accounts], sync: tuning.fsync ?? true, onFatal, afterWrite, ...pick(tuning, ['flushMs']) })
  const emit = (events: UnsequencedEvent[]): void => void sequencer.submit(events)
  const lazy: { ingest: IngestDeps | null } = { ingest: null }
  const resync = new Resyncer({
    accounts,
    hosts,
    resolver,
    emit,
    replay: (host, checked) => acceptChecked(host, checked, lazy.ingest as IngestDeps),
    record: (host, outcome) => recordOutcome(host, outcome, lazy.ingest as IngestDeps),
    dev: config.dev,
    ...(tuning.resyncRetryMs === undefined ? {} : { retryMs: tuning.resyncRetryMs }),
    onError: (did, err) => logLine(`relay: resync of ${did} failed: ${String(err)}`),
  })
  const ingest: IngestDeps = {
    resolver,
    verifier,
    accounts,
    hosts,
    resync,
    sequencer,
    forced: new ForcedResolveGate(tuning.forcedResolveMinMs === undefined ? {} : { minMs: tuning.forcedResolveMinMs }),
    dev: config.dev,
    ...pick(tuning, ['pipelineMax']),
    onBug: (err) => logLine(`relay: internal error in ingest: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  }
  lazy.ingest = ingest
  return { sequencer, resync, ingest }
}

/** The slurper (one stream per host) and the crawler (adding hosts). */
function buildHostSide(core: Core, ingest: IngestDeps, probe: HostProbe): { slurper: Slurper; crawler: HostCrawler } {
  const { config, tuning, hosts } = core
  const slurper = new Slurper({ ingest, hosts, probe, log: core.logLine, ...pick(tuning, ['backoffMsMin', 'backoffMsMax', 'failuresMax', 'offlineRetryMs']) })
  const crawler = new HostCrawler({
    hosts,
    probe,
    dev: config.dev,
    subscribe: (record) => (core.clusterRef.cluster === null ? slurper.subscribe(record) : core.clusterRef.cluster.offer(record)),
    restart: async (record) => {
      if (core.clusterRef.cluster !== null && !core.clusterRef.cluster.owns(record.hostname)) return core.clusterRef.cluster.offer(record)
      await slurper.unsubscribe(record.hostname)
      slurper.subscribe(record)
    },
    persist: () => ingest.sequencer.poke(),
    ...pick(tuning, ['hostsMax', 'newHostsPerDayMax']),
  })
  return { slurper, crawler }
}

export async function createRelayContext(config: RelayConfig, options: RelayContextOptions = {}): Promise<RelayContext> {
  const tuning = config.tuning ?? {}
  const logLine = options.logLine ?? ((message: string) => process.stderr.write(`${message}\n`))
  const stores = await openStores(config, tuning)
  const resolver = newResolver(config, tuning)
  const verifier = (tuning.verifyWorkers ?? 0) > 0 ? await startVerifyPool({ workers: tuning.verifyWorkers ?? 1 }) : inlineVerifier()
  const core: Core = { ...stores, config, tuning, resolver, verifier, logLine, clusterRef: { cluster: null } }
  const ctxRef: { ctx: RelayContext | null } = { ctx: null }
  const { sequencer, resync, ingest } = buildIngest(core, (err) => {
    logLine(`relay: event log write failed, ingest stopped: ${String(err)}`)
    if (ctxRef.ctx !== null) ctxRef.ctx.fatal = err
    void ctxRef.ctx?.cluster?.leases?.close() // a cluster worker hands its hosts over instead of holding them idle
  })
  const probe = options.probe ?? describeServerProbe({ dev: config.dev })
  const { slurper, crawler } = buildHostSide(core, ingest, probe)
  const ctx: RelayContext = { ...core, sequencer, resync, ingest, slurper, crawler, probe, cluster: null, fatal: null, trimTimer: null }
  ctxRef.ctx = ctx
  if (stores.relayLog.nats !== null) {
    const { nc, stream, replicas, log } = stores.relayLog.nats
    try {
      ctx.cluster = await RelayCluster.open({ nc, stream, replicas, log, role: config.role ?? 'all', hosts: stores.hosts, accounts: stores.accounts, sequencer, slurper, logLine, ...pick(tuning, ['leaseTtlMs']) })
    } catch (err) {
      await closeRelayContext(ctx)
      throw err
    }
    core.clusterRef.cluster = ctx.cluster
  }
  ctx.trimTimer = setInterval(() => void trimExpired(ctx), tuning.trimIntervalMs ?? RELAY_TRIM_INTERVAL_MS)
  ctx.trimTimer.unref()
  return ctx
}

/** Start following the configured hosts and every stored host that is neither banned nor idle. */
export function startIngest(ctx: RelayContext): void {
  for (const host of ctx.config.hosts) ctx.crawler.addConfigured(host)
  if (ctx.cluster !== null) return ctx.cluster.startLeases() // stored hosts: whichever worker leases them
  for (const record of ctx.hosts.page(null, Number.MAX_SAFE_INTEGER)) {
    if (record.status === 'active' || record.status === 'offline') ctx.slurper.subscribe(record)
  }
}

export async function trimExpired(ctx: RelayContext): Promise<number> {
  try {
    return await ctx.log.trim(ctx.config.retentionMs)
  } catch (err) {
    ctx.logLine(`relay: trimming the event log failed: ${String(err)}`)
    return 0
  }
}

export async function closeRelayContext(ctx: RelayContext): Promise<void> {
  if (ctx.trimTimer !== null) clearInterval(ctx.trimTimer)
  ctx.resync.close()
  await ctx.cluster?.close()
  await ctx.slurper.close()
  await ctx.sequencer.close()
  await ctx.verifier.close()
  await ctx.relayLog.close()
  ctx.resolver.close()
  await ctx.db.close()
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key]
  return out
}
