/**
 * A small federation of real processes for end-to-end relay tests: three
 * `atfed pds` children and one `atfed relay` child around a PLC directory
 * the caller runs. The relay follows PDS 0 and 1 by `--host` (trusted
 * limits) and PDS 2 because that PDS asked it to crawl (`--crawl`, at its
 * start: untrusted limits). Start-up order: PDS 0 and 1, then the relay (its
 * first connection to each succeeds: no backoff wait), then PDS 2 (its
 * start-up requestCrawl finds the relay answering). Ports are fixed at
 * start, so `restartRelay` brings the relay back where every PDS and
 * consumer expects it, on the same data dir.
 */
import { join } from 'node:path'
import { freePort, spawnAtfed } from './atfed-child.ts'
import type { AtfedChild } from './atfed-child.ts'

const PDS_READY = / listening on (http:\/\/\S+)/
const RELAY_READY = /^relay listening on (http:\/\/\S+)/
const SUBSCRIBE = '/xrpc/com.atproto.sync.subscribeRepos'

export type E2eNetwork = {
  readonly pdsUrls: readonly string[]
  readonly relayUrl: string
  /** `ws://…/xrpc/com.atproto.sync.subscribeRepos` of the relay. */
  readonly relayStream: string
  /** Stop the relay with `signal` (SIGKILL: kill -9) and start it again on the same port and data. */
  restartRelay(signal: NodeJS.Signals): Promise<void>
  /** Kill every child (the caller removes `root`). */
  close(): Promise<void>
}

export function streamUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws') + SUBSCRIBE
}

/**
 * ATFED_TEST_RELAY_NATS=URL runs the relay child on a JetStream log (its own
 * stream) instead of level, as test/relay/nats-relay.test.ts does for the
 * in-process suites.
 */
function natsArgs(relayPort: number): string[] {
  const url = process.env['ATFED_TEST_RELAY_NATS']
  return url === undefined || url === '' ? [] : ['--nats', url, '--nats-stream', `E2E_${relayPort}`]
}

export async function startE2eNetwork(options: { plcUrl: string; root: string }): Promise<E2eNetwork> {
  const [relayPort, ...pdsPorts] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
  const relayOrigin = `http://127.0.0.1:${relayPort}`
  const children: AtfedChild[] = []
  const spawn = async (args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<AtfedChild> => {
    const child = await spawnAtfed(args, { ready, env })
    children.push(child)
    return child
  }
  const pds = (p: number, crawl: boolean): Promise<AtfedChild> =>
    spawn(
      ['pds', '--port', String(pdsPorts[p]), '--data', join(options.root, `pds${p}`), '--hostname', 'localhost', '--plc', options.plcUrl, '--dev',
        ...(crawl ? ['--crawl', relayOrigin] : [])],
      PDS_READY,
      { ATFED_PDS_RATE_LIMITS: 'false' },
    )
  const startRelay = (): Promise<AtfedChild> =>
    spawn(
      ['relay', '--port', String(relayPort), '--data', join(options.root, 'relay'), '--plc', options.plcUrl, '--dev',
        '--host', `http://127.0.0.1:${pdsPorts[0]}`, '--host', `http://127.0.0.1:${pdsPorts[1]}`, ...natsArgs(relayPort)],
      RELAY_READY,
    )
  try {
    const followed = await Promise.all([pds(0, false), pds(1, false)])
    let relay = await startRelay()
    const crawling = await pds(2, true)
    return {
      pdsUrls: [followed[0].url, followed[1].url, crawling.url],
      relayUrl: relay.url,
      relayStream: streamUrl(relay.url),
      restartRelay: async (signal) => {
        await relay.kill(signal)
        relay = await startRelay()
      },
      close: async () => {
        await Promise.all(children.map((c) => c.kill()))
      },
    }
  } catch (err) {
    await Promise.all(children.map((c) => c.kill()))
    throw err
  }
}
