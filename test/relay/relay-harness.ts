/**
 * A relay under test with everything real around it: our PLC directory, a
 * DNS server for handle checks, scripted upstream hosts (fake-pds-host.ts)
 * on 127.0.0.1, a relay (`startRelay`, dev mode, level in a temp dir) that
 * follows them, and firehose consumers (core/stream SubscriptionClient).
 *
 * `settle(host, n)` waits until the relay has taken `n` messages from a host
 * (events + frames it dropped) and applied them all, and every resync has
 * finished: after it, the relay's output for those frames is decided.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { InfoMessage, StreamEvent } from '../../core/stream/events.ts'
import { SubscriptionClient } from '../../core/stream/subscription-client.ts'
import type { RelayConfig, RelayTuning } from '../../relay/config.ts'
import type { HostName } from '../../relay/hosts/host-name.ts'
import type { HostRecord } from '../../relay/hosts/host-registry.ts'
import { startRelay } from '../../relay/server.ts'
import type { RelayServer } from '../../relay/server.ts'
import { startDnsServer } from '../helpers/dns-server.ts'
import type { TestDnsServer } from '../helpers/dns-server.ts'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import type { FakePdsHost } from '../helpers/fake-pds-host.ts'
import { startTestPlc } from '../helpers/plc.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { createRelayTestAccount } from '../helpers/relay-accounts.ts'
import type { RelayTestAccount } from '../helpers/relay-accounts.ts'

export const FAST_TUNING: Partial<RelayTuning> = {
  backoffMsMin: 20,
  backoffMsMax: 200,
  flushMs: 2,
  forcedResolveMinMs: 0,
  resyncRetryMs: 0,
}

export type Received = { seq: number; event: StreamEvent; frameBytes: Uint8Array }

export type RelayConsumer = {
  readonly events: Received[]
  readonly infos: InfoMessage[]
  error: unknown
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): void
}

export type RelayHarness = {
  readonly plc: TestPlc
  readonly dns: TestDnsServer
  readonly hosts: FakePdsHost[]
  relay: RelayServer
  readonly dataDir: string
  config(): RelayConfig
  account(host: FakePdsHost, handle: string, options?: { verifiedHandle?: boolean }): Promise<RelayTestAccount>
  hostRecord(host: FakePdsHost): HostRecord
  /** Messages the relay has taken from `host` so far (events + dropped frames). */
  taken(host: FakePdsHost): number
  settle(host: FakePdsHost, messages: number, timeoutMs?: number): Promise<void>
  consumer(cursor?: number | null): RelayConsumer
  restart(): Promise<void>
  close(): Promise<void>
}

export async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

export function startConsumer(url: string, cursor: number | null = null): RelayConsumer {
  const client = new SubscriptionClient({ url, cursor, backoffMsMin: 20, backoffMsMax: 200 })
  const consumer: RelayConsumer = {
    events: [],
    infos: [],
    error: null,
    waitFor: (count, timeoutMs = 10_000) => waitUntil(() => consumer.events.length >= count, `${count} relay events (have ${consumer.events.length})`, timeoutMs),
    close: () => client.close(),
  }
  void (async () => {
    try {
      for await (const message of client) {
        if (message.kind === 'event') consumer.events.push({ seq: message.event.seq, event: message.event, frameBytes: message.frameBytes })
        else if (message.kind === 'info') consumer.infos.push(message.info)
      }
    } catch (err) {
      consumer.error = err
    }
  })()
  return consumer
}

/**
 * ATFED_TEST_RELAY_NATS=URL runs the relay on a JetStream log (one stream
 * per harness, named after its data dir) instead of level: nats-relay.test.ts
 * sets it and runs relay test files unchanged.
 */
function natsBackend(dataDir: string): Pick<RelayConfig, 'nats' | 'natsStream'> {
  const url = process.env['ATFED_TEST_RELAY_NATS']
  if (url === undefined || url === '') return {}
  return { nats: [url], natsStream: `T_${dataDir.slice(-6).replace(/[^A-Za-z0-9]/g, '_')}` }
}

export async function startRelayHarness(
  options: { hosts?: number; tuning?: Partial<RelayTuning>; configuredHosts?: boolean; retentionMs?: number } = {},
): Promise<RelayHarness> {
  const plc = await startTestPlc()
  const dns = await startDnsServer()
  const hosts: FakePdsHost[] = []
  for (let i = 0; i < (options.hosts ?? 1); i++) hosts.push(await startFakePdsHost())
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-relay-'))
  const consumers: RelayConsumer[] = []
  const config = (): RelayConfig => ({
    port: 0,
    bind: '127.0.0.1',
    dataDir,
    plcUrl: plc.url,
    hosts: options.configuredHosts === false ? [] : hosts.map((h) => h.origin),
    adminPassword: 'test-admin-password',
    dev: true,
    retentionMs: options.retentionMs ?? 72 * 60 * 60 * 1000,
    dnsServers: [dns.address],
    tuning: { ...FAST_TUNING, ...options.tuning },
    ...natsBackend(dataDir),
  })
  const quiet = (): void => {}
  const harness: RelayHarness = {
    plc,
    dns,
    hosts,
    relay: await startRelay(config(), { logLine: quiet }),
    dataDir,
    config,
    async account(host, handle, opts = {}) {
      const account = await createRelayTestAccount(plc.url, host, handle)
      if (opts.verifiedHandle === true) dns.records.set(`_atproto.${handle}`, { txt: [`did=${account.did}`] })
      return account
    },
    hostRecord(host) {
      const record = harness.relay.ctx.hosts.get(host.hostname as HostName)
      if (record === undefined) throw new Error(`the relay does not know ${host.hostname}`)
      return record
    },
    taken(host) {
      const ctx = harness.relay.ctx
      const record = ctx.hosts.get(host.hostname as HostName)
      const frameDrops = (record?.drops.InvalidFrame ?? 0) + (record?.drops.FrameTooLarge ?? 0)
      return (ctx.slurper.ingestOf(host.hostname as HostName)?.received ?? 0) + frameDrops
    },
    async settle(host, messages, timeoutMs = 10_000) {
      const ctx = harness.relay.ctx
      const taken = (): number => harness.taken(host)
      await waitUntil(() => taken() >= messages, `${messages} messages from ${host.hostname} (have ${taken()})`, timeoutMs)
      await ctx.slurper.ingestOf(host.hostname as HostName)?.drain()
      await waitUntil(() => ctx.resync.active === 0, 'resyncs to finish', timeoutMs)
      await ctx.sequencer.flush()
    },
    consumer(cursor = 0) {
      const consumer = startConsumer(harness.relay.url.replace('http:', 'ws:') + '/xrpc/com.atproto.sync.subscribeRepos', cursor)
      consumers.push(consumer)
      return consumer
    },
    async restart() {
      await harness.relay.close()
      harness.relay = await startRelay(config(), { logLine: quiet })
    },
    async close() {
      for (const c of consumers) c.close()
      await harness.relay.close()
      for (const h of hosts) await h.close()
      await dns.close()
      await plc.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
  if (options.configuredHosts !== false) for (const h of hosts) await h.waitForConnections(1)
  return harness
}
