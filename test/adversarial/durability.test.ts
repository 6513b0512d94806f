/**
 * Adversarial case 4.10.4 (torn writes in the append log), on a real PDS
 * data directory: after a clean stop, the tail of LevelDB's write-ahead log
 * (which holds the repo blocks, heads and firehose events) is torn — garbage
 * appended, as a write cut by power loss, or the last bytes cut off. On
 * restart the PDS opens, every firehose frame it serves parses, the repo head
 * and the last #commit agree, and a new write gets a seq above every seq
 * served. The relay's log is torn the same way: it restarts, serves only
 * whole frames, and its upstream resends what was cut (host cursors are in
 * the same batches as the events). The other §4.10 cases (kill -9 at durable boundaries, interrupted
 * blob promotion and deletion, failing batches, restore onto a new host,
 * clock skew) are in the crash and unit tests the BEHAVIORS.md table names.
 */
import assert from 'node:assert/strict'
import { appendFileSync, readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { Did } from '../../core/syntax/did.ts'
import { startRelay } from '../../relay/server.ts'
import { startRelayHarness } from '../relay/relay-harness.ts'
import { createTestAccount, createTestPost, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { makeRng } from '../helpers/prng.ts'

/** The newest LevelDB write-ahead log file of the PDS database. */
function newestLog(dataDir: string, sub = 'db'): string {
  const dir = join(dataDir, sub)
  const logs = readdirSync(dir).filter((f) => f.endsWith('.log')).sort()
  assert.ok(logs.length > 0, 'a write-ahead log exists')
  return join(dir, logs.at(-1)!)
}

describe('adversarial §4.10: torn writes in the PDS and relay logs', { timeout: 120_000 }, () => {
  let plc: TestPlc
  let pds: TestPds
  let alice: { did: string; accessJwt: string }
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    alice = await createTestAccount(pds.publicUrl, 'torn.test')
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const post = (text: string) => createTestPost(pds.publicUrl, alice, text)

  /** Every served frame parses; seqs increase; the head's commit is the last #commit of alice. */
  async function consistent(): Promise<number> {
    let last = 0
    let lastCommit: string | null = null
    for await (const entry of pds.ctx.events.read(0)) {
      const frame = parseFrame(entry.frameBytes)
      assert.equal(frame.kind, 'message')
      assert.ok(entry.seq > last, 'seqs increase')
      last = entry.seq
      if (frame.kind === 'message' && frame.message.t === '#commit' && frame.message.repo === alice.did) lastCommit = frame.message.commit.toString()
    }
    assert.equal(pds.ctx.repos.getHead(alice.did as Did)?.commitCid.toString(), lastCommit, 'head and firehose agree')
    return last
  }

  async function reopen(tear: (log: string) => void): Promise<void> {
    await pds.close()
    tear(newestLog(pds.dataDir))
    pds = await startTestPds({ plc, dataDir: pds.dataDir, config: { port: Number(new URL(pds.url).port) } })
  }

  it('4.10.4 a torn log tail (garbage appended, or the last bytes cut): restart, no corrupt frame served, head and firehose agree, seq moves on', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 10; i++) await post(`before ${i}`)
    const served = await consistent()
    const rng = makeRng(404)
    await reopen((log) => appendFileSync(log, rng.bytes(3_000)))
    assert.equal(await consistent(), served, 'garbage after the last record: every acknowledged event is still there')
    await post('after garbage')
    for (let i = 0; i < 5; i++) await post(`more ${i}`)
    const before = await consistent()
    await reopen((log) => truncateSync(log, Math.max(0, statSync(log).size - 700)))
    const after = await consistent()
    assert.ok(after <= before, 'a cut tail loses only the newest records')
    await post('after the cut')
    const next = await consistent()
    assert.ok(next > after, 'the next write gets a higher seq than any served')
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.describeServer')).status, 200)
  })

  it('4.10.4 the relay event log torn the same way: restart, every served frame parses, and the host resends what the cut lost', { timeout: 60_000 }, async () => {
    const h = await startRelayHarness({ hosts: 1 })
    try {
      const host = h.hosts[0]!
      const alice = await h.account(host, 'torn-relay.test')
      // One relay batch per event (each settle flushes), so a torn tail cuts only the newest batch:
      // its events and the host cursor that came with them.
      for (let i = 1; i <= 10; i++) {
        host.emit(alice.commit().event)
        await h.settle(host, i)
      }
      await h.relay.close()
      const log = newestLog(h.dataDir, 'relay-db')
      truncateSync(log, statSync(log).size - 20)
      appendFileSync(log, makeRng(405).bytes(2_000))
      h.relay = await startRelay(h.config(), { logLine: () => {} })
      for (let i = 0; i < 5; i++) host.emit(alice.commit().event)
      const consumer = h.consumer(0)
      await consumer.waitFor(15, 20_000)
      const seqs = consumer.events.map((e) => e.seq)
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'seqs increase')
      for (const e of consumer.events) assert.equal(parseFrame(e.frameBytes).kind, 'message')
      const revs = consumer.events.map((e) => (e.event as { rev: string }).rev)
      assert.equal(new Set(revs).size, 15, 'every commit exactly once: the cut events came again from the host cursor')
      assert.equal((await fetch(`${h.relay.url}/xrpc/_health`)).status, 200)
    } finally {
      await h.close()
    }
  })
})
