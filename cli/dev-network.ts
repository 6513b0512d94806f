/**
 * The six services of `atfed dev` as child processes (dev-child.ts), started
 * in dependency order and stopped in the reverse one:
 *
 *   start  1. PLC directory ∥ PDS 1 ∥ PDS 2 (the PDSes call the PLC only for
 *             account operations)
 *          2. relay ∥ the feed publisher account on PDS 1 (first start only).
 *             The relay starts once the PDSes listen: it follows them as
 *             configured hosts (--host), and a refused first connection
 *             would put it into a growing backoff. The PDSes also announce
 *             themselves with requestCrawl (--crawl), as a real PDS does,
 *             retrying while the relay comes up.
 *          3. feed generator ∥ labeler, once the relay listens (for the same
 *             reason: their firehose clients back off too); the labeler
 *             checks its did:plc at the PLC as it starts.
 *   stop   feed generator ∥ labeler (their cursors land while the relay
 *          still runs) → relay → PDS 1 ∥ PDS 2 → PLC
 *
 * Every service runs in dev mode (loopback addresses, http, `.test`
 * handles) on 127.0.0.1 with its data under DATA/<service>. The PDSes and
 * the feed generator are named `localhost:<port>` (their did:web and the
 * URL in their DID documents); the labeler's DID is a did:plc it makes at
 * its first start.
 *
 * `crashed` resolves with the first child that exits while nobody asked it
 * to; `stop()` may run at any time (also half-way through `start()`, which
 * then rejects) and runs once.
 */
import { AtfedError } from '../core/errors.ts'
import { createDevAccount, PUBLISHER_HANDLE } from './dev-accounts.ts'
import { ServiceChild } from './dev-child.ts'
import type { StopResult } from './dev-child.ts'
import { serviceDataDir, writeDevState } from './dev-layout.ts'
import type { DevService, DevState } from './dev-layout.ts'

export type RunningService = { readonly service: DevService; readonly url: string; readonly did: string | null }
export type StopReport = { readonly clean: boolean; readonly problems: readonly string[] }

const STOP_ORDER: readonly (readonly DevService[])[] = [['feedgen', 'labeler'], ['relay'], ['pds1', 'pds2'], ['plc']]

export type DevNetworkOptions = {
  dataDir: string
  rulesFile: string
  keyword: string
  log: (line: string) => void
  /** Called with every child pid so far, each time one starts (dev-lock.ts records them). */
  onChildren?: (pids: readonly number[]) => void
}

/** The URL clients use for each service (what its DID document or its own line says). */
export function serviceUrls(state: DevState): { readonly [S in DevService]: string } {
  const { ports } = state
  return {
    plc: `http://127.0.0.1:${ports.plc}`,
    pds1: `http://localhost:${ports.pds1}`,
    pds2: `http://localhost:${ports.pds2}`,
    relay: `http://127.0.0.1:${ports.relay}`,
    feedgen: `http://localhost:${ports.feedgen}`,
    labeler: `http://127.0.0.1:${ports.labeler}`,
  }
}

export class DevNetwork {
  readonly #options: DevNetworkOptions
  #state: DevState
  readonly #children = new Map<DevService, ServiceChild>()
  #stopping: Promise<StopReport> | null = null
  #onCrash: (child: ServiceChild) => void = () => {}
  /** The first child that exited on its own. */
  readonly crashed: Promise<ServiceChild>

