/**
 * SubscriptionClient against our real server and against scripted servers on
 * 127.0.0.1: cursor resume across a server restart, duplicate/old seqs
 * dropped, FutureCursor ends the iterator, bad frames reconnect with the last
 * seq as cursor, bounded reconnects (`StreamUnreachable`), backpressure
 * (socket paused while the queue is full), and the ping keepalive.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net'
import { createHash } from 'node:crypto'
import { WebSocketServer } from 'ws'
import { SubscriptionClient } from '../../core/stream/subscription-client.ts'
import type { ClientMessage } from '../../core/stream/subscription-client.ts'
import { SubscriptionServer } from '../../core/stream/subscription-server.ts'
import { encodeEventFrame } from '../../core/stream/events.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import { encodeMessageFrame } from '../../core/stream/frames.ts'
import { PATH, range, startStream } from './stream-harness.ts'
import { commitEvent, syncEvent } from './fixtures.ts'

const FAST = { backoffMsMin: 10, backoffMsMax: 40 }

async function take(client: SubscriptionClient, count: number, timeoutMs = 10_000): Promise<ClientMessage[]> {
  const out: ClientMessage[] = []
  const iterator = client[Symbol.asyncIterator]()
  const deadline = setTimeout(() => client.close(), timeoutMs)
  try {
    while (out.length < count) {
      const r = await iterator.next()
      if (r.done === true) throw new Error(`stream ended after ${out.length} of ${count} messages`)
      out.push(r.value)
    }
  } finally {
    clearTimeout(deadline)
  }
  return out
}

function seqs(messages: ClientMessage[]): number[] {
  return messages.map((m) => (m.kind === 'event' ? m.event.seq : -1))
}

async function scriptedServer(script: (ws: import('ws').WebSocket, cursor: string | null, n: number) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((resolve) => wss.on('listening', () => resolve()))
  const cursors: Array<string | null> = []
  wss.on('connection', (ws, req) => {
    const cursor = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor')
    cursors.push(cursor)
    script(ws, cursor, cursors.length)
  })
  const port = (wss.address() as AddressInfo).port
  return { url: `ws://127.0.0.1:${port}${PATH}`, cursors, close: () => new Promise<void>((r) => wss.close(() => r())) }
}

test('resumes from its cursor across a server restart: no gap, no duplicate', async () => {
  const h = await startStream()
  await h.appendMany(50)
  const client = new SubscriptionClient({ url: h.url(), cursor: 10, ...FAST })
  try {
    assert.deepEqual(seqs(await take(client, 40)), range(11, 50))
    await h.appendMany(10)
    assert.deepEqual(seqs(await take(client, 10)), range(51, 60))
    // Restart the endpoint on the same port and log; events land while the client is away.
    await h.stream.close()
    h.http.closeAllConnections()
    await new Promise<void>((resolve) => h.http.close(() => resolve()))
    await h.appendMany(10)
    const http2 = createHttpServer()
    const stream2 = new SubscriptionServer(http2, { log: h.log, path: PATH })
    await new Promise<void>((resolve) => http2.listen(h.port, '127.0.0.1', resolve))
    try {
      assert.deepEqual(seqs(await take(client, 10)), range(61, 70))
      assert.equal(client.lastSeq, 70)
      assert.ok(client.stats().connects >= 2)
    } finally {
      client.close()
      await stream2.close()
      http2.closeAllConnections()
      await new Promise<void>((resolve) => http2.close(() => resolve()))
    }
  } finally {
    client.close()
    await h.log.close()
  }
})

test('drops seq <= last seen, skips unknown types, hands out #info and invalid events', async () => {
  const server = await scriptedServer((ws) => {
    const bad = { ...syncEvent(9), did: 'not-a-did' }
    for (const frame of [
      encodeEventFrame(commitEvent(1)),
      encodeEventFrame(commitEvent(2)),
      encodeEventFrame(commitEvent(2)),
      encodeMessageFrame('#future', { seq: 3 }),
      encodeEventFrame(commitEvent(1)),
      encodeMessageFrame('#info', { name: 'OutdatedCursor' }),
      encodeMessageFrame('#sync', bad),
      encodeEventFrame(syncEvent(3)),
    ]) {
      ws.send(frame)
    }
  })
  const client = new SubscriptionClient({ url: server.url, ...FAST })
  try {
    const got = await take(client, 5)
    assert.deepEqual(got.map((m) => m.kind), ['event', 'event', 'info', 'invalid', 'event'])
    assert.deepEqual(seqs(got).filter((s) => s > 0), [1, 2, 3])
    const invalid = got[3]
    assert.ok(invalid?.kind === 'invalid' && invalid.error.name === 'InvalidEvent')
    const stats = client.stats()
    assert.equal(stats.duplicates, 2)
    assert.equal(stats.unknown, 1)
  } finally {
    client.close()
    await server.close()
  }
})

test('FutureCursor ends the iterator with that error', async () => {
  const h = await startStream()
  await h.appendMany(5)
  const client = new SubscriptionClient({ url: h.url(), cursor: 10, ...FAST })
  try {
    await assert.rejects(take(client, 1), { name: 'FutureCursor' })
    assert.equal(client.stats().connects, 1)
  } finally {
    client.close()
    await h.close()
  }
})

test('a bad frame or a text frame drops the connection; it reconnects with the last seq', async () => {
  const header = encodeCbor({ t: '#commit', op: 1 })
  const server = await scriptedServer((ws, _cursor, n) => {
    if (n === 1) {
      ws.send(encodeEventFrame(commitEvent(1)))
      ws.send(Buffer.concat([header, encodeCbor({ seq: 2 }), encodeCbor({ x: 1 })])) // three values
      ws.send(encodeEventFrame(commitEvent(5))) // never read: the connection is gone
    } else if (n === 2) {
      ws.send('{"seq":2}')
    } else {
      ws.send(encodeEventFrame(commitEvent(2)))
    }
  })
  const errors: string[] = []
  const client = new SubscriptionClient({ url: server.url, ...FAST, onConnectionError: (e) => errors.push((e as Error).name) })
  try {
    assert.deepEqual(seqs(await take(client, 2)), [1, 2])
    assert.deepEqual(server.cursors, [null, '1', '1'])
    assert.ok(errors.includes('InvalidFrame'))
  } finally {
    client.close()
    await server.close()
  }
})

test('gives up with StreamUnreachable after failuresMax failed connections in a row', async () => {
  let accepted = 0
  const tcp: TcpServer = createTcpServer((socket: Socket) => {
    accepted++
    socket.destroy()
  })
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  const port = (tcp.address() as AddressInfo).port
  const started = Date.now()
  const client = new SubscriptionClient({ url: `ws://127.0.0.1:${port}${PATH}`, failuresMax: 4, ...FAST })
  try {
    await assert.rejects(take(client, 1), { name: 'StreamUnreachable' })
    assert.equal(accepted, 4)
    assert.equal(client.stats().failures, 4)
    assert.ok(Date.now() - started < 2_000, 'backoff is capped at backoffMsMax')
  } finally {
    client.close()
    await new Promise<void>((resolve) => tcp.close(() => resolve()))
  }
})

test('backpressure: a full queue pauses the socket; draining it resumes and delivers everything in order', async () => {
  const h = await startStream()
  await h.appendMany(300, 4_000)
  const client = new SubscriptionClient({ url: h.url(0), queueFramesMax: 10, ...FAST })
  try {
    await new Promise((r) => setTimeout(r, 300))
    const stats = client.stats()
    assert.ok(stats.paused, 'socket paused while the queue is full')
    assert.ok(stats.queued >= 10 && stats.queued < 40, `queued ${stats.queued}`)
    const all = await take(client, 300)
    assert.deepEqual(seqs(all), range(1, 300))
    assert.equal(client.stats().paused, false)
  } finally {
    client.close()
    await h.close()
  }
})

test('keepalive: an upstream that goes silent after the handshake is dropped and redialled', async () => {
  let connections = 0
  const silent = createTcpServer((socket: Socket) => {
    connections++
    socket.on('error', () => {})
    socket.once('data', (req: Buffer) => {
      const key = /sec-websocket-key: *([^\r\n]+)/i.exec(req.toString('latin1'))?.[1] ?? ''
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      )
      socket.resume() // read pings, never answer
    })
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const port = (silent.address() as AddressInfo).port
  const client = new SubscriptionClient({ url: `ws://127.0.0.1:${port}${PATH}`, pingIntervalMs: 30, pingsMissedMax: 2, ...FAST })
  try {
    const start = Date.now()
    while (connections < 3 && Date.now() - start < 5_000) await new Promise((r) => setTimeout(r, 20))
    assert.ok(connections >= 3, `only ${connections} connections`)
    assert.ok(client.stats().connects >= 2)
  } finally {
    client.close()
    silent.close()
  }
})

test('breaking out of for-await closes the client', async () => {
  const h = await startStream()
  await h.appendMany(20)
  const client = new SubscriptionClient({ url: h.url(0), ...FAST })
  try {
    let n = 0
    for await (const m of client) {
      assert.equal(m.kind, 'event')
      if (++n === 5) break
    }
    const r = await client[Symbol.asyncIterator]().next()
    assert.equal(r.done, true)
  } finally {
    client.close()
    await h.close()
  }
})
