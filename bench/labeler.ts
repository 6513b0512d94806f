/**
 * Bench section `labeler`: firehose events labeled per second (rules over
 * a recorded replay, without and with commit verification), manual labels
 * per second, and queryLabels requests per second with p99.
 *
 * The stream (feedgen-data.ts, labeler mix): real signed #commit frames of
 * posts by `repos` accounts registered in a local PLC, a third matching a
 * text rule, two accounts on an account list; served from cursor 0 by a
 * scripted host in its own process over a loopback WebSocket.
 *
 * ours: `startLabeler` (did:plc at that PLC) following the host:
 *   FirehoseConsumer, the regex worker, signing, group-committed fsync'd
 *   writes; a fresh data dir per replay, DID cache warmed. Then
 *   `emitter.emit` of one label per call, 16 calls in flight (what the admin
 *   API does per request), and a load child per queryLabels shape.
 * reference (labeler-reference.ts): @ipld/dag-cbor + @atproto/repo +
 *   @atproto/crypto + level, one event at a time, regexes in-thread, each
 *   event's labels signed and written in one fsync'd batch; manual labels
 *   one fsync'd batch each. No reference server for the queryLabels rows.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Did } from '../core/syntax/did.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { loadLabelerConfig } from '../feedgen/labeler/config.ts'
import { parseRules } from '../feedgen/labeler/rules.ts'
import type { Rules } from '../feedgen/labeler/rules.ts'
import { startLabeler } from '../feedgen/labeler/server.ts'
import type { LabelerServer } from '../feedgen/labeler/server.ts'
import { LabelStore } from '../feedgen/labeler/store.ts'
import { runLoad } from './feedgen-replay.ts'
import type { BenchSection, SectionContext } from './harness.ts'
import { referenceManual, referenceRuleReplay } from './labeler-reference.ts'
import type { ReferenceRules } from './labeler-reference.ts'
import { withRecordedHost, withSavedHost } from './recorded-host.ts'

const FULL = { repos: 50, events: 5_000, manual: 5_000, requests: 3_000, warmUp: 500 }
const QUICK = { repos: 20, events: 1_000, manual: 1_000, requests: 600, warmUp: 200 }
type Sizes = typeof FULL
const IN_FLIGHT = 16

const TEXT_RULES = [
  { id: 'crypto', kind: 'text', pattern: 'free\\s+crypto', flags: 'i', val: 'spam' },
  { id: 'casino', kind: 'text', pattern: '\\b(casino|jackpot)\\b', flags: 'i', val: 'gambling' },
  { id: 'nsfw', kind: 'text', pattern: '#nsfw\\b', flags: 'i', val: 'sexual' },
]
const NOTE_REPLAY = 'recorded #commit frames (posts; a third match a text rule, two accounts listed) replayed from cursor 0 over a loopback WebSocket from a host process until every label is signed and stored (fsync), after an untimed warm-up replay of the first events (both sides); reference: @ipld/dag-cbor + @atproto/repo + @atproto/crypto + level, one event at a time'
const NOTE_MANUAL = `one label per call, ${IN_FLIGHT} calls in flight, signed and stored fsync'd (ours: group commit); reference: @atproto/crypto + level, a batch per label`
const NOTE_QUERY = `queryLabels over keep-alive HTTP, ${IN_FLIGHT} requests in flight from a load process`
const ROW_PLAIN = 'rule replay, no verification'
const ROW_VERIFIED = 'rule replay, verified (k256 signature + inversion)'
const ROW_MANUAL = 'manual labels'

const sharedDir = (): string => join(tmpdir(), `atfed-bench-labeler-${process.ppid}`)

function rulesFor(dids: readonly string[]): { ours: Rules; reference: ReferenceRules } {
  const listed = dids.slice(0, 2)
  const ours = parseRules({ rules: [...TEXT_RULES, { id: 'bots', kind: 'account', dids: listed, val: 'bot' }] })
  return { ours, reference: { text: TEXT_RULES.map((r) => ({ pattern: r.pattern, flags: r.flags, val: r.val })), accounts: new Map(listed.map((d) => [d, ['bot']])) } }
}

async function replay(run: { origin: string; plcUrl: string; dids: readonly string[]; lastSeq: number; rules: Rules; dataDir: string; verify: boolean }): Promise<{ labeler: LabelerServer; resolver: IdentityResolver; perSecond: number; labels: number }> {
  const store = await LabelStore.open(run.dataDir)
  await store.cursor.set(0)
  await store.close()
  const resolver = new IdentityResolver({ plcUrl: run.plcUrl, allowPrivateAddresses: true })
  for (const did of run.dids) await resolver.resolveDid(did as Did)
  const config = loadLabelerConfig({ port: '0', data: run.dataDir, relay: run.origin, plc: run.plcUrl, dev: true, verify: run.verify, adminPassword: 'bench' }, {})
  const start = performance.now()
  const labeler = await startLabeler(config, { rules: run.rules, resolver, onError: () => {} })
  await labeler.consumer?.whenHandled(run.lastSeq)
  const seconds = (performance.now() - start) / 1000
  if ((labeler.consumer?.stats().skipped ?? 0) > 0) throw new Error(`labeler skipped events: ${JSON.stringify(labeler.consumer?.stats().skippedBy)}`)
  return { labeler, resolver, perSecond: run.lastSeq / seconds, labels: labeler.engine.stats().labelsWritten }
}

async function measureServing(context: SectionContext, sizes: Sizes, labeler: LabelerServer, dids: readonly string[]): Promise<void> {
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < sizes.manual) {
        const n = next++
        await labeler.emitter.emit([{ uri: `at://${dids[n % dids.length]}/app.bsky.feed.post/manual-${n}`, val: 'manual' }], { when: 'always' })
      }
    }),
  )
  context.record({ name: ROW_MANUAL, value: (sizes.manual * 1000) / (performance.now() - start), unit: 'labels/s', higherIsBetter: true, note: NOTE_MANUAL })
  const queries: Array<[string, string]> = [
    ['exact uri', `uriPatterns=${encodeURIComponent(`at://${dids[5 % dids.length]}/app.bsky.feed.post/manual-5`)}`],
    ['repo prefix, limit 50', `uriPatterns=${encodeURIComponent(`at://${dids[3 % dids.length]}/*`)}&limit=50`],
    ['*, limit 250', 'uriPatterns=*&limit=250'],
  ]
  for (const [name, query] of queries) {
    context.progress(`queryLabels ${name}`)
    const load = await runLoad(`${labeler.url}/xrpc/com.atproto.label.queryLabels?${query}`, { requests: sizes.requests, concurrency: IN_FLIGHT })
    context.record({ name: `queryLabels ${name}`, value: load.perSecond, unit: 'req/s', higherIsBetter: true, note: NOTE_QUERY })
    context.record({ name: `queryLabels ${name} p99`, value: load.p99, unit: 'ms', higherIsBetter: false })
  }
}

async function runOurs(context: SectionContext, sizes: Sizes): Promise<void> {
  context.progress(`recording ${sizes.events} posts of ${sizes.repos} accounts`)
  await withRecordedHost(sharedDir(), { repos: sizes.repos, events: sizes.events, mix: 'labeler' }, async ({ host, plcUrl, stream }) => {
    const dids = [...stream.keys.keys()]
    const base = { origin: host.origin, plcUrl, dids, lastSeq: stream.frames.length, rules: rulesFor(dids).ours }
    for (const verify of [false, true]) {
      context.progress(`rule replay, verify=${verify}`)
      const warm = await replay({ ...base, lastSeq: sizes.warmUp, dataDir: join(sharedDir(), `warm-${verify}`), verify }) // untimed (JIT), as the reference
      await warm.labeler.close()
      warm.resolver.close()
      const run = await replay({ ...base, dataDir: join(sharedDir(), verify ? 'verified' : 'plain'), verify })
      context.record({ name: verify ? ROW_VERIFIED : ROW_PLAIN, value: run.perSecond, unit: 'events/s', higherIsBetter: true, note: NOTE_REPLAY })
      context.info(`rule replay, verify=${verify}: ${run.labels} labels for ${stream.frames.length} events = ${Math.round((run.labels * run.perSecond) / stream.frames.length)} labels/s`)
      try {
        if (verify) await measureServing(context, sizes, run.labeler, dids)
      } finally {
        await run.labeler.close()
        run.resolver.close()
      }
    }
  })
}

async function runReference(context: SectionContext, sizes: Sizes): Promise<void> {
  await withSavedHost(sharedDir(), { repos: sizes.repos, events: sizes.events, mix: 'labeler' }, async ({ host, stream }) => {
    const dids = [...stream.keys.keys()]
    const rules = rulesFor(dids).reference
    for (const verify of [false, true]) {
      context.progress(`reference rule replay, verify=${verify}`)
      await referenceRuleReplay(host.origin, sizes.warmUp, rules, verify ? stream.keys : null) // untimed warm-up, as ours
      const run = await referenceRuleReplay(host.origin, stream.frames.length, rules, verify ? stream.keys : null)
      context.record({ name: verify ? ROW_VERIFIED : ROW_PLAIN, value: run.perSecond, unit: 'events/s', higherIsBetter: true, note: NOTE_REPLAY })
      context.info(`reference rule replay, verify=${verify}: ${run.labels} labels`)
    }
    const manual = await referenceManual(sizes.manual, IN_FLIGHT, (n) => `at://${dids[n % dids.length]}/app.bsky.feed.post/manual-${n}`)
    context.record({ name: ROW_MANUAL, value: manual, unit: 'labels/s', higherIsBetter: true, note: NOTE_MANUAL })
  })
}

export const section: BenchSection = {
  name: 'labeler',
  title: 'Labeler: firehose events labeled/s (with and without verification), manual labels/s, queryLabels req/s and p99',
  sides: ['ours', 'reference'],
  async run(side, context) {
    const sizes = context.quick ? QUICK : FULL
    if (side === 'ours') await runOurs(context, sizes)
    else await runReference(context, sizes)
  },
}
