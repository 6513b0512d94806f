/**
 * subscribeRepos server on real sockets (127.0.0.1) and real level dirs:
 * cursor semantics (spec §7.4) with exact seq sequences, the replay→live
 * switch under concurrent appends, HTTP-level refusals, slow consumers
 * (memory bounded, others unaffected), max subscribers, keepalive, shutdown.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import type { LoggedFrame } from '../../core/stream/event-log.ts'
import { openReader, PATH, range, startStream } from './stream-harness.ts'
import type { StreamHarness } from './stream-harness.ts'

async function withStream(options: Parameters<typeof startStream>[0], body: (h: StreamHarness) => Promise<void>): Promise<void> {
  const h = await startStream(options)
  try {
    await body(h)
  } finally {
    await h.close()
  }
}

function httpStatus(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    ws.on('open', () => reject(new Error('upgrade unexpectedly succeeded')))
    ws.on('error', () => {})
  })
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

test('no cursor: live from now, frames are the stored bytes verbatim', () =>
  withStream({}, async (h) => {
    await h.appendMany(20)
    const reader = openReader(h.url())
    await reader.opened
    await h.appendMany(10)
    await reader.until((r) => r.seqs.length >= 10)
    assert.deepEqual(reader.seqs, range(21, 30))
    const stored: LoggedFrame[] = []
    for await (const e of h.log.read(20)) stored.push(e)
    assert.deepEqual(reader.raw.map((b) => Buffer.from(b)), stored.map((e) => Buffer.from(e.frameBytes)))
    reader.ws.close()
  }))

for (const tailFramesMax of [undefined, 8]) {
  test(`replay then live under concurrent appends: no gap, no duplicate (tail ${tailFramesMax ?? 'default'})`, () =>
    withStream({ log: tailFramesMax === undefined ? {} : { tailFramesMax } }, async (h) => {
      await h.appendMany(300)
      const reader = openReader(h.url(100))
      // Append while the reader replays and crosses over to live, in small uneven batches.
      for (let i = 0; i < 60; i++) await h.appendMany(1 + (i % 9))
      const total = 300 + range(0, 59).reduce((sum, i) => sum + 1 + (i % 9), 0)
      await reader.until((r) => r.seqs.length >= total - 100)
      assert.deepEqual(reader.seqs, range(101, total))
      await h.appendMany(3)
      await reader.until((r) => r.seqs.length >= total - 97)
      assert.deepEqual(reader.seqs, range(101, total + 3))
      reader.ws.close()
    }))
}

test('cursor = last seq: nothing replayed, then live; cursor > last seq: FutureCursor then close 1008', () =>
  withStream({}, async (h) => {
    await h.appendMany(5)
    const atHead = openReader(h.url(5))
    await atHead.opened
    await h.appendMany(1)
    await atHead.until((r) => r.seqs.length >= 1)
    assert.deepEqual(atHead.seqs, [6])
    const future = openReader(h.url(7))
    const closed = await future.closed
    assert.deepEqual(future.frames, [{ kind: 'error', error: 'FutureCursor', message: 'cursor 7 is past the last seq 6' }])
    assert.deepEqual(closed, { code: 1008, reason: 'FutureCursor' })
    atHead.ws.close()
  }))

test('cursor = 0 replays everything; a cursor below the trimmed floor gets #info OutdatedCursor first', async () => {
  const clock = { now: 1_700_000_000_000 }
  await withStream({ log: { now: () => clock.now } }, async (h) => {
    await h.appendMany(10)
    const zero = openReader(h.url(0))
    await zero.until((r) => r.seqs.length >= 10)
    assert.deepEqual(zero.seqs, range(1, 10))
    assert.ok(zero.frames.every((f) => f.kind === 'message' && f.message.t === '#commit'))
    clock.now += 60 * 60 * 1000
    await h.appendMany(10)
    assert.equal(await h.log.trim(30 * 60 * 1000), 10)
    for (const cursor of [0, 3, 9]) {
      const old = openReader(h.url(cursor))
      await old.until((r) => r.seqs.length >= 10)
      const first = old.frames[0]
      assert.ok(first?.kind === 'message' && first.message.t === '#info' && first.message.name === 'OutdatedCursor')
      assert.deepEqual(old.seqs, range(11, 20), `cursor ${cursor}`)
      old.ws.close()
    }
    const exact = openReader(h.url(10))
    await exact.until((r) => r.seqs.length >= 10)
    assert.ok(exact.frames.every((f) => f.kind === 'message' && f.message.t === '#commit'))
    assert.deepEqual(exact.seqs, range(11, 20))
    exact.ws.close()
    zero.ws.close()
  })
})

test('bad cursors, wrong methods and missing upgrades get XRPC-style HTTP errors', () =>
  withStream({}, async (h) => {
    for (const cursor of ['abc', '-1', '1.5', '9007199254740992', '', '1e3']) {
      const { status, body } = await httpStatus(h.url(cursor))
      assert.equal(status, 400, `cursor ${JSON.stringify(cursor)}`)
      assert.equal(JSON.parse(body).error, 'InvalidRequest')
    }
    const plain = await fetch(`http://127.0.0.1:${h.port}${PATH}`)
    assert.equal(plain.status, 426)
    assert.equal(((await plain.json()) as { error: string }).error, 'InvalidRequest')
    const post = await fetch(`http://127.0.0.1:${h.port}${PATH}`, { method: 'POST' })
    assert.equal(post.status, 405)
    const raw = await rawUpgrade(h.port, 'POST', PATH)
    assert.match(raw, /^HTTP\/1\.1 405 /)
    assert.match(await rawUpgrade(h.port, 'GET', '/xrpc/other'), /^HTTP\/1\.1 404 /)
  }))

function upgradeRequest(method: string, path: string): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  )
}

function rawUpgrade(port: number, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(upgradeRequest(method, path)))
    let data = ''
    socket.on('data', (c) => (data += c.toString('latin1')))
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
}

/** Two subscribers fill the cap; the third is refused with `status`/`error`; once one leaves, another gets in. */
async function refusedAtCapUntilOneLeaves(h: StreamHarness, status: number, error: string): Promise<void> {
  const a = openReader(h.url())
  const b = openReader(h.url())
  await Promise.all([a.opened, b.opened])
  const refused = await httpStatus(h.url())
  assert.equal(refused.status, status)
  assert.equal(JSON.parse(refused.body).error, error)
  a.ws.close()
  await a.closed
  await waitFor(() => h.stream.stats().subscribers === 1)
  const c = openReader(h.url())
  await c.opened
  b.ws.close()
  c.ws.close()
}

