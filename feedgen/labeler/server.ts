/**
 * The labeler service: `startLabeler` opens the data directory (label store,
 * signing key), loads the rules, listens, settles the identity (did:web, or
 * the did:plc created/updated at the directory — which needs the listening
 * port in dev, hence listen first; requests before the identity is settled
 * get 503), then serves queryLabels, subscribeLabels and the admin methods
 * and starts following the firehose into the rule engine.
 *
 * subscribeLabels is core/stream's SubscriptionServer over the label log:
 * the stored `#labels` frames go out verbatim; cursor rules as the firehose
 * (no cursor: live only; a cursor: every label after it, from 0 = the whole
 * history, then live; past the last seq: error `FutureCursor`; below a
 * trimmed floor: `#info OutdatedCursor` — never happens today, the label log
 * is not trimmed).
 *
 * `close` stops the consumer first (its last cursor lands), then the rule
 * worker, the subscribers, the HTTP server and the store.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { AtfedError } from '../../core/errors.ts'
import type { Did } from '../../core/syntax/did.ts'
import { SubscriptionServer } from '../../core/stream/subscription-server.ts'
import { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import { FirehoseConsumer } from '../consumer/consumer.ts'
import type { FirehoseConsumerOptions } from '../consumer/consumer-options.ts'
import { labelerEndpoint, webDidFor } from './config.ts'
import type { LabelerConfig } from './config.ts'
import { LabelEmitter } from './emitter.ts'
import { ensurePlcIdentity, storedPlcDid, webDidDocument } from './identity.ts'
import { loadKeyFile, SIGNING_KEY_FILE } from './keys.ts'
import { createLabelerApp, SUBSCRIBE_LABELS_PATH } from './routes.ts'
import { RuleEngine } from './rule-engine.ts'
import { loadRulesFile, NO_RULES } from './rules.ts'
import type { Rules } from './rules.ts'
import { LabelStore } from './store.ts'

export type LabelerOptions = {
  /** Rules to use instead of config.rulesFile (tests). */
  rules?: Rules
  /** Default: one over config.plcUrl (loopback allowed with config.dev). */
  resolver?: IdentityResolver
  now?: () => number
  /** fsync each label batch (default true). */
  sync?: boolean
  matchTimeoutMs?: number
  consumer?: Partial<Omit<FirehoseConsumerOptions, 'url' | 'cursorStore' | 'handler' | 'verify' | 'resolver'>>
  /** Problems handled without stopping; default one line on stderr. */
  onError?: (err: unknown, where: string) => void
}

export type LabelerServer = {
  /** `http://<listen host>:<port>` */
  url: string
  did: Did
  /** The `#atproto_labeler` endpoint in the DID document. */
  endpoint: string
  signingKey: Keypair
  config: LabelerConfig
  store: LabelStore
  emitter: LabelEmitter
  engine: RuleEngine
  consumer: FirehoseConsumer | null
  subscriptions: SubscriptionServer
  close(): Promise<void>
}

function logError(err: unknown, where: string): void {
  const e = err as { name?: string; message?: string }
  process.stderr.write(`labeler: ${where}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n`)
}

function starting(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
  res.end(JSON.stringify({ error: 'NotEnoughResources', message: 'the labeler is starting' }))
}

async function settleIdentity(config: LabelerConfig, endpoint: string, signingKey: Keypair): Promise<{ did: Did; didDocument: object | null }> {
  if (config.identity === 'web') {
    const stored = storedPlcDid(config.dataDir)
    if (stored !== null) throw new AtfedError('InvalidConfig', `${config.dataDir} belongs to the did:plc labeler ${stored}: start it with --identity plc`)
    const did = webDidFor(config.hostname as string)
    return { did, didDocument: webDidDocument(did, endpoint, signingKey) }
  }
  const { did } = await ensurePlcIdentity({ dataDir: config.dataDir, plcUrl: config.plcUrl, endpoint, signingKey })
  return { did, didDocument: null }
}

export async function startLabeler(config: LabelerConfig, options: LabelerOptions = {}): Promise<LabelerServer> {
  const onError = options.onError ?? logError
  const now = options.now ?? Date.now
  const rules = options.rules ?? (config.rulesFile === null ? NO_RULES : loadRulesFile(config.rulesFile))
  const signingKey = loadKeyFile(config.dataDir, SIGNING_KEY_FILE)
  const store = await LabelStore.open(config.dataDir, { now, ...(options.sync === undefined ? {} : { sync: options.sync }) })
  let handler: (req: IncomingMessage, res: ServerResponse) => void = starting
  const http = createServer((req, res) => handler(req, res))
  const cleanup: Array<() => Promise<void> | void> = [() => store.close()]
  const closeAll = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await Promise.resolve(step()).catch((err: unknown) => onError(err, 'close'))
  }
  try {
    http.listen(config.port, config.listenHost)
    await once(http, 'listening').catch((err: unknown) => {
      throw new AtfedError('ListenFailed', `cannot listen on ${config.listenHost}:${config.port}`, { cause: err })
    })
    cleanup.push(() => new Promise<void>((resolve) => {
      http.close(() => resolve())
      http.closeAllConnections()
    }))
    const { port } = http.address() as AddressInfo
    const endpoint = labelerEndpoint(config, { host: config.listenHost, port })
    const { did, didDocument } = await settleIdentity(config, endpoint, signingKey)
    const emitter = new LabelEmitter({ did, signingKey, store, now })
    handler = createLabelerApp({ did, didDocument, store, emitter, adminPassword: config.adminPassword, now, onInternalError: (err) => onError(err, 'xrpc') })
    const subscriptions = new SubscriptionServer(http, { log: store.log, path: SUBSCRIBE_LABELS_PATH })
    cleanup.push(() => subscriptions.close())
    const engine = new RuleEngine({ rules, emitter, ...(options.matchTimeoutMs === undefined ? {} : { matchTimeoutMs: options.matchTimeoutMs }) })
    cleanup.push(() => engine.close())
    const resolver = options.resolver ?? new IdentityResolver({ plcUrl: config.plcUrl, allowPrivateAddresses: config.dev })
    if (options.resolver === undefined) cleanup.push(() => resolver.close())
    const consumer = config.relayUrl === null ? null : new FirehoseConsumer({
      ...options.consumer,
      url: config.relayUrl,
      cursorStore: store.cursor,
      handler: engine.handle,
      verify: config.verify,
      resolver,
      collections: engine.collections,
      onError,
    })
    if (consumer !== null) {
      cleanup.push(() => consumer.stop())
      await consumer.start()
      consumer.done.catch((err: unknown) => onError(err, 'consumer stopped'))
    }
    let closing: Promise<void> | null = null
    const host = config.listenHost.includes(':') ? `[${config.listenHost}]` : config.listenHost
    return {
      url: `http://${host}:${port}`,
      did, endpoint, signingKey, config, store, emitter, engine, consumer, subscriptions,
      close: () => (closing ??= closeAll()),
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}
