/**
 * Relay configuration: `atfed relay` flags, each with an ATFED_RELAY_*
 * environment fallback (flags win).
 *
 *   --port P              ATFED_RELAY_PORT            default 2470 (indigo's)
 *   --bind ADDR           ATFED_RELAY_BIND            default 127.0.0.1
 *   --data DIR            ATFED_RELAY_DATA            required
 *   --plc URL             ATFED_RELAY_PLC (or ATFED_PLC_URL)  default https://plc.directory
 *   --host URL …          ATFED_RELAY_HOSTS (comma-separated): hosts to follow, trusted limits
 *   --admin-password X    ATFED_RELAY_ADMIN_PASSWORD  admin routes off without it
 *   --dev                 ATFED_RELAY_DEV=1           http/loopback/ported hosts, private addresses
 *   --retention-hours H   ATFED_RELAY_RETENTION_HOURS default 72
 *   --dns SERVER …        ATFED_RELAY_DNS (comma-separated): DNS for handle checks
 *   --nats URL[,URL…]     ATFED_RELAY_NATS: the event log is a JetStream stream on this
 *                         NATS cluster (relay/log/jetstream-event-log.ts); default: level
 *   --nats-stream NAME    ATFED_RELAY_NATS_STREAM: the stream (default ATFED_RELAY; subject atfed.relay.<name>)
 *   --nats-replicas N     ATFED_RELAY_NATS_REPLICAS: the stream's replicas when it is created (1 or 3)
 *   --role ROLE           ATFED_RELAY_ROLE: all (default) | ingest | serve (these two need --nats)
 *
 * `tuning` is for tests and benchmarks (shorter backoffs, timers, worker
 * threads); production leaves it empty and gets the core/limits.ts values.
 */
import { AtfedError } from '../core/errors.ts'
import { RELAY_RETENTION_HOURS_DEFAULT, RELAY_VERIFY_WORKERS_MAX } from '../core/limits.ts'

export const RELAY_DEFAULT_PORT = 2470
export const RELAY_DEFAULT_PLC_URL = 'https://plc.directory'

export type RelayTuning = {
  backoffMsMin: number
  backoffMsMax: number
  failuresMax: number
  offlineRetryMs: number
  trimIntervalMs: number
  flushMs: number
  /** fsync every batch (default true). */
  fsync: boolean
  /** Verification worker threads; 0 (default) verifies on the main thread. */
  verifyWorkers: number
  pipelineMax: number
  resyncRetryMs: number
  hostsMax: number
  newHostsPerDayMax: number
  subscribersMax: number
  /** Least time between two forced re-resolutions of one DID (WrongHost check, key refresh). */
  forcedResolveMinMs: number
  /** Relay cluster: host lease TTL (relay/cluster/host-leases.ts). */
  leaseTtlMs: number
}

export const RELAY_ROLES = ['all', 'ingest', 'serve'] as const
export type RelayRole = (typeof RELAY_ROLES)[number]

export type RelayConfig = {
  readonly port: number
  readonly bind: string
  readonly dataDir: string
  readonly plcUrl: string
  readonly hosts: readonly string[]
  readonly adminPassword: string | null
  readonly dev: boolean
  readonly retentionMs: number
  readonly dnsServers: readonly string[]
  /** NATS server URLs; empty or absent: the embedded level log. */
  readonly nats?: readonly string[]
  readonly natsReplicas?: number
  readonly natsStream?: string
  readonly role?: RelayRole
  readonly tuning?: Partial<RelayTuning>
}

export type RelayFlags = {
  port?: string
  bind?: string
  data?: string
  plc?: string
  host?: string[]
  adminPassword?: string
  dev?: boolean
  retentionHours?: string
  dns?: string[]
  verifyWorkers?: string
  nats?: string
  natsReplicas?: string
  natsStream?: string
  role?: string
}

function usage(message: string): AtfedError<'InvalidArgument'> {
  return new AtfedError('InvalidArgument', message)
}

function list(flag: readonly string[] | undefined, env: string | undefined): string[] {
  if (flag !== undefined && flag.length > 0) return [...flag]
  return (env ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
}

function integer(text: string, what: string, min: number, max: number): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) throw usage(`${what} must be an integer from ${min} to ${max}: ${text}`)
  return n
}

export function relayConfigFrom(flags: RelayFlags, env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const dataDir = flags.data ?? env['ATFED_RELAY_DATA']
  if (dataDir === undefined || dataDir === '') throw usage('a data directory is required (--data DIR or ATFED_RELAY_DATA)')
  const retentionText = flags.retentionHours ?? env['ATFED_RELAY_RETENTION_HOURS'] ?? String(RELAY_RETENTION_HOURS_DEFAULT)
  const workersText = flags.verifyWorkers ?? env['ATFED_RELAY_VERIFY_WORKERS']
  const nats = list(flags.nats === undefined ? undefined : flags.nats.split(','), env['ATFED_RELAY_NATS'])
  const role = flags.role ?? env['ATFED_RELAY_ROLE'] ?? 'all'
  if (!(RELAY_ROLES as readonly string[]).includes(role)) throw usage(`role must be one of ${RELAY_ROLES.join(', ')}: ${role}`)
  if (role !== 'all' && nats.length === 0) throw usage(`role ${role} needs --nats (a shared JetStream stream)`)
  const natsStream = flags.natsStream ?? env['ATFED_RELAY_NATS_STREAM']
  if (natsStream !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(natsStream)) throw usage(`a NATS stream name is 1-64 letters, digits, _ or -: ${natsStream}`)
  const replicasText = flags.natsReplicas ?? env['ATFED_RELAY_NATS_REPLICAS'] ?? '1'
  return {
    port: integer(flags.port ?? env['ATFED_RELAY_PORT'] ?? String(RELAY_DEFAULT_PORT), 'port', 0, 65_535),
    bind: flags.bind ?? env['ATFED_RELAY_BIND'] ?? '127.0.0.1',
    dataDir,
    plcUrl: flags.plc ?? env['ATFED_RELAY_PLC'] ?? env['ATFED_PLC_URL'] ?? RELAY_DEFAULT_PLC_URL,
    hosts: list(flags.host, env['ATFED_RELAY_HOSTS']),
    adminPassword: flags.adminPassword ?? env['ATFED_RELAY_ADMIN_PASSWORD'] ?? null,
    dev: flags.dev === true || env['ATFED_RELAY_DEV'] === '1',
    retentionMs: integer(retentionText, 'retention hours', 1, 24 * 365) * 60 * 60 * 1000,
    dnsServers: list(flags.dns, env['ATFED_RELAY_DNS']),
    nats: nats.map((s) => s.trim()).filter((s) => s !== ''),
    natsReplicas: integer(replicasText, 'NATS stream replicas', 1, 5),
    role: role as RelayRole,
    ...(natsStream === undefined ? {} : { natsStream }),
    ...(workersText === undefined ? {} : { tuning: { verifyWorkers: integer(workersText, 'verify workers', 0, RELAY_VERIFY_WORKERS_MAX) } }),
  }
}
