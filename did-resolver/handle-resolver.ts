/**
 * Handle → DID, the two methods of the atproto handle spec (no cache here;
 * identity-resolver.ts caches and verifies the other direction).
 *
 * - DNS: TXT records at `_atproto.<handle>`. Each record's chunks are joined;
 *   records not starting with `did=` are ignored. Identical `did=` records
 *   count once; two different ones are `HandleAmbiguous`; a value that is not
 *   a DID is `InvalidHandleRecord`; none is `HandleNotFound`.
 * - HTTPS: GET `https://<handle>/.well-known/atproto-did`; the first line of
 *   the body, trimmed, must be a DID. Body capped at ATPROTO_DID_BODY_BYTES_MAX,
 *   no redirects, addresses vetted at connect time (safe-fetch.ts).
 *
 * THE RULE when they disagree: both run in parallel (as the reference does)
 * and DNS wins. If DNS yields a DID, that is the answer and the HTTPS fetch is
 * aborted, whatever it would have said. Only when DNS fails (no record,
 * ambiguous, garbage, timeout) does the HTTPS answer count. Both failing is
 * `HandleNotFound`, with both errors in `cause` (an AggregateError).
 *
 * Also: handles under reserved TLDs (`.local`, `.onion`, `.invalid`, ...)
 * never touch the network (`ReservedHandleTld`); `.test` resolves only with
 * the dev flag. Each method has its own time limit (`DnsTimeout`,
 * `FetchTimeout`). DNS servers are configurable (`dnsServers`), and host
 * names of the HTTPS method then resolve through the same servers.
 */
import type { Resolver } from 'node:dns/promises'
import { AtfedError } from '../core/errors.ts'
import { ATPROTO_DID_BODY_BYTES_MAX, DNS_RESOLVE_TIMEOUT_MS, IDENTITY_FETCH_TIMEOUT_MS } from '../core/limits.ts'
import { isDid } from '../core/syntax/did.ts'
import type { Did } from '../core/syntax/did.ts'
import { isResolvableHandleTld } from '../core/syntax/handle.ts'
import type { Handle } from '../core/syntax/handle.ts'
import { makeDnsResolver, resolverHostLookup, systemHostLookup } from './host-lookup.ts'
import type { HostLookup } from './host-lookup.ts'
import { FetchFailedError, safeFetch } from './safe-fetch.ts'

export type HandleResolverOptions = {
  /** DNS servers (`ip` or `ip:port`) for TXT and host lookups; the system's by default. */
  dnsServers?: readonly string[]
  dnsTimeoutMs?: number
  timeoutMs?: number
  /** The dev flag: private addresses and `.test` handles. */
  allowPrivateAddresses?: boolean
  /** Overrides how the HTTPS method's host names become addresses. */
  lookup?: HostLookup
  /** Where the well-known file lives; `https://<handle>/.well-known/atproto-did` by default. */
  wellKnownUrl?: (handle: Handle) => string
}

const DNS_NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME'])

export class HandleResolver {
  private readonly resolver: Resolver
  private readonly lookup: HostLookup
  private readonly dnsTimeoutMs: number
  private readonly timeoutMs: number
  private readonly dev: boolean
  private readonly wellKnownUrl: (handle: Handle) => string

  constructor(options: HandleResolverOptions = {}) {
    this.dnsTimeoutMs = options.dnsTimeoutMs ?? DNS_RESOLVE_TIMEOUT_MS
    this.timeoutMs = options.timeoutMs ?? IDENTITY_FETCH_TIMEOUT_MS
    this.dev = options.allowPrivateAddresses === true
    this.resolver = makeDnsResolver({ timeoutMs: this.dnsTimeoutMs, ...(options.dnsServers ? { servers: options.dnsServers } : {}) })
    const custom = options.dnsServers !== undefined && options.dnsServers.length > 0
    this.lookup = options.lookup ?? (custom ? resolverHostLookup(this.resolver) : systemHostLookup)
    this.wellKnownUrl = options.wellKnownUrl ?? ((h) => `https://${h}/.well-known/atproto-did`)
  }

