/**
 * A host flooding beyond its event rate is throttled (held back, not
 * dropped: the reference relay's behaviour) while a second host keeps
 * flowing at full speed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { HostName } from '../../relay/hosts/host-name.ts'
import { startRelayHarness, waitUntil } from './relay-harness.ts'

const RATE = 50 // the reference's per-second rate for a new host
const FLOOD = 150

test('a flood beyond the host rate is throttled while another host keeps flowing', async () => {
  const h = await startRelayHarness({ hosts: 2 })
  try {
    const [a, b] = [h.hosts[0]!, h.hosts[1]!]
    const res = await fetch(`${h.relay.url}/admin/pds/changeLimits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}` },
      body: JSON.stringify({ host: a.hostname, eventsPerSecond: RATE }),
    })
    assert.equal(res.status, 200)
    const flooder = await h.account(a, 'flood.test')
    const calm = await h.account(b, 'calm.test')
    const consumer = h.consumer(0)
    const started = Date.now()
    for (let i = 0; i < FLOOD; i++) a.emit(flooder.accountEvent(i % 2 === 0, i % 2 === 0 ? undefined : 'deactivated'))
    await waitUntil(() => h.relay.ctx.hosts.statusOf(h.hostRecord(a), Date.now()) === 'throttled', 'host a to read as throttled')
    const status = (await (await fetch(`${h.relay.url}/xrpc/com.atproto.sync.getHostStatus?hostname=${a.hostname}`)).json()) as { status: string }
    assert.equal(status.status, 'throttled')
    for (let i = 0; i < 20; i++) b.emit(calm.commit().event)
    await h.settle(b, 20)
    // Host b is done while host a is still being held back: b never waited behind a.
    const appliedFromA = h.relay.ctx.slurper.ingestOf(a.hostname as HostName)!.received
    assert.ok(appliedFromA < FLOOD, `host a is held back (${appliedFromA} of ${FLOOD} taken after ${Date.now() - started} ms)`)
    const fromA = (): number => consumer.events.filter((e) => e.event.t === '#account').length
    await h.settle(a, FLOOD, 15_000)
    const floodMs = Date.now() - started
    // A full bucket (RATE) passes at once, the rest at RATE per second.
    assert.ok(floodMs >= ((FLOOD - RATE) / RATE) * 1000 * 0.8, `the flood took only ${floodMs} ms`)
    await consumer.waitFor(FLOOD + 20)
    assert.equal(fromA(), FLOOD, 'nothing from the flooding host was lost')
    assert.deepEqual(h.hostRecord(a).drops, {})
    assert.equal(h.hostRecord(b).accepted, 20)
  } finally {
    await h.close()
  }
})
