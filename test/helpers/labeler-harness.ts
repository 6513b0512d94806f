/**
 * A labeler under test: our PLC directory, a scripted firehose source,
 * accounts registered in that PLC, and `startLabeler` on 127.0.0.1 (random
 * port, --dev, did:plc at our PLC unless told otherwise) over a temp data
 * dir, with fast consumer backoff. `emit` sends events and waits until the
 * labeler has handled them; `query` and `admin` call its XRPC methods and
 * return status and JSON body.
 */
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import { loadLabelerConfig } from '../../feedgen/labeler/config.ts'
import type { LabelerFlags } from '../../feedgen/labeler/config.ts'
import type { Rules } from '../../feedgen/labeler/rules.ts'
import { startLabeler } from '../../feedgen/labeler/server.ts'
import type { LabelerServer } from '../../feedgen/labeler/server.ts'
import { TestAccount } from './feed-accounts.ts'
import { startFirehoseSource } from './firehose-source.ts'
import type { FirehoseSource } from './firehose-source.ts'
import { startTestPlc, tempDir } from './plc.ts'
import type { TestPlc } from './plc.ts'

export const ADMIN_PASSWORD = 'labeler-admin-secret'

export type JsonResponse = { status: number; body: any }

export type LabelerHarness = {
  plc: TestPlc
  source: FirehoseSource
  labeler: LabelerServer
  resolver: IdentityResolver
  dataDir: string
  errors: Array<{ where: string; err: unknown }>
  account(name: string): Promise<TestAccount>
  /** Emit and wait until the labeler has handled everything up to it. */
  emit(...events: UnsequencedEvent[]): Promise<number>
  query(params: Record<string, string | string[]>): Promise<JsonResponse>
  admin(nsid: string, body: unknown, password?: string | null): Promise<JsonResponse>
  /** Stop the labeler (keeping its data), run `between`, start a new one over the same directory. */
  restart(between?: (dataDir: string) => Promise<void>): Promise<void>
  close(): Promise<void>
}

export type HarnessOptions = {
  /** Rules, or a function read at every (re)start (tests that need account DIDs first restart with them). */
  rules?: Rules | (() => Rules)
  flags?: Partial<LabelerFlags>
  now?: () => number
  matchTimeoutMs?: number
}

export async function startLabelerHarness(options: HarnessOptions = {}): Promise<LabelerHarness> {
  const plc = await startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })
  const source = await startFirehoseSource()
  const dir = tempDir('atfed-labeler-')
  const errors: LabelerHarness['errors'] = []
  const config = loadLabelerConfig(
    { port: '0', data: dir.path, relay: source.origin, plc: plc.url, adminPassword: ADMIN_PASSWORD, dev: true, ...options.flags },
    {},
  )
  const resolver = new IdentityResolver({ plcUrl: plc.url, allowPrivateAddresses: true, cache: { forcedRefreshMinMs: 0 } })
  const start = async (): Promise<LabelerServer> => {
    const server = await startLabeler(config, {
      resolver,
      ...(options.rules === undefined ? {} : { rules: typeof options.rules === 'function' ? options.rules() : options.rules }),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.matchTimeoutMs === undefined ? {} : { matchTimeoutMs: options.matchTimeoutMs }),
      consumer: { client: { backoffMsMin: 10, backoffMsMax: 50 }, handlerBackoffMsMin: 5, resubscribeDelayMs: 20 },
      onError: (err, where) => void errors.push({ where, err }),
    })
    // Live-only until a cursor is stored: wait for the socket so no event is emitted into the void.
    const deadline = Date.now() + 10_000
    while (server.consumer !== null && (server.consumer.stats().stream?.connects ?? 0) < 1) {
      if (Date.now() > deadline) throw new Error('labeler did not connect to the source')
      await new Promise((r) => setTimeout(r, 5))
    }
    return server
  }
  const call = async (path: string, init: RequestInit = {}): Promise<JsonResponse> => {
    const res = await fetch(`${h.labeler.url}${path}`, init)
    const text = await res.text()
    return { status: res.status, body: text === '' ? null : JSON.parse(text) }
  }
  const h: LabelerHarness = {
    plc,
    source,
    labeler: await start(),
    resolver,
    dataDir: dir.path,
    errors,
    account: (name) => TestAccount.register(plc.url, name),
    async emit(...events) {
      let seq = 0
      for (const event of events) seq = source.emit(event)
      await h.labeler.consumer?.whenHandled(seq)
      return seq
    },
    query(params) {
      const search = new URLSearchParams()
      for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) search.append(name, v)
      return call(`/xrpc/com.atproto.label.queryLabels?${search}`)
    },
    admin(nsid, body, password = ADMIN_PASSWORD) {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (password !== null) headers.authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`
      return call(`/xrpc/${nsid}`, { method: 'POST', headers, body: JSON.stringify(body) })
    },
    async restart(between) {
      await h.labeler.close()
      await between?.(dir.path)
      h.labeler = await start()
    },
    async close() {
      await h.labeler.close()
      resolver.close()
      await source.close()
      await plc.stop()
      dir.remove()
    },
  }
  return h
}