  /** DNS and HTTPS in parallel; DNS wins (module header). Throws `HandleNotFound`. */
  async resolveHandle(handle: Handle): Promise<Did> {
    this.checkTld(handle)
    const controller = new AbortController()
    const viaHttps = this.resolveHttps(handle, controller.signal).then(
      (did) => ({ did }),
      (error: unknown) => ({ error }),
    )
    try {
      const did = await this.resolveDns(handle)
      controller.abort()
      return did
    } catch (dnsError) {
      const https = await viaHttps
      if ('did' in https) return https.did
      throw new AtfedError('HandleNotFound', `${handle} resolves neither by DNS nor by HTTPS`, {
        cause: new AggregateError([dnsError, https.error], 'both handle resolution methods failed'),
      })
    }
  }

  /** The DNS method alone. */
  async resolveDns(handle: Handle): Promise<Did> {
    this.checkTld(handle)
    const records = await this.queryTxt(`_atproto.${handle}`)
    const values = new Set<string>()
    for (const chunks of records) {
      const text = chunks.join('')
      if (text.startsWith('did=')) values.add(text.slice('did='.length))
    }
    if (values.size === 0) throw new AtfedError('HandleNotFound', `no did= TXT record at _atproto.${handle}`)
    if (values.size > 1) throw new AtfedError('HandleAmbiguous', `several different did= records at _atproto.${handle}`)
    const [value] = values
    if (!isDid(value)) throw new AtfedError('InvalidHandleRecord', `_atproto.${handle} holds a malformed DID`)
    return value
  }

  /** The HTTPS well-known method alone. */
  async resolveHttps(handle: Handle, signal?: AbortSignal): Promise<Did> {
    this.checkTld(handle)
    let body: Uint8Array
    try {
      const res = await safeFetch(this.wellKnownUrl(handle), {
        bytesMax: ATPROTO_DID_BODY_BYTES_MAX,
        timeoutMs: this.timeoutMs,
        accept: 'text/plain',
        allowPrivateAddresses: this.dev,
        lookup: this.lookup,
        ...(signal === undefined ? {} : { signal }),
      })
      body = res.body
    } catch (err) {
      if (err instanceof FetchFailedError && err.status === 404) {
        throw new AtfedError('HandleNotFound', `${handle} serves no /.well-known/atproto-did`, { cause: err })
      }
      throw err
    }
    const firstLine = (Buffer.from(body).toString('utf8').split('\n')[0] ?? '').trim()
    if (!isDid(firstLine)) throw new AtfedError('InvalidHandleRecord', `${handle}/.well-known/atproto-did is not a DID`)
    return firstLine
  }

  private checkTld(handle: Handle): void {
    if (!isResolvableHandleTld(handle) || (handle.endsWith('.test') && !this.dev)) {
      throw new AtfedError('ReservedHandleTld', `${handle} is under a TLD that never resolves`)
    }
  }

  private async queryTxt(name: string): Promise<string[][]> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AtfedError('DnsTimeout', `no DNS answer for ${name} within ${this.dnsTimeoutMs} ms`)),
        this.dnsTimeoutMs,
      )
    })
    try {
      return await Promise.race([this.resolver.resolveTxt(name), deadline])
    } catch (err) {
      if (err instanceof AtfedError) throw err
      const code = (err as { code?: string }).code ?? ''
      if (DNS_NOT_FOUND_CODES.has(code)) throw new AtfedError('HandleNotFound', `no TXT record at ${name}`, { cause: err })
      if (code === 'ETIMEOUT') throw new AtfedError('DnsTimeout', `DNS query for ${name} timed out`, { cause: err })
      throw new AtfedError('DnsFailed', `DNS query for ${name} failed (${code})`, { cause: err })
    } finally {
      clearTimeout(timer)
    }
  }
}
