/**
 * The relay end-to-end suites, unchanged, with the relay's event log on a
 * JetStream stream (single-node nats-server started here): the harness
 * reads ATFED_TEST_RELAY_NATS (relay-harness.ts) and gives each relay its
 * own stream.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { relayConfigFrom } from '../../relay/config.ts'
import { JetStreamEventLog } from '../../relay/log/jetstream-event-log.ts'
import { startRelay } from '../../relay/server.ts'
import { startNats } from '../helpers/nats.ts'
import { startRelayHarness } from './relay-harness.ts'

const nats = await startNats()
process.env['ATFED_TEST_RELAY_NATS'] = nats.urls
await import('./relay-basic.test.ts')
await import('./relay-consumer.test.ts')
after(() => nats.stop()) // registered last: runs after the suites' own clean-up

test('the harness relay really runs on the JetStream stream as a cluster member; --role serve without --nats is refused', async () => {
  const h = await startRelayHarness()
  try {
    assert.ok(h.relay.ctx.log instanceof JetStreamEventLog)
    assert.ok(h.relay.ctx.cluster !== null)
    await assert.rejects(startRelay({ ...h.config(), nats: [], role: 'serve' }), { name: 'InvalidArgument' })
  } finally {
    await h.close()
  }
})

test('config: --nats, --role, --nats-stream and their environment fallbacks', () => {
  const base = { data: '/tmp/x' }
  assert.deepEqual(relayConfigFrom(base, {}).nats, [])
  assert.equal(relayConfigFrom(base, {}).role, 'all')
  const c = relayConfigFrom({ ...base, nats: 'nats://a:4222,nats://b:4222', role: 'ingest', natsStream: 'R1' }, {})
  assert.deepEqual(c.nats, ['nats://a:4222', 'nats://b:4222'])
  assert.equal(c.role, 'ingest')
  assert.equal(c.natsStream, 'R1')
  assert.deepEqual(relayConfigFrom(base, { ATFED_RELAY_NATS: 'nats://c:1', ATFED_RELAY_ROLE: 'serve' }).role, 'serve')
  assert.throws(() => relayConfigFrom({ ...base, role: 'serve' }, {}), { name: 'InvalidArgument' })
  assert.throws(() => relayConfigFrom({ ...base, nats: 'nats://a:1', role: 'boss' }, {}), { name: 'InvalidArgument' })
  assert.throws(() => relayConfigFrom({ ...base, nats: 'nats://a:1', natsStream: 'a.b' }, {}), { name: 'InvalidArgument' })
})
