/**
 * A relay process as a member of a relay cluster (`--nats`): the shared
 * state (shared-state.ts) in every role, host leases (host-leases.ts) in
 * `ingest` and `all`.
 *
 * Roles:
 * - `ingest`: follows the hosts it leases, verifies exactly as one machine
 *   does, publishes to the stream (de-duplicated by `<did>/<rev>`, on the
 *   host's subject, with the account state: stream-states.ts), then writes
 *   its hosts' records and accounts to the buckets.
 *   It holds the account states of the hosts it took over only (loaded
 *   from the accounts bucket by the host's key prefix), not a mirror.
 * - `serve`: follows nothing; answers subscribeRepos and the Jetstream
 *   endpoint from the stream, listHosts/getHostStatus/listRepos from its
 *   mirror of the buckets. Its data directory is only a cache of them.
 * - `all`: both.
 * A host added anywhere (`--host`, requestCrawl) lands in the hosts bucket
 * and is leased by some ingest worker on its next round.
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { RELAY_CLUSTER_CATCH_UP_MS_MAX, RELAY_CLUSTER_HANDOVER_DRAIN_MS_MAX, RELAY_CLUSTER_LEASE_TTL_MS } from '../../core/limits.ts'
import type { AccountStore } from '../accounts.ts'
import type { RelayRole } from '../config.ts'
import type { HostRecord, HostRegistry } from '../hosts/host-registry.ts'
import type { HostName } from '../hosts/host-name.ts'
import type { JetStreamEventLog } from '../log/jetstream-event-log.ts'
import type { Sequencer } from '../sequencer.ts'
import type { Slurper } from '../slurper.ts'
import { HostLeases } from './host-leases.ts'
import { clusterBuckets } from './kv-names.ts'
import { SharedState } from './shared-state.ts'
import { accountAnnotator } from './stream-states.ts'

export type RelayClusterOptions = {
  nc: NatsConnection
  stream: string
  replicas: number
  role: RelayRole
  hosts: HostRegistry
  accounts: AccountStore
  sequencer: Sequencer
  slurper: Slurper
  /** The shared stream: events go out on their host's subject with their account state (stream-states.ts). */
  log?: JetStreamEventLog
  leaseTtlMs?: number
  logLine: (message: string) => void
}

export class RelayCluster {
  readonly shared: SharedState
  readonly leases: HostLeases | null

  private constructor(shared: SharedState, leases: HostLeases | null) {
    this.shared = shared
    this.leases = leases
  }

  /** Open the buckets and apply what they hold (bounded); leases start with `startIngest`. */
  static async open(options: RelayClusterOptions): Promise<RelayCluster> {
    const { hosts, sequencer, slurper, logLine, log } = options
    const buckets = clusterBuckets(options.stream)
    if (log !== undefined) log.annotate = accountAnnotator(options.accounts)
    const ref: { leases: HostLeases | null } = { leases: null }
    const shared = await SharedState.open(options.nc, {
      buckets,
      replicas: options.replicas,
      hosts,
      accounts: options.accounts,
      owns: (host) => ref.leases?.owns(host) ?? false,
      poke: () => sequencer.poke(),
      onNewHost: () => ref.leases?.kick(),
      mirrorAccounts: options.role !== 'ingest',
      ...(log === undefined ? {} : { streamSeq: () => log.lastSeq(), streamStates: (host: HostName, afterSeq: number) => log.hostAccountStates(host, afterSeq, RELAY_CLUSTER_CATCH_UP_MS_MAX) }),
      logLine,
    })
    if (options.role !== 'serve') {
      ref.leases = await HostLeases.open(options.nc, {
        bucket: buckets.leases,
        replicas: options.replicas,
        ttlMs: options.leaseTtlMs ?? RELAY_CLUSTER_LEASE_TTL_MS,
        candidates: () => followable(hosts),
        onAcquired: async (host) => {
          const record = await shared.takeOver(host)
          if (record !== undefined && (record.status === 'active' || record.status === 'offline')) slurper.subscribe(record)
        },
        onLost: async (host) => {
          await slurper.unsubscribe(host)
          await sequencer.flush().catch(() => {})
          if (!(await shared.drain(RELAY_CLUSTER_HANDOVER_DRAIN_MS_MAX))) logLine(`relay cluster: handing ${host} over before its last state reached the buckets`)
        },
        logLine,
      })
    }
    await shared.start()
    return new RelayCluster(shared, ref.leases)
  }

  owns(host: HostName): boolean {
    return this.leases?.owns(host) ?? false
  }

  /** A host to follow (configured, crawled, un-banned): some worker's next round leases it. */
  offer(_record: HostRecord): void {
    this.leases?.kick()
  }

  startLeases(): void {
    this.leases?.start()
  }

  /** Release every lease (each host's last batch and cursor written first), stop watching. */
  async close(): Promise<void> {
    await this.leases?.close()
    this.shared.close()
  }
}

function followable(hosts: HostRegistry): HostName[] {
  return hosts
    .page(null, Number.MAX_SAFE_INTEGER)
    .filter((r) => r.status === 'active' || r.status === 'offline')
    .map((r) => r.hostname)
}
