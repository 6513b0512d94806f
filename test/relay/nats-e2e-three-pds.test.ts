/**
 * The relay's end-to-end suite over three PDS processes (e2e-three-pds.test.ts),
 * with the relay child's event log on a JetStream stream of a
 * single-node nats-server started here (helpers/e2e-network.ts reads
 * ATFED_TEST_RELAY_NATS): SIGTERM and SIGKILL restarts of the relay included;
 * re-read events after the SIGKILL may count as RevReplay (see checkHosts).
 * Afterwards the server's monitoring endpoint must show that stream holding
 * the events, so a relay that ignored the flag cannot pass for this one.
 */
import assert from 'node:assert/strict'
import { after } from 'node:test'
import { startNats } from '../helpers/nats.ts'

const nats = await startNats()
process.env['ATFED_TEST_RELAY_NATS'] = nats.urls
await import('./e2e-three-pds.test.ts')

type Jsz = { account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[] }

after(async () => {
  try {
    const monitor = `http://127.0.0.1:${nats.nodes[0]!.monitorPort}/jsz?accounts=true&streams=true`
    const jsz = (await (await fetch(monitor)).json()) as Jsz
    const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).filter((s) => s.name.startsWith('E2E_'))
    assert.equal(streams.length, 1, `one E2E_ stream: ${JSON.stringify(streams)}`)
    assert.ok(streams[0]!.state.messages > 100, `the relay's events are in the stream: ${JSON.stringify(streams[0])}`)
  } finally {
    await nats.stop()
  }
}) // registered last: runs after the suite's own clean-up
