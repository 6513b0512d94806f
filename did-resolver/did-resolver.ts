/**
 * DID → DID document, over the network (no cache here; see cache.ts).
 *
 * - `did:plc:<id>` → GET `<plcUrl>/<did>` (plcUrl configurable, default
 *   https://plc.directory, so tests and private deployments use their own).
 * - `did:web:<host>` → GET `https://<host>/.well-known/did.json`. Host-only:
 *   a path (`did:web:host:path`) is `UnsupportedDidWebPath`. A port
 *   (`%3A`) only on `localhost`, and both `localhost` and plain `http` only
 *   with the dev flag (`allowPrivateAddresses`). Reserved TLDs (`.local`,
 *   `.onion`, ...) are refused like handles; `.test` only in dev.
 *
 * Every fetch goes through safe-fetch.ts: time limit, DID_DOC_BYTES_MAX body
 * cap, no redirects. did:web hosts are strangers' names, so their addresses
 * are vetted at connect time (`ForbiddenAddress` without the dev flag). The
 * PLC URL is operator configuration, not attacker input, so it may point at
 * a private or loopback address (a local mirror) without the dev flag, its
 * host name goes to the system resolver (not `dnsServers`/`lookup`, which
 * are for did:web hosts), and its connections are pooled (keep-alive, at
 * most PLC_FETCH_SOCKETS_MAX).
 *
 * Answers: 404 → `DidNotFound`; 410, or a 404 whose body says "not
 * available" (the reference directory's answer for a tombstoned DID) →
 * `DidDeactivated`; other statuses stay `FetchFailed`. The body must be a
 * JSON DID document whose `id` is the DID (did-document.ts).
 */
import http from 'node:http'
import https from 'node:https'
import { AtfedError } from '../core/errors.ts'
import { DID_DOC_BYTES_MAX, IDENTITY_FETCH_TIMEOUT_MS, PLC_FETCH_SOCKETS_MAX } from '../core/limits.ts'
import { isPlcDid, isWebDid, webDidHost } from '../core/syntax/did.ts'
import type { Did } from '../core/syntax/did.ts'
import { isResolvableHandleTld } from '../core/syntax/handle.ts'
import { parseDidDocument } from './did-document.ts'
import type { DidDocument } from './did-document.ts'
import { FetchFailedError, safeFetch } from './safe-fetch.ts'
import { makeDnsResolver, resolverHostLookup } from './host-lookup.ts'
import type { HostLookup } from './host-lookup.ts'

export const DEFAULT_PLC_URL = 'https://plc.directory'
const DID_ACCEPT = 'application/did+ld+json, application/json'

export type DidResolverOptions = {
  plcUrl?: string
  timeoutMs?: number
  /** The dev flag: private addresses, `http://localhost[:port]` did:web and `.test` hosts. */
  allowPrivateAddresses?: boolean
  /** DNS servers (`ip[:port]`) for did:web host names; the system resolver by default. */
  dnsServers?: readonly string[]
  /** How did:web host names become addresses; overrides `dnsServers`. */
  lookup?: HostLookup
}

export class DidResolver {
  readonly plcUrl: string
  private readonly timeoutMs: number
  private readonly dev: boolean
  private readonly lookup: HostLookup | undefined
  private readonly plcAgent: http.Agent

  constructor(options: DidResolverOptions = {}) {
    this.plcUrl = (options.plcUrl ?? DEFAULT_PLC_URL).replace(/\/+$/, '')
    const Agent = this.plcUrl.startsWith('https:') ? https.Agent : http.Agent
    this.plcAgent = new Agent({ keepAlive: true, maxSockets: PLC_FETCH_SOCKETS_MAX })
    this.timeoutMs = options.timeoutMs ?? IDENTITY_FETCH_TIMEOUT_MS
    this.dev = options.allowPrivateAddresses === true
    const custom = options.dnsServers !== undefined && options.dnsServers.length > 0
    this.lookup = options.lookup ?? (custom ? resolverHostLookup(makeDnsResolver({ servers: options.dnsServers })) : undefined)
  }

  /** Fetch and shape-check the document of `did`. */
  async resolveDid(did: Did): Promise<DidDocument> {
    if (did.startsWith('did:plc:')) {
      if (!isPlcDid(did)) throw new AtfedError('InvalidDid', `malformed did:plc: ${did}`)
      return this.fetchDocument(did, `${this.plcUrl}/${did}`, { agent: this.plcAgent })
    }
    if (did.startsWith('did:web:')) return this.fetchDocument(did, this.webDocumentUrl(did), {})
    throw new AtfedError('UnsupportedDidMethod', `cannot resolve ${did.slice(0, did.indexOf(':', 4))} DIDs`)
  }

  /** `https://<host>/.well-known/did.json` for a host-only did:web. */
  webDocumentUrl(did: Did): string {
    if (did.slice('did:web:'.length).includes(':')) {
      throw new AtfedError('UnsupportedDidWebPath', `path-based did:web is not supported: ${did}`)
    }
    if (!isWebDid(did)) throw new AtfedError('InvalidDid', `did:web must name a host: ${did}`)
    const host = webDidHost(did)
    const hostname = host.split(':')[0] as string
    if (hostname === 'localhost') {
      if (!this.dev) throw new AtfedError('ForbiddenAddress', `${did} names localhost (dev only)`)
      return `http://${host}/.well-known/did.json`
    }
    if (!isResolvableHandleTld(hostname) || (hostname.endsWith('.test') && !this.dev)) {
      throw new AtfedError('InvalidDid', `${did} is under a reserved TLD`)
    }
    return `https://${host}/.well-known/did.json`
  }

  /** Close pooled PLC connections (service shutdown). */
  close(): void {
    this.plcAgent.destroy()
  }

  /** `agent` is passed only for the trusted PLC URL: pooled, private addresses allowed. */
  private async fetchDocument(did: Did, url: string, opts: { agent?: http.Agent }): Promise<DidDocument> {
    let body: Uint8Array
    try {
      const res = await safeFetch(url, {
        bytesMax: DID_DOC_BYTES_MAX,
        timeoutMs: this.timeoutMs,
        accept: DID_ACCEPT,
        allowPrivateAddresses: opts.agent !== undefined || this.dev,
        ...(opts.agent === undefined ? {} : { agent: opts.agent }),
        ...(this.lookup === undefined || opts.agent !== undefined ? {} : { lookup: this.lookup }),
      })
      body = res.body
    } catch (err) {
      throw mapStatus(did, err)
    }
    let json: unknown
    try {
      json = JSON.parse(Buffer.from(body).toString('utf8'))
    } catch (err) {
      throw new AtfedError('InvalidDidDocument', `${did}: document is not JSON`, { cause: err })
    }
    return parseDidDocument(did, json)
  }
}

function mapStatus(did: Did, err: unknown): unknown {
  if (!(err instanceof FetchFailedError)) return err
  const tombstoned = err.status === 410 || (err.status === 404 && /not available/i.test(err.bodyText))
  if (tombstoned) return new AtfedError('DidDeactivated', `${did} is deactivated (tombstoned)`, { cause: err })
  if (err.status === 404) return new AtfedError('DidNotFound', `${did} is not registered`, { cause: err })
  return err
}
