/**
 * One-off: the labeler's numbers.
 *
 * 1. Rule labels from a recorded firehose: `events` real signed #commit
 *    events (posts of `repos` DIDs registered in a local PLC; a third match a
 *    text rule, two accounts are on an account list) are recorded in a
 *    scripted subscribeRepos source; a fresh labeler (did:plc at that PLC)
 *    replays them from cursor 0 — FirehoseConsumer, regex worker, signing,
 *    group-committed fsync'd writes — without and with commit verification.
 *    Prints events/s and labels/s.
 * 2. Manual labels: `emitter.emit` of one label at a time with 16 in flight
 *    (what the admin API does per call), fsync'd: labels/s.
 * 3. queryLabels requests/s and latency from a load child
 *    (bench/feedgen-load.ts: server and client each get a core) for an
 *    exact uri, a repo prefix (limit 50) and `*` (limit 250).
 *
 *   node --import tsx bench/labeler.ts [events=5000] [repos=50] [requests=3000] [concurrency=16]
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { loadLabelerConfig } from '../feedgen/labeler/config.ts'
import { parseRules } from '../feedgen/labeler/rules.ts'
import { startLabeler } from '../feedgen/labeler/server.ts'
import type { LabelerServer } from '../feedgen/labeler/server.ts'
import { LabelStore } from '../feedgen/labeler/store.ts'
import { TestAccount } from '../test/helpers/feed-accounts.ts'
import { startFirehoseSource } from '../test/helpers/firehose-source.ts'
import { startTestPlc, tempDir } from '../test/helpers/plc.ts'
import { makeRng } from '../test/helpers/prng.ts'

const events = Number(process.argv[2] ?? 5_000)
const repos = Number(process.argv[3] ?? 50)
const requests = Number(process.argv[4] ?? 3_000)
const concurrency = Number(process.argv[5] ?? 16)

const plc = await startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })
const source = await startFirehoseSource()
const dir = tempDir('atfed-bench-labeler-')
const accounts: TestAccount[] = []
for (let i = 0; i < repos; i++) accounts.push(await TestAccount.register(plc.url, `user${i}`))
const rules = parseRules({
  rules: [
    { id: 'crypto', kind: 'text', pattern: 'free\\s+crypto', flags: 'i', val: 'spam' },
    { id: 'casino', kind: 'text', pattern: '\\b(casino|jackpot)\\b', flags: 'i', val: 'gambling' },
    { id: 'nsfw', kind: 'text', pattern: '#nsfw\\b', flags: 'i', val: 'sexual' },
    { id: 'bots', kind: 'account', dids: [accounts[0]!.did, accounts[1]!.did], val: 'bot' },
  ],
})

const rng = makeRng(11)
const spicy = ['get FREE crypto today', 'best casino in town', 'late night #nsfw']
const t0 = performance.now()
for (let i = 0; i < events; i++) {
  const text = rng.int(3) === 0 ? `${rng.pick(spicy)} ${i}` : `post ${i} about things ${rng.int(1000)}`
  source.emit(rng.pick(accounts).post(text).event)
}
process.stdout.write(`recorded ${events} posts from ${repos} repos in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)

async function replay(verify: boolean): Promise<LabelerServer> {
  const dataDir = join(dir.path, verify ? 'verified' : 'plain')
  const store = await LabelStore.open(dataDir)
  await store.cursor.set(0)
  await store.close()
  const config = loadLabelerConfig({ port: '0', data: dataDir, relay: source.url, plc: plc.url, dev: true, verify, adminPassword: 'bench' }, {})
  const start = performance.now()
  const labeler = await startLabeler(config, { rules, onError: () => {} })
  await labeler.consumer?.whenHandled(source.lastSeq)
  const s = (performance.now() - start) / 1000
  const stats = labeler.engine.stats()
  process.stdout.write(
    `rule replay, verify=${verify}: ${events} events in ${s.toFixed(2)} s = ${Math.round(events / s)} events/s, ` +
      `${stats.labelsWritten} labels = ${Math.round(stats.labelsWritten / s)} labels/s (skipped ${labeler.consumer?.stats().skipped ?? 0})\n`,
  )
  return labeler
}

await (await replay(false)).close()
const labeler = await replay(true)

// Manual labels, one per emit, 16 in flight (group commit shares the fsyncs).
const manual = 5_000
let next = 0
const m0 = performance.now()
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < manual) {
      const n = next++
      await labeler.emitter.emit([{ uri: `at://${accounts[n % repos]!.did}/app.bsky.feed.post/manual-${n}`, val: 'manual' }], { when: 'always' })
    }
  }),
)
const ms = performance.now() - m0
process.stdout.write(`manual emit: ${manual} labels in ${(ms / 1000).toFixed(2)} s = ${Math.round((manual * 1000) / ms)} labels/s (16 in flight, fsync'd)\n`)

const queries: Array<[string, string]> = [
  ['exact uri', `uriPatterns=${encodeURIComponent(`at://${accounts[5]!.did}/app.bsky.feed.post/manual-5`)}`],
  ['repo prefix, limit 50', `uriPatterns=${encodeURIComponent(`at://${accounts[3]!.did}/*`)}&limit=50`],
  ['*, limit 250', 'uriPatterns=*&limit=250'],
]
for (const [name, query] of queries) {
  const url = `${labeler.url}/xrpc/com.atproto.label.queryLabels?${query}`
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'feedgen-load.ts'), url, String(requests), String(concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  for await (const line of createInterface({ input: child.stdout })) process.stdout.write(`queryLabels ${name}: ${line}\n`)
}
await labeler.close()
await source.close()
await plc.stop()
dir.remove()
