/**
 * Names in the relay cluster's JetStream key-value buckets.
 *
 * Buckets are per stream, so several relays (or test relays) can share one
 * NATS cluster: `<stream>_HOSTS` (hostname → host record JSON),
 * `<stream>_ACCOUNTS` (`<host>.<DID>` → account state JSON: one host's
 * accounts are one key prefix, which an ingest worker loads when it takes
 * the host over) and `<stream>_LEASES`
 * (`h.<host>` → owning worker, `w.<worker>` → heartbeat; entries expire
 * after the lease TTL).
 *
 * KV keys allow only `[-/_=.A-Za-z0-9]`; DIDs (`did:web:host%3A80`) and
 * hostnames (`localhost:2583`) do not fit, so keys are the base64url of the
 * name (no padding). That loses the name order: readers sort (listHosts and
 * listRepos page from the local mirror, never from the bucket directly).
 */
export type ClusterBuckets = { hosts: string; accounts: string; leases: string }

export function clusterBuckets(stream: string): ClusterBuckets {
  return { hosts: `${stream}_HOSTS`, accounts: `${stream}_ACCOUNTS`, leases: `${stream}_LEASES` }
}

export function keyOf(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url')
}

export function nameOfKey(key: string): string {
  return Buffer.from(key, 'base64url').toString('utf8')
}

/** The accounts bucket's key of `did` filed under `host`. */
export function accountKey(host: string, did: string): string {
  return `${keyOf(host)}.${keyOf(did)}`
}

/** The keys of every account filed under `host` (a KV / subject filter). */
export function hostAccountsFilter(host: string): string {
  return `${keyOf(host)}.*`
}
