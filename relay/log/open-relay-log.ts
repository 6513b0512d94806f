/**
 * The relay's event log, by configuration: the embedded `level` log in the
 * relay's db (default; its appends join the sequencer's batch), or, with
 * `--nats`, the shared JetStream stream (publish first, then the state
 * batch: relay/sequencer.ts). The NATS connection is owned here and closed
 * after the log; the relay cluster (relay/cluster/) uses it too.
 *
 * Roles: `all` (default), `ingest` and `serve`; the last two need `--nats`
 * (several processes sharing one stream: relay/cluster/relay-cluster.ts).
 */
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { AtfedError } from '../../core/errors.ts'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { EventLog } from '../../core/stream/event-log.ts'
import type { RelayConfig, RelayTuning } from '../config.ts'
import type { RelayDb } from '../relay-db.ts'
import { DEFAULT_STREAM, JetStreamEventLog } from './jetstream-event-log.ts'

export type RelayLog = {
  readonly log: EventLog
  /** The log's appends go into the relay db's batch (level); false: publish first. */
  readonly joinsBatch: boolean
  /** On a JetStream log: the connection, the stream's name and replicas (for the cluster's KV buckets). */
  readonly nats: { readonly nc: NatsConnection; readonly stream: string; readonly replicas: number; readonly log: JetStreamEventLog } | null
  close(): Promise<void>
}

/** Refuse what cannot run (before anything is opened): ingest and serve share a stream, so they need --nats. */
export function checkRelayRole(config: RelayConfig): void {
  const role = config.role ?? 'all'
  if (role !== 'all' && (config.nats ?? []).length === 0) throw new AtfedError('InvalidArgument', `relay role ${role} needs --nats (a shared JetStream stream)`)
}

export async function openRelayLog(config: RelayConfig, db: RelayDb, tuning: Partial<RelayTuning>): Promise<RelayLog> {
  checkRelayRole(config)
  const servers = config.nats ?? []
  if (servers.length === 0) {
    const log = await LevelEventLog.open(db, { sync: tuning.fsync ?? true })
    return { log, joinsBatch: true, nats: null, close: () => log.close() }
  }
  let nc: NatsConnection
  try {
    nc = await connect({ servers: [...servers], name: 'atfed-relay', maxReconnectAttempts: -1 })
  } catch (err) {
    throw new AtfedError('NatsUnavailable', `cannot connect to NATS at ${servers.join(',')}`, { cause: err })
  }
  try {
    const named = config.natsStream === undefined ? {} : { stream: config.natsStream, subject: `atfed.relay.${config.natsStream}` }
    const replicas = config.natsReplicas ?? 1
    const log = await JetStreamEventLog.open(nc, { ...named, replicas })
    return {
      log,
      joinsBatch: false,
      nats: { nc, stream: config.natsStream ?? DEFAULT_STREAM, replicas, log },
      close: async () => {
        await log.close()
        await nc.drain()
      },
    }
  } catch (err) {
    await nc.close()
    throw err
  }
}
