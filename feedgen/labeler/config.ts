/**
 * Labeler configuration from flags and environment (flags win):
 *
 *   --port P              ATFED_LABELER_PORT            default 2586
 *   --listen-host H       ATFED_LABELER_LISTEN_HOST     default 127.0.0.1
 *   --data DIR            ATFED_LABELER_DATA            required (keys, identity, labels)
 *   --relay URL           ATFED_LABELER_RELAY           none: no firehose, manual labels only
 *   --plc URL             ATFED_LABELER_PLC             default https://plc.directory
 *   --identity plc|web    ATFED_LABELER_IDENTITY        default: plc when --plc/ATFED_LABELER_PLC is set, else web
 *   --hostname H          ATFED_LABELER_HOSTNAME        public host (endpoint https://H; http in dev)
 *   --rules FILE          ATFED_LABELER_RULES           rules JSON (rules.ts); none: manual labels only
 *   --admin-password X    ATFED_LABELER_ADMIN_PASSWORD  enables the admin methods (user "admin")
 *   --no-verify           ATFED_LABELER_VERIFY=false    skip commit verification (trusted relay)
 *   --dev                 ATFED_LABELER_DEV=true        http endpoint, loopback addresses, localhost:port hostnames
 *
 * Identity (identity.ts): `plc` creates the labeler's did:plc at the PLC
 * directory on first start (as the reference labelers, which are did:plc
 * accounts); `web` makes it `did:web:<hostname>`. The endpoint written into
 * the DID document is `https://<hostname>`; without a hostname only `--dev`
 * may start, with the listening address as endpoint (did:plc only).
 * Bad values are `InvalidConfig` naming the flag.
 */
import { envFlag, invalid } from '../config.ts'
import { isWebDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { isHandleSyntax } from '../../core/syntax/handle.ts'

export const LABELER_DEFAULT_PORT = 2586
const DEFAULT_PLC_URL = 'https://plc.directory'

export type LabelerFlags = {
  port?: string
  listenHost?: string
  data?: string
  relay?: string
  plc?: string
  identity?: string
  hostname?: string
  rules?: string
  adminPassword?: string
  verify?: boolean
  dev?: boolean
}

export type LabelerConfig = {
  port: number
  listenHost: string
  dataDir: string
  relayUrl: string | null
  plcUrl: string
  identity: 'plc' | 'web'
  /** Lowercased public host[:port], or null (dev only). */
  hostname: string | null
  rulesFile: string | null
  adminPassword: string | null
  verify: boolean
  dev: boolean
}


function checkUrl(flag: string, text: string): string {
  try {
    if (!/^(https?|wss?):$/.test(new URL(text).protocol)) throw new Error('scheme')
  } catch {
    throw invalid(flag, `not an http(s)/ws(s) URL: ${text}`)
  }
  return text.replace(/\/+$/, '')
}

function checkHostname(hostname: string, dev: boolean): string {
  const lower = hostname.toLowerCase()
  const local = /^(localhost|127\.0\.0\.1)(:\d{1,5})?$/.test(lower)
  if (local && !dev) throw invalid('--hostname', 'localhost and 127.0.0.1 are for --dev only')
  if (!local && !isHandleSyntax(lower)) throw invalid('--hostname', `not a DNS name: ${hostname}`)
  return lower
}

/** `did:web:<hostname>` (a port is percent-encoded: `did:web:localhost%3A2586`). */
export function webDidFor(hostname: string): Did {
  const did = `did:web:${hostname.replace(':', '%3A')}`
  if (!isWebDid(did)) throw invalid('--hostname', `gives no valid did:web: ${did}`)
  return did as Did
}

/** The public origin written into the DID document. */
export function labelerEndpoint(config: LabelerConfig, listening: { host: string; port: number }): string {
  if (config.hostname !== null) return `${config.dev ? 'http' : 'https'}://${config.hostname}`
  const host = listening.host.includes(':') ? `[${listening.host}]` : listening.host
  return `http://${host}:${listening.port}`
}

export function loadLabelerConfig(flags: LabelerFlags, env: NodeJS.ProcessEnv = process.env): LabelerConfig {
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[`ATFED_LABELER_${name}`] || undefined)
  const dev = flags.dev ?? envFlag(env['ATFED_LABELER_DEV']) ?? false
  const portText = pick(flags.port, 'PORT') ?? String(LABELER_DEFAULT_PORT)
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port > 65_535) throw invalid('--port', `not a port number: ${portText}`)
  const dataDir = pick(flags.data, 'DATA')
  if (dataDir === undefined) throw invalid('--data', 'a data directory is required (or ATFED_LABELER_DATA)')
  const plc = pick(flags.plc, 'PLC')
  const identity = pick(flags.identity, 'IDENTITY') ?? (plc === undefined ? 'web' : 'plc')
  if (identity !== 'plc' && identity !== 'web') throw invalid('--identity', 'must be "plc" or "web"')
  const hostnameText = pick(flags.hostname, 'HOSTNAME')
  const hostname = hostnameText === undefined ? null : checkHostname(hostnameText, dev)
  if (hostname === null && (identity === 'web' || !dev)) throw invalid('--hostname', 'the public hostname is required (or ATFED_LABELER_HOSTNAME)')
  if (hostname !== null && identity === 'web') webDidFor(hostname)
  const relay = pick(flags.relay, 'RELAY')
  return {
    port,
    listenHost: pick(flags.listenHost, 'LISTEN_HOST') ?? '127.0.0.1',
    dataDir,
    relayUrl: relay === undefined ? null : checkUrl('--relay', relay),
    plcUrl: checkUrl('--plc', plc ?? DEFAULT_PLC_URL),
    identity,
    hostname,
    rulesFile: pick(flags.rules, 'RULES') ?? null,
    adminPassword: pick(flags.adminPassword, 'ADMIN_PASSWORD') ?? null,
    verify: flags.verify ?? envFlag(env['ATFED_LABELER_VERIFY']) ?? true,
    dev,
  }
}