test('max subscribers: the next one is refused with 503 until one leaves', () =>
  withStream({ server: { subscribersMax: 2 } }, (h) => refusedAtCapUntilOneLeaves(h, 503, 'TooManySubscribers')))

/** A raw upgrade request that `ws` refuses during the handshake (no Sec-WebSocket-Key); resolves with the status line. */
function badHandshake(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    )
    let head = ''
    socket.on('data', (chunk: Buffer) => (head += chunk.toString()))
    socket.on('close', () => resolve(head.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
  })
}

test('failed handshakes give their slot back: after many, subscribers still get in up to subscribersMax', () =>
  withStream({ server: { subscribersMax: 2 } }, async (h) => {
    for (let i = 0; i < 5; i++) assert.match(await badHandshake(h.port), /^HTTP\/1\.1 400 /)
    const a = openReader(h.url())
    const b = openReader(h.url())
    await Promise.all([a.opened, b.opened])
    assert.equal((await httpStatus(h.url())).status, 503)
    a.ws.close()
    b.ws.close()
  }))

test('per-address cap: the next subscription from that address is 429 RateLimitExceeded until one leaves', () =>
  withStream({ server: { subscribersPerAddressMax: 2, limitLoopback: true } }, (h) => refusedAtCapUntilOneLeaves(h, 429, 'RateLimitExceeded')))

test('loopback is exempt from the per-address cap by default', () =>
  withStream({ server: { subscribersPerAddressMax: 1 } }, async (h) => {
    const readers = [openReader(h.url()), openReader(h.url()), openReader(h.url())]
    await Promise.all(readers.map((r) => r.opened))
    for (const r of readers) r.ws.close()
  }))

