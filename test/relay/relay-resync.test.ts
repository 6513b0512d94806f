/**
 * Desync recovery when getRepo misbehaves: a repo for another DID, a repo
 * older than what the relay already passed on (no rollback). The account
 * stays desynchronized and keeps nothing of the bad answer; once the PDS
 * answers properly, the next event resyncs it and a #sync goes out. Events
 * held meanwhile that the fetched repo includes are covered, not dropped.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { startRelayHarness } from './relay-harness.ts'

test('bad getRepo answers keep the account desynchronized; a good one resyncs it', async () => {
  const h = await startRelayHarness({ hosts: 1 })
  try {
    const host = h.hosts[0]!
    const alice = await h.account(host, 'alice.test')
    const bob = await h.account(host, 'bob.test')
    const early = encodeCarBytes(alice.repo.head.commitCid, alice.repo.blocks) // alice's repo before c1
    const consumer = h.consumer(0)
    let taken = 0
    const c1 = alice.commit().event
    host.emit(c1)
    await h.settle(host, ++taken)
    const honest = host.repos.get(alice.did)!

    // getRepo answers with bob's repo: DidMismatch, the resync fails.
    host.repos.set(alice.did, host.repos.get(bob.did)!)
    alice.commit() // c2, never sent: the chain breaks at c3
    host.emit(alice.commit().event)
    await h.settle(host, ++taken)
    const status = async () => (await (await fetch(`${h.relay.url}/xrpc/com.atproto.sync.getRepoStatus?did=${alice.did}`)).json()) as { status?: string; rev?: string }
    assert.deepEqual(await status(), { did: alice.did, active: true, status: 'desynchronized', rev: c1.rev })
    assert.equal(h.relay.ctx.resync.stats.failed, 1)

    // getRepo answers with alice's repo from before c1: older than what was passed on, refused.
    host.repos.set(alice.did, () => early)
    host.emit(alice.commit().event) // c4: held for the resync, then dropped with it
    await h.settle(host, ++taken)
    assert.equal(h.relay.ctx.resync.stats.failed, 2)
    assert.equal((await status()).status, 'desynchronized')
    assert.equal(h.hostRecord(host).drops.AccountDesynchronized, 1)

    // An honest answer: the next event resyncs; the held event is covered by the #sync.
    host.repos.set(alice.did, honest)
    const c5 = alice.commit().event
    host.emit(c5)
    await h.settle(host, ++taken)
    assert.deepEqual(await status(), { did: alice.did, active: true, rev: c5.rev })
    const c6 = alice.commit().event
    host.emit(c6)
    await h.settle(host, ++taken)
    await consumer.waitFor(3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(
      consumer.events.map((e) => `${e.event.t} ${'rev' in e.event ? e.event.rev : ''}`),
      [`#commit ${c1.rev}`, `#sync ${c5.rev}`, `#commit ${c6.rev}`],
    )
    assert.equal(h.relay.ctx.resync.stats.covered, 1)
    assert.deepEqual(h.hostRecord(host).drops, { ChainBroken: 1, AccountDesynchronized: 1 })
  } finally {
    await h.close()
  }
})
