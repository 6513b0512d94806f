/**
 * The relay's event log, by configuration: the embedded `level` log in the
 * relay's db (default; its appends join the sequencer's batch), or, with
 * `--nats`, the shared JetStream stream (publish first, then the state
 * batch: relay/sequencer.ts). The NATS connection is owned here and closed
 * after the log.
 *
 * Roles: `all` runs everything on whichever log; `ingest` and `serve`
 * (several processes sharing one stream, hosts leased through a KV bucket)
 * are not implemented yet and are refused at start-up.
 */
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/transport-node'
import { AtfedError } from '../../core/errors.ts'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { EventLog } from '../../core/stream/event-log.ts'
import type { RelayConfig, RelayTuning } from '../config.ts'
import type { RelayDb } from '../relay-db.ts'
import { JetStreamEventLog } from './jetstream-event-log.ts'

export type RelayLog = {
  readonly log: EventLog
  /** The log's appends go into the relay db's batch (level); false: publish first. */
  readonly joinsBatch: boolean
  close(): Promise<void>
}

/** Refuse what this build cannot run yet (before anything is opened). */
export function checkRelayRole(config: RelayConfig): void {
  const role = config.role ?? 'all'
  if (role !== 'all') throw new AtfedError('InvalidArgument', `relay role ${role} is not implemented yet; run --role all`)
}

export async function openRelayLog(config: RelayConfig, db: RelayDb, tuning: Partial<RelayTuning>): Promise<RelayLog> {
  checkRelayRole(config)
  const servers = config.nats ?? []
  if (servers.length === 0) {
    const log = await LevelEventLog.open(db, { sync: tuning.fsync ?? true })
    return { log, joinsBatch: true, close: () => log.close() }
  }
  let nc: NatsConnection
  try {
    nc = await connect({ servers: [...servers], name: 'atfed-relay', maxReconnectAttempts: -1 })
  } catch (err) {
    throw new AtfedError('NatsUnavailable', `cannot connect to NATS at ${servers.join(',')}`, { cause: err })
  }
  try {
    const named = config.natsStream === undefined ? {} : { stream: config.natsStream, subject: `atfed.relay.${config.natsStream}` }
    const log = await JetStreamEventLog.open(nc, { ...named, replicas: config.natsReplicas ?? 1 })
    return {
      log,
      joinsBatch: false,
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
