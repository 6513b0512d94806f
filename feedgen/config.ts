/**
 * Feed generator configuration from flags and environment (flags win):
 *
 *   --port P            ATFED_FEEDGEN_PORT            default 2585
 *   --listen-host H     ATFED_FEEDGEN_LISTEN_HOST     default 127.0.0.1
 *   --data DIR          ATFED_FEEDGEN_DATA            required
 *   --relay URL         ATFED_FEEDGEN_RELAY           none: serve the index without following a firehose
 *   --plc URL           ATFED_FEEDGEN_PLC             default https://plc.directory
 *   --hostname H        ATFED_FEEDGEN_HOSTNAME        required; the service DID is did:web:<H>
 *   --publisher-did D   ATFED_FEEDGEN_PUBLISHER_DID   default: the service DID
 *   --keyword K         ATFED_FEEDGEN_KEYWORD         default #atfed
 *   --popular-hours N   ATFED_FEEDGEN_POPULAR_HOURS   default FEEDGEN_POPULAR_WINDOW_HOURS_DEFAULT
 *   --no-verify         ATFED_FEEDGEN_VERIFY=false    skip commit verification (trusted relay)
 *   --dev               ATFED_FEEDGEN_DEV=true        loopback addresses, http public URL, localhost:port hostname
 *
 * The hostname is the public name the AppView reaches (HTTPS on 443 in
 * production); `localhost:<port>` is accepted in dev only, where the DID is
 * `did:web:localhost%3A<port>` and the public URL is http. Bad values are
 * `InvalidConfig` naming the flag.
 */
import { AtfedError } from '../core/errors.ts'
import { FEEDGEN_CONSUMER_CONCURRENCY_DEFAULT, FEEDGEN_CONSUMER_QUEUE_MAX_DEFAULT, FEEDGEN_POPULAR_WINDOW_HOURS_DEFAULT } from '../core/limits.ts'
import { isDid, isWebDid } from '../core/syntax/did.ts'
import type { Did } from '../core/syntax/did.ts'
import { isHandleSyntax } from '../core/syntax/handle.ts'
import { normalizeKeyword } from './indexer/terms.ts'

export const FEEDGEN_DEFAULT_PORT = 2585
const DEFAULT_PLC_URL = 'https://plc.directory'
const DEFAULT_KEYWORD = '#atfed'
const POPULAR_HOURS_MAX = 24 * 30

export type FeedgenFlags = {
  port?: string
  listenHost?: string
  data?: string
  relay?: string
  plc?: string
  hostname?: string
  publisherDid?: string
  keyword?: string
  popularHours?: string
  verify?: boolean
  dev?: boolean
}

export type FeedgenConfig = {
  port: number
  listenHost: string
  dataDir: string
  relayUrl: string | null
  plcUrl: string
  hostname: string
  serviceDid: Did
  /** Where the AppView reaches us: `https://<hostname>` (http in dev). */
  publicUrl: string
  publisherDid: Did
  keyword: string
  popularWindowMs: number
  verify: boolean
  dev: boolean
  concurrency: number
  queueMax: number
}

export function invalid(flag: string, message: string): AtfedError<'InvalidConfig'> {
  return new AtfedError('InvalidConfig', `${flag}: ${message}`)
}

/** `1|true|yes` → true, `0|false|no` → false, anything else → unset. */
export function envFlag(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined
  if (/^(1|true|yes)$/i.test(value)) return true
  if (/^(0|false|no)$/i.test(value)) return false
  return undefined
}

function url(flag: string, text: string): string {
  try {
    const parsed = new URL(text)
    if (!/^(https?|wss?):$/.test(parsed.protocol)) throw new Error('scheme')
    return text.replace(/\/+$/, '')
  } catch {
    throw invalid(flag, `not an http(s)/ws(s) URL: ${text}`)
  }
}

/** did:web for a hostname; `localhost:<port>` becomes `did:web:localhost%3A<port>` (dev only). */
export function serviceDidFor(hostname: string, dev: boolean): Did {
  const lower = hostname.toLowerCase()
  const local = /^localhost(:\d{1,5})?$/.exec(lower)
  if (local !== null && !dev) throw invalid('--hostname', 'localhost is for --dev only')
  if (local === null && !isHandleSyntax(lower)) throw invalid('--hostname', `not a DNS name: ${hostname}`)
  const did = `did:web:${lower.replace(':', '%3A')}`
  if (!isWebDid(did)) throw invalid('--hostname', `gives no valid did:web: ${did}`)
  return did as Did
}

export function loadFeedgenConfig(flags: FeedgenFlags, env: NodeJS.ProcessEnv = process.env): FeedgenConfig {
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[`ATFED_FEEDGEN_${name}`] || undefined)
  const dev = flags.dev ?? envFlag(env['ATFED_FEEDGEN_DEV']) ?? false
  const portText = pick(flags.port, 'PORT') ?? String(FEEDGEN_DEFAULT_PORT)
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port > 65_535) throw invalid('--port', `not a port number: ${portText}`)
  const dataDir = pick(flags.data, 'DATA')
  if (dataDir === undefined) throw invalid('--data', 'a data directory is required (or ATFED_FEEDGEN_DATA)')
  const hostname = pick(flags.hostname, 'HOSTNAME')
  if (hostname === undefined) throw invalid('--hostname', 'the public hostname is required (or ATFED_FEEDGEN_HOSTNAME)')
  const serviceDid = serviceDidFor(hostname, dev)
  const relay = pick(flags.relay, 'RELAY')
  const publisher = pick(flags.publisherDid, 'PUBLISHER_DID') ?? serviceDid
  if (!isDid(publisher)) throw invalid('--publisher-did', `not a DID: ${publisher}`)
  const hoursText = pick(flags.popularHours, 'POPULAR_HOURS') ?? String(FEEDGEN_POPULAR_WINDOW_HOURS_DEFAULT)
  const hours = Number(hoursText)
  if (!/^\d+(\.\d+)?$/.test(hoursText) || hours <= 0 || hours > POPULAR_HOURS_MAX) {
    throw invalid('--popular-hours', `must be a number of hours in (0, ${POPULAR_HOURS_MAX}]`)
  }
  let keyword: string
  try {
    keyword = normalizeKeyword(pick(flags.keyword, 'KEYWORD') ?? DEFAULT_KEYWORD)
  } catch (err) {
    throw invalid('--keyword', (err as Error).message)
  }
  return {
    port,
    listenHost: pick(flags.listenHost, 'LISTEN_HOST') ?? '127.0.0.1',
    dataDir,
    relayUrl: relay === undefined ? null : url('--relay', relay),
    plcUrl: url('--plc', pick(flags.plc, 'PLC') ?? DEFAULT_PLC_URL),
    hostname: hostname.toLowerCase(),
    serviceDid,
    publicUrl: `${dev ? 'http' : 'https'}://${hostname.toLowerCase()}`,
    publisherDid: publisher,
    keyword,
    popularWindowMs: hours * 60 * 60 * 1000,
    verify: flags.verify ?? envFlag(env['ATFED_FEEDGEN_VERIFY']) ?? true,
    dev,
    concurrency: FEEDGEN_CONSUMER_CONCURRENCY_DEFAULT,
    queueMax: FEEDGEN_CONSUMER_QUEUE_MAX_DEFAULT,
  }
}
