/**
 * One-off: fan-out of ~4 KB #commit frames from a LevelEventLog through the
 * SubscriptionServer to N local subscribers (default 100, in a child process
 * so server and clients each get a core). Prints events/s (every subscriber
 * has the event) and deliveries/s (events x subscribers).
 *
 *   node --import tsx bench/stream-fanout.ts [subscribers=100] [events=5000] [batch=10] [sync|nosync]
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Level } from 'level'
import { LevelEventLog } from '../core/stream/event-log-level.ts'
import { SubscriptionServer } from '../core/stream/subscription-server.ts'
import { encodeEventFrame, withSeq } from '../core/stream/events.ts'
import { unsequenced } from '../test/stream/fixtures.ts'

const subscribers = Number(process.argv[2] ?? 100)
const events = Number(process.argv[3] ?? 5_000)
const BATCH = Number(process.argv[4] ?? 10)
const sync = process.argv[5] !== 'nosync'
const BLOCKS_BYTES = 3_900 // frame ≈ 4.1 KB with header, ops, CIDs

const dir = await mkdtemp(join(tmpdir(), 'atfed-fanout-'))
const db = new Level<string, string>(dir)
const log = await LevelEventLog.open(db, { sync })
const http = createServer()
const stream = new SubscriptionServer(http, { log, path: '/xrpc/com.atproto.sync.subscribeRepos' })
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/xrpc/com.atproto.sync.subscribeRepos`

const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'stream-fanout-clients.ts'), url, String(subscribers), String(events)], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
const next = async (): Promise<string> => ((await lines.next()).value as string | undefined) ?? 'eof'

if ((await next()) !== 'ready') throw new Error('clients did not start')
const frameBytes = encodeEventFrame(withSeq(unsequenced(1, BLOCKS_BYTES), 1)).length
const start = performance.now()
let appendMs = 0
for (let n = 0; n < events; n += BATCH) {
  const t = performance.now()
  await log.append(Array.from({ length: BATCH }, (_, i) => unsequenced(n + i + 1, BLOCKS_BYTES)))
  appendMs += performance.now() - t
}
const appendedAt = performance.now() - start
const done = await next()
const totalMs = performance.now() - start
const stats = stream.stats()
console.log(`frame ${frameBytes} bytes, ${subscribers} subscribers, ${events} events (appended in batches of ${BATCH}, ${sync ? 'sync' : 'no fsync'})`)
console.log(`appends finished after ${appendedAt.toFixed(0)} ms (${appendMs.toFixed(0)} ms in append)`)
console.log(`all subscribers had every event after ${totalMs.toFixed(0)} ms (${done})`)
console.log(`fan-out: ${Math.round(events / (totalMs / 1000))} events/s, ${Math.round((events * subscribers) / (totalMs / 1000))} deliveries/s, ${((events * subscribers * frameBytes) / (totalMs / 1000) / 1e6).toFixed(0)} MB/s`)
console.log(`peak unsent bytes on one socket ${stats.peakBufferedBytes}; ends ${JSON.stringify(stats.ends)}`)
child.kill()
await stream.close()
http.closeAllConnections()
http.close()
await log.close()
await db.close()
await rm(dir, { recursive: true, force: true })
