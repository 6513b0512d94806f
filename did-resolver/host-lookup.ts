/**
 * Name → addresses for identity fetches, and the DNS resolver the handle
 * resolver shares.
 *
 * By default host names go through the system resolver (`dns.lookup`, i.e.
 * getaddrinfo, which honours /etc/hosts). When a service is configured with
 * its own DNS servers (`dnsServers`, e.g. a loopback test server or a private
 * dev zone), host names are resolved by those servers too, with A and AAAA
 * queried in parallel, so TXT records and addresses come from one place.
 *
 * Tricky bits: `localhost` always goes to the system resolver (a custom DNS
 * server will not know it); the address checks happen later, at connect time
 * in safe-fetch.ts, whatever resolved the name.
 */
import { Resolver } from 'node:dns/promises'
import { lookup as systemLookup } from 'node:dns/promises'
import type { LookupAddress } from 'node:dns'
import { DNS_RESOLVE_TIMEOUT_MS } from '../core/limits.ts'

/** Resolves a host name to its addresses. */
export type HostLookup = (hostname: string) => Promise<readonly LookupAddress[]>

export const systemHostLookup: HostLookup = (hostname) => systemLookup(hostname, { all: true, verbatim: true })

/** A node:dns Resolver with one try per server and a per-query time limit. */
export function makeDnsResolver(options: { servers?: readonly string[]; timeoutMs?: number } = {}): Resolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? DNS_RESOLVE_TIMEOUT_MS, tries: 1 })
  if (options.servers !== undefined && options.servers.length > 0) resolver.setServers([...options.servers])
  return resolver
}

/** A HostLookup that asks `resolver` for A and AAAA records. */
export function resolverHostLookup(resolver: Resolver): HostLookup {
  return async (hostname) => {
    if (hostname === 'localhost') return systemHostLookup(hostname)
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)])
    const found: LookupAddress[] = []
    if (v4.status === 'fulfilled') for (const address of v4.value) found.push({ address, family: 4 })
    if (v6.status === 'fulfilled') for (const address of v6.value) found.push({ address, family: 6 })
    if (found.length === 0 && v4.status === 'rejected') throw v4.reason
    return found
  }
}