  constructor(state: DevState, options: DevNetworkOptions) {
    this.#state = state
    this.#options = options
    this.crashed = new Promise((resolve) => (this.#onCrash = resolve))
  }

  get state(): DevState {
    return this.#state
  }

  get stopping(): boolean {
    return this.#stopping !== null
  }

  async start(): Promise<RunningService[]> {
    const urls = serviceUrls(this.#state)
    const { ports, adminPassword } = this.#state
    const dev = (service: DevService) => ['--port', String(ports[service]), '--data', serviceDataDir(this.#options.dataDir, service)]
    const pds = (service: 'pds1' | 'pds2') =>
      this.#spawn(service, [
        'pds', ...dev(service), '--host', '127.0.0.1', '--hostname', 'localhost', '--plc', urls.plc, '--handle-domain', '.test',
        '--crawl', urls.relay, '--admin-password', adminPassword, '--dev',
      ])
    const running = await Promise.all([this.#spawn('plc', ['plc', ...dev('plc'), '--host', '127.0.0.1']), pds('pds1'), pds('pds2')])
    const relayArgs = [
      'relay', ...dev('relay'), '--bind', '127.0.0.1', '--plc', urls.plc, '--host', urls.pds1, '--host', urls.pds2,
      '--admin-password', adminPassword, '--dev',
    ]
    const [relay, publisher] = await Promise.all([this.#spawn('relay', relayArgs), this.#ensurePublisher(urls.pds1)])
    running.push(relay)
    const relayWs = urls.relay.replace(/^http/, 'ws')
    const feedgenArgs = [
      'feedgen', ...dev('feedgen'), '--listen-host', '127.0.0.1', '--relay', relayWs, '--plc', urls.plc,
      '--hostname', `localhost:${ports.feedgen}`, '--publisher-did', publisher, '--keyword', this.#options.keyword, '--dev',
    ]
    const labelerArgs = [
      'labeler', ...dev('labeler'), '--listen-host', '127.0.0.1', '--relay', relayWs, '--plc', urls.plc,
      '--rules', this.#options.rulesFile, '--admin-password', adminPassword, '--dev',
    ]
    running.push(...(await Promise.all([this.#spawn('feedgen', feedgenArgs), this.#spawn('labeler', labelerArgs)])))
    return running.map((r) => ({ ...r, url: urls[r.service] }))
  }

  async #spawn(service: DevService, args: string[]): Promise<RunningService> {
    if (this.#stopping !== null) throw new AtfedError('DevStopped', 'the network is stopping')
    const child = new ServiceChild(service, args, { log: this.#options.log })
    this.#children.set(service, child)
    const pids = [...this.#children.values()].map((c) => c.pid).filter((pid): pid is number => pid !== undefined)
    this.#options.onChildren?.(pids)
    void child.exited.then(() => {
      if (this.#stopping === null) this.#onCrash(child)
    })
    const ready = await child.ready
    return { service, url: ready.url, did: ready.did }
  }

  async #ensurePublisher(pdsUrl: string): Promise<string> {
    if (this.#state.publisher !== null) return this.#state.publisher.did
    const publisher = await createDevAccount(pdsUrl, PUBLISHER_HANDLE, 'pds1')
    this.#state = { ...this.#state, publisher }
    writeDevState(this.#options.dataDir, this.#state)
    this.#options.log(`atfed dev: created the feed publisher ${PUBLISHER_HANDLE} (${publisher.did}) on pds1`)
    return publisher.did
  }

  /** Replace the state (after --seed wrote it). */
  setState(state: DevState): void {
    this.#state = state
  }

  /** SIGTERM every child, phase by phase (see the header); SIGKILL after the grace period. */
  stop(): Promise<StopReport> {
    return (this.#stopping ??= (async () => {
      const problems: string[] = []
      for (const phase of STOP_ORDER) {
        const results = await Promise.all(phase.map(async (service) => [service, await this.#children.get(service)?.stop()] as const))
        for (const [service, result] of results) {
          const problem = result === undefined ? null : describeStop(result)
          if (problem !== null) problems.push(`${service} ${problem}`)
        }
      }
      return { clean: problems.length === 0, problems }
    })())
  }

  /** SIGKILL everything now (a second Ctrl-C). */
  kill(): void {
    for (const child of this.#children.values()) child.kill()
  }
}

function describeStop(result: StopResult): string | null {
  if (result.killed) return 'did not stop within the grace period and was killed'
  if (result.code === 0) return null
  return result.signal === null ? `exited with code ${result.code}` : `ended by ${result.signal}`
}