test('a subscriber that stops reading gets ConsumerTooSlow; server buffer stays bounded; others unaffected', () => {
  const sendBufferBytesMax = 256 * 1024
  const blocksBytes = 64 * 1024
  return withStream({ server: { sendBufferBytesMax, lagEventsMax: 200, closeGraceMs: 200 } }, async (h) => {
    const stuck = openReader(h.url())
    const healthy = openReader(h.url())
    await Promise.all([stuck.opened, healthy.opened])
    stuck.ws.pause() // stop reading: the kernel buffers fill, then the server's
    const events = 600 // 39 MB: far more than loopback socket buffers hold
    // Paced so the healthy reader keeps up: only the stuck one falls behind.
    for (let sent = 0; sent < events; sent += 20) {
      await h.appendMany(20, blocksBytes)
      await healthy.until((r) => r.seqs.length >= sent + 20)
    }
    await waitFor(() => h.stream.stats().ends.ConsumerTooSlow === 1)
    const stats = h.stream.stats()
    assert.ok(
      stats.peakBufferedBytes <= sendBufferBytesMax + blocksBytes + 1024,
      `peak buffered ${stats.peakBufferedBytes} bytes exceeds the limit plus one frame`,
    )
    await healthy.until((r) => r.seqs.length >= events, 20_000)
    assert.deepEqual(healthy.seqs, range(1, events))
    stuck.ws.resume()
    const closed = await stuck.closed
    assert.ok(closed.code === 1008 || closed.code === 1006, `close code ${closed.code}`)
    assert.ok(stuck.seqs.length < events)
    healthy.ws.close()
  })
})

test('a socket that accepts nothing for stallMsMax gets ConsumerTooSlow even without new events', () =>
  withStream({ server: { sendBufferBytesMax: 64 * 1024, stallMsMax: 300, closeGraceMs: 100 } }, async (h) => {
    await h.appendMany(200, 64 * 1024)
    const stuck = openReader(h.url(0))
    await stuck.opened
    stuck.ws.pause()
    await waitFor(() => h.stream.stats().ends.ConsumerTooSlow === 1)
    stuck.ws.terminate()
  }))

test('client frames are ignored; an oversized client frame closes only that socket', () =>
  withStream({}, async (h) => {
    const reader = openReader(h.url())
    await reader.opened
    reader.ws.send('hello')
    reader.ws.send(new Uint8Array([1, 2, 3]))
    await h.appendMany(2)
    await reader.until((r) => r.seqs.length >= 2)
    reader.ws.send(new Uint8Array(8_192))
    const closed = await reader.closed
    assert.equal(closed.code, 1009)
  }))

test('keepalive: a peer that never answers pings is dropped; a normal client stays', () =>
  withStream({ server: { pingIntervalMs: 50, pingsMissedMax: 2 } }, async (h) => {
    const normal = openReader(h.url())
    await normal.opened
    const silent = connect(h.port, '127.0.0.1', () => silent.write(upgradeRequest('GET', PATH)))
    silent.on('error', () => {})
    silent.resume() // read (and drop) the pings, but never answer them
    const silentClosed = new Promise<number>((resolve) => {
      const start = Date.now()
      silent.on('close', () => resolve(Date.now() - start))
    })
    const ms = await silentClosed
    assert.ok(ms < 2_000, `silent peer dropped after ${ms} ms`)
    assert.equal(normal.ws.readyState, WebSocket.OPEN)
    await h.appendMany(1)
    await normal.until((r) => r.seqs.length === 1)
    normal.ws.close()
  }))

test('shutdown closes every subscriber with 1001 and waits for them', async () => {
  const h = await startStream()
  try {
    const readers = [openReader(h.url()), openReader(h.url(0))]
    await Promise.all(readers.map((r) => r.opened))
    await h.stream.close()
    for (const r of readers) assert.equal((await r.closed).code, 1001)
    assert.equal(h.stream.stats().subscribers, 0)
    assert.equal(h.stream.stats().ends.ServerShutdown, 2)
  } finally {
    await h.close()
  }
})
