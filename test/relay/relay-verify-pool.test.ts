/**
 * Verification on worker threads gives the same answers as on the main
 * thread: the same summaries for valid commits and #sync, the same error
 * names for forged, tampered and future ones; and a relay running with
 * workers passes a scenario unchanged.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { parseDidKey } from '../../core/crypto/did-key.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import type { CommitEvent, SyncEvent } from '../../core/stream/events.ts'
import { datetimeFromDate } from '../../core/syntax/datetime.ts'
import { parseDid } from '../../core/syntax/did.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { inlineVerifier } from '../../relay/verifier.ts'
import type { EventVerifier } from '../../relay/verifier.ts'
import { startVerifyPool } from '../../relay/verify-pool.ts'
import { commitEventOf } from '../helpers/relay-accounts.ts'
import { MemoryRepo, writeFor } from '../helpers/repo-writes.ts'
import { loadScenarios, runScenario } from './scenario-runner.ts'

let pool: EventVerifier
before(async () => {
  pool = await startVerifyPool({ workers: 2 })
})
after(async () => {
  await pool?.close()
})

async function outcome(verify: () => Promise<{ commit: { toString(): string }; data: { toString(): string } }>): Promise<string> {
  try {
    const r = await verify()
    return `ok ${r.commit.toString()} ${r.data.toString()}`
  } catch (err) {
    return (err as Error).name
  }
}

test('worker and inline verification agree, error names included', async () => {
  const keypair = generateKeypair('k256')
  const did = parseDid('did:plc:ewvi7nxzyoun6zhxrhs64oiz')
  const repo = new MemoryRepo(did, keypair)
  const events: CommitEvent[] = []
  let n = 0
  const next = (): CommitEvent => ({ ...commitEventOf(did, repo.apply([writeFor('create', `app.bsky.feed.post/p${n++}`, { $type: 'app.bsky.feed.post', text: 'x' })])), seq: n })
  for (let i = 0; i < 20; i++) events.push(next())
  events.push({ ...next(), prevData: events[0]!.commit }) // tampered: InversionMismatch
  const future = new MemoryRepo(did, keypair, new TidClock({ nowMs: () => Date.now() + 3_600_000 }))
  events.push({ ...commitEventOf(did, future.apply([writeFor('create', 'app.bsky.feed.post/f', { $type: 'app.bsky.feed.post', text: 'f' })])), seq: 99 })
  const sync: SyncEvent = {
    t: '#sync', seq: 1, did, rev: repo.head.rev, time: datetimeFromDate(new Date()),
    blocks: encodeCarBytes(repo.head.commitCid, new MemoryBlockMap().set(repo.head.commitCid, repo.blocks.get(repo.head.commitCid)!)),
  }
  const inline = inlineVerifier()
  const right = keypair.publicKey
  const wrong = parseDidKey(generateKeypair('k256').publicKey.didKey)
  for (const key of [right, wrong]) {
    const a = await Promise.all(events.map((e) => outcome(() => inline.commit(e, key))))
    const b = await Promise.all(events.map((e) => outcome(() => pool.commit(e, key))))
    assert.deepEqual(b, a)
    assert.equal(await outcome(() => pool.sync(sync, key)), await outcome(() => inline.sync(sync, key)))
  }
  const valid = await Promise.all(events.slice(0, 20).map((e) => outcome(() => pool.commit(e, right))))
  assert.ok(valid.every((o) => o.startsWith('ok ')))
  assert.equal(await outcome(() => pool.commit(events[20]!, right)), 'InversionMismatch')
  assert.equal(await outcome(() => pool.commit(events[21]!, right)), 'FutureRev')
  assert.equal(await outcome(() => pool.commit(events[0]!, wrong)), 'BadCommitSignature')
})

test('a relay verifying on worker threads passes the forged-signature scenario', async () => {
  const scenario = loadScenarios().find((s) => s.name.startsWith('a commit signed by another key'))!
  await runScenario(scenario, { verifyWorkers: 2 })
})
