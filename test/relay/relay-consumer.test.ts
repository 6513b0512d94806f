/**
 * The relay firehose as consumers see it: cursor backfill then live without
 * gaps or duplicates, reconnecting with a cursor, OutdatedCursor after a
 * trim, FutureCursor, and a relay restart during which hosts kept writing
 * (each host resumes from its persisted cursor: nothing lost, nothing
 * twice). Every event served verifies with our verifier, a sample also with
 * @atproto/repo.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { isAtfedError } from '../../core/errors.ts'
import type { RelayTestAccount } from '../helpers/relay-accounts.ts'
import { crossCheckWithReference, uniqueCommits, verifyAllOurs } from './firehose-check.ts'
import { startConsumer, startRelayHarness, waitUntil } from './relay-harness.ts'
import type { RelayHarness } from './relay-harness.ts'

let h: RelayHarness
let accounts: RelayTestAccount[]
let sent = 0

before(async () => {
  h = await startRelayHarness({ hosts: 2 })
  accounts = [
    await h.account(h.hosts[0]!, 'one.test'),
    await h.account(h.hosts[0]!, 'two.test'),
    await h.account(h.hosts[1]!, 'three.test'),
  ]
})
after(async () => {
  await h?.close()
})

const keyOf = (did: string): string => accounts.find((a) => a.did === did)!.keypair.publicKey.didKey

/** `n` commits round-robin over the accounts; waits until the relay applied them. */
async function write(n: number): Promise<void> {
  const perHost = new Map<unknown, number>()
  for (let i = 0; i < n; i++) {
    const account = accounts[(sent + i) % accounts.length]!
    account.host.emit(account.commit().event)
    perHost.set(account.host, (perHost.get(account.host) ?? 0) + 1)
  }
  sent += n
  for (const host of h.hosts) await h.settle(host, host.lastSeq)
}

function seqs(c: { events: { seq: number }[] }): number[] {
  return c.events.map((e) => e.seq)
}

test('cursor backfill then live: no gap, no duplicate', async () => {
  await write(15)
  const consumer = h.consumer(0)
  await consumer.waitFor(15)
  await write(15)
  await consumer.waitFor(30)
  assert.deepEqual(seqs(consumer), Array.from({ length: 30 }, (_, i) => i + 1))
  assert.equal(uniqueCommits(consumer.events).size, 30)
  assert.equal(verifyAllOurs(consumer.events, keyOf), 30)
  assert.ok((await crossCheckWithReference(consumer.events, keyOf, 3)) >= 10)
  consumer.close()
})

test('a consumer reconnecting with its cursor sees no gap and no duplicate', async () => {
  const last = h.relay.ctx.log.lastSeq()
  const first = h.consumer(last - 10)
  await first.waitFor(10)
  first.close()
  await write(6)
  const second = h.consumer(first.events[first.events.length - 1]!.seq)
  await second.waitFor(6)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual([...seqs(first), ...seqs(second)], Array.from({ length: 16 }, (_, i) => last - 9 + i))
  second.close()
})

test('a cursor past the head gets FutureCursor', async () => {
  const consumer = h.consumer(h.relay.ctx.log.lastSeq() + 100)
  await waitUntil(() => consumer.error !== null, 'the FutureCursor error')
  assert.ok(isAtfedError(consumer.error, 'FutureCursor'))
  assert.equal(consumer.events.length, 0)
})

test('restart: every host resumes from its persisted cursor, nothing lost or repeated', async () => {
  const before = h.relay.ctx.log.lastSeq()
  const cursors = h.hosts.map((host) => h.hostRecord(host).cursor)
  assert.deepEqual(cursors, h.hosts.map((host) => host.lastSeq))
  await h.relay.close()
  for (let i = 0; i < 9; i++) {
    const account = accounts[i % accounts.length]!
    account.host.emit(account.commit().event)
  }
  sent += 9
  await h.restart()
  for (const [i, host] of h.hosts.entries()) {
    await waitUntil(() => host.cursors.length > 0 && host.cursors[host.cursors.length - 1] === cursors[i], `host ${i} to be asked for cursor ${cursors[i]}`)
    await h.settle(host, host.lastSeq - (cursors[i] ?? 0))
  }
  const consumer = h.consumer(0)
  await consumer.waitFor(before + 9)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(seqs(consumer), Array.from({ length: before + 9 }, (_, i) => i + 1))
  assert.equal(uniqueCommits(consumer.events).size, sent)
  assert.equal(verifyAllOurs(consumer.events, keyOf), sent)
  consumer.close()
})

test('OutdatedCursor once events after the cursor were trimmed', async () => {
  const t = await startRelayHarness({ hosts: 1, tuning: { trimIntervalMs: 20 }, retentionMs: 1 })
  try {
    const host = t.hosts[0]!
    const alice = await t.account(host, 'alice.test')
    for (let i = 0; i < 5; i++) host.emit(alice.commit().event)
    await t.settle(host, 5)
    await waitUntil(() => t.relay.ctx.log.floorSeq() >= 5, 'the trim')
    const consumer = startConsumer(t.relay.url.replace('http:', 'ws:') + '/xrpc/com.atproto.sync.subscribeRepos', 1)
    await waitUntil(() => consumer.infos.length > 0, 'the #info frame')
    assert.equal(consumer.infos[0]!.name, 'OutdatedCursor')
    host.emit(alice.commit().event)
    await consumer.waitFor(1)
    assert.equal(consumer.events[0]!.seq, 6)
    consumer.close()
  } finally {
    await t.close()
  }
})
