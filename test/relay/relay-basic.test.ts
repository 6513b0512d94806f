/**
 * The relay end to end over one scripted host: a valid chain passes with the
 * relay's own seqs, repo views and host views reflect it.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startRelayHarness } from './relay-harness.ts'
import type { RelayHarness } from './relay-harness.ts'

let h: RelayHarness

before(async () => {
  h = await startRelayHarness({ hosts: 1 })
})
after(async () => {
  await h?.close()
})

async function getJson(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.relay.url}${path}`)
  return { status: res.status, body: await res.json() }
}

test('a valid chain passes in order with the relay seqs', async () => {
  const host = h.hosts[0]!
  const alice = await h.account(host, 'alice.test')
  const consumer = h.consumer(0)
  const commits = [alice.commit(), alice.commit(), alice.commit()]
  for (const c of commits) host.emit(c.event)
  await h.settle(host, 3)
  await consumer.waitFor(3)
  assert.deepEqual(consumer.events.map((e) => e.seq), [1, 2, 3])
  assert.deepEqual(consumer.events.map((e) => (e.event.t === '#commit' ? e.event.rev : null)), commits.map((c) => c.result.rev))
  const status = await getJson(`/xrpc/com.atproto.sync.getRepoStatus?did=${alice.did}`)
  assert.deepEqual(status.body, { did: alice.did, active: true, rev: commits[2]!.result.rev })
  const latest = await getJson(`/xrpc/com.atproto.sync.getLatestCommit?did=${alice.did}`)
  assert.deepEqual(latest.body, { cid: commits[2]!.result.commitCid.toString(), rev: commits[2]!.result.rev })
  const repos = await getJson('/xrpc/com.atproto.sync.listRepos')
  assert.equal(repos.body.repos.length, 1)
  const hostStatus = await getJson(`/xrpc/com.atproto.sync.getHostStatus?hostname=${host.hostname}`)
  assert.equal(hostStatus.body.seq, 3)
  assert.equal(hostStatus.body.accountCount, 1)
  assert.equal(hostStatus.body.status, 'active')
  assert.equal(hostStatus.body.accepted, 3)
})
