/**
 * The PLC directory under test, in its own process (forked by bench/plc.ts
 * with an IPC channel) so the HTTP clients do not share its event loop or
 * its core. Protocol: on start it sends `{ url }`; on the message `'stop'`
 * it closes the server and the store, sends `{ peakRssMb }` and exits.
 */
import { startPlcServer } from '../did-resolver/plc/server.ts'
import { peakRssMb } from './harness.ts'

const dataDir = process.argv[2]
if (dataDir === undefined || process.send === undefined) throw new Error('usage: forked with <dataDir> and an IPC channel')
const server = await startPlcServer({ port: 0, dataDir })
process.send({ url: server.url })
process.on('message', (message) => {
  if (message !== 'stop') return
  void server.close().then(() => process.send!({ peakRssMb: peakRssMb() }, () => process.exit(0)))
})
