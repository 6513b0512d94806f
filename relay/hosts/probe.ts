/**
 * "Is this a PDS?": GET `com.atproto.server.describeServer` on a host, as
 * requestCrawl and the offline retries do before (re)subscribing.
 *
 * Through safe-fetch (RELAY_HOST_PROBE_TIMEOUT_MS, RELAY_HOST_PROBE_BYTES_MAX,
 * no redirects, public addresses only unless dev). The answer must be a JSON
 * object with a string `did`. A host whose HTTP `Server` header contains
 * `atproto-relay` is another relay: subscribing to it would loop events back
 * ('HostIsRelay'). Any other failure is 'HostNotFound'.
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { RELAY_HOST_PROBE_BYTES_MAX, RELAY_HOST_PROBE_TIMEOUT_MS } from '../../core/limits.ts'
import { safeFetch } from '../../did-resolver/safe-fetch.ts'
import { hostHttpOrigin } from './host-name.ts'
import type { HostAddress } from './host-name.ts'

export const RELAY_SERVER_MARKER = 'atproto-relay'

export type HostProbe = (address: HostAddress) => Promise<void>

export function describeServerProbe(options: { dev: boolean }): HostProbe {
  return async (address) => {
    const url = `${hostHttpOrigin(address)}/xrpc/com.atproto.server.describeServer`
    let res
    try {
      res = await safeFetch(url, {
        bytesMax: RELAY_HOST_PROBE_BYTES_MAX,
        timeoutMs: RELAY_HOST_PROBE_TIMEOUT_MS,
        accept: 'application/json',
        allowPrivateAddresses: options.dev,
      })
    } catch (err) {
      const why = isAtfedError(err) ? `${err.name}: ${err.message}` : String(err)
      throw new AtfedError('HostNotFound', `${address.hostname} did not answer describeServer (${why})`, { cause: err })
    }
    if (String(res.headers['server'] ?? '').includes(RELAY_SERVER_MARKER)) {
      throw new AtfedError('HostIsRelay', `${address.hostname} is a relay (Server: ${String(res.headers['server'])})`)
    }
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(res.body).toString('utf8'))
    } catch {
      body = null
    }
    if (typeof body !== 'object' || body === null || typeof (body as { did?: unknown }).did !== 'string') {
      throw new AtfedError('HostNotFound', `${address.hostname} answered describeServer without a service DID`)
    }
  }
}
