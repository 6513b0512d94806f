/**
 * A hostile host that opens the firehose and then sends one frame that
 * never ends (a WebSocket header announcing a large message, then a byte
 * every few ms, forever) must not stall or poison the relay: another host's
 * commits still pass at once, consumers get them, and the relay shuts down
 * promptly with the trickling connection still open.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { parseHostInput } from '../../relay/hosts/host-name.ts'
import { startRelayHarness, waitUntil } from './relay-harness.ts'

const TRICKLE_MS = 5
/** Announced length of the never-finished message: under the frame limit, so only time can end it. */
const ANNOUNCED_BYTES = 1_000_000
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11' // RFC 6455 §1.3

/** A host whose describeServer answers and whose subscribeRepos trickles one endless frame. */
async function startTricklingHost(): Promise<{ origin: string; connections: () => number; accepted: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const timers = new Set<NodeJS.Timeout>()
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ did: 'did:web:trickle.test', availableUserDomains: [] }))
  })
  server.on('upgrade', (req, socket: Socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WS_GUID}`).digest('base64')
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
    const header = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0])
    header.writeUInt32BE(ANNOUNCED_BYTES, 6)
    socket.write(header)
    const timer = setInterval(() => socket.write(Buffer.from([0xa2])), TRICKLE_MS)
    timers.add(timer)
    socket.on('close', () => clearInterval(timer))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    connections: () => sockets.size,
    accepted: () => accepted,
    async close() {
      for (const timer of timers) clearInterval(timer)
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

test('a host trickling one endless frame does not hold up another host, consumers or shutdown', { timeout: 60_000 }, async () => {
  const trickler = await startTricklingHost()
  const h = await startRelayHarness({ hosts: 1 })
  try {
    const ctx = h.relay.ctx
    const record = ctx.hosts.add(parseHostInput(trickler.origin, { dev: true }), { trusted: true, nowIso: new Date().toISOString() })
    ctx.slurper.subscribe(record)
    await waitUntil(() => trickler.connections() === 1, 'the relay to connect to the trickling host')
    await new Promise((resolve) => setTimeout(resolve, 200)) // the frame is well under way
    const good = h.hosts[0]!
    const alice = await h.account(good, 'alice.test')
    const consumer = h.consumer(0)
    const started = Date.now()
    for (let i = 0; i < 20; i++) good.emit(alice.commit().event)
    await h.settle(good, 20)
    await consumer.waitFor(20)
    assert.ok(Date.now() - started < 10_000, `20 commits took ${Date.now() - started} ms behind the trickler`)
    assert.equal(h.hostRecord(good).accepted, 20)
    assert.equal(trickler.connections(), 1, 'the trickling frame was still arriving (the test saw the case it means to)')
    assert.equal(trickler.accepted(), 1, 'on the one connection the relay opened')
    const closing = Date.now()
    await h.relay.close()
    assert.ok(Date.now() - closing < 10_000, `shutdown took ${Date.now() - closing} ms`)
    await waitUntil(() => trickler.connections() === 0, 'the relay to drop the trickling connection at shutdown')
  } finally {
    await h.close()
    await trickler.close()
  }
})
