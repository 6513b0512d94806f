/**
 * The relay's port opens only once everything that answers on it is
 * mounted: a connection made the instant the port accepts (a consumer
 * reconnecting while the relay restarts) is answered at once — a WebSocket
 * upgrade on subscribeRepos gets its 101, a plain XRPC GET its 200 — instead
 * of waiting unanswered until the client's handshake timeout.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { RelayConfig } from '../../relay/config.ts'
import { startRelay } from '../../relay/server.ts'
import type { RelayServer } from '../../relay/server.ts'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import type { FakePdsHost } from '../helpers/fake-pds-host.ts'
import { startTestPlc } from '../helpers/plc.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { createRelayTestAccount } from '../helpers/relay-accounts.ts'
import { FAST_TUNING, startConsumer, waitUntil } from './relay-harness.ts'

/** What a served request must answer within, on a loaded 2-core machine (a stalled one waits for the client's handshake timeout). */
const ANSWER_MS_MAX = 2_000
const CONNECT_TRIES_MAX = 20_000

const UPGRADE_REQUEST =
  'GET /xrpc/com.atproto.sync.subscribeRepos HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
const HEALTH_REQUEST = 'GET /xrpc/_health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

type Attempt = { kind: 'refused' } | { kind: 'answered'; statusLine: string; ms: number } | { kind: 'silent' }

/** One TCP connection: refused, or the first line of the answer to `request` (silent if none within ANSWER_MS_MAX). */
function attempt(port: number, request: string): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let connectedAt = 0
    let data = ''
    const timer = setTimeout(() => finish({ kind: 'silent' }), ANSWER_MS_MAX + 5_000)
    const finish = (result: Attempt): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    socket.on('connect', () => {
      connectedAt = performance.now()
      socket.write(request)
    })
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1')
      const end = data.indexOf('\r\n')
      if (end >= 0) finish({ kind: 'answered', statusLine: data.slice(0, end), ms: performance.now() - connectedAt })
    })
    socket.on('error', () => finish(connectedAt === 0 ? { kind: 'refused' } : { kind: 'silent' }))
    socket.on('close', () => finish(connectedAt === 0 ? { kind: 'refused' } : { kind: 'silent' }))
  })
}

/** Connect again and again until the port accepts; the first accepted connection's outcome. */
async function firstAccepted(port: number, request: string): Promise<Attempt> {
  for (let i = 0; i < CONNECT_TRIES_MAX; i++) {
    const result = await attempt(port, request)
    if (result.kind !== 'refused') return result
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`port ${port} never accepted a connection`)
}

function assertServed(result: Attempt, status: string): void {
  assert.equal(result.kind, 'answered', 'the first accepted connection was never answered')
  if (result.kind !== 'answered') return
  assert.match(result.statusLine, new RegExp(`^HTTP/1\\.1 ${status}`))
  assert.ok(result.ms < ANSWER_MS_MAX, `answered after ${Math.round(result.ms)} ms`)
}

type Setup = { config: RelayConfig; plc: TestPlc; host: FakePdsHost; cleanup(): Promise<void> }

async function setup(): Promise<Setup> {
  const plc = await startTestPlc()
  const host = await startFakePdsHost()
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-relay-startup-'))
  const config: RelayConfig = {
    port: await freePort(), bind: '127.0.0.1', dataDir, plcUrl: plc.url, hosts: [host.origin], adminPassword: null,
    dev: true, retentionMs: 3_600_000, dnsServers: [], tuning: FAST_TUNING,
  }
  const cleanup = async (): Promise<void> => {
    await host.close()
    await plc.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { config, plc, host, cleanup }
}

test('the first connection the port accepts is served: WebSocket upgrade and XRPC GET', { timeout: 60_000 }, async () => {
  const s = await setup()
  let relay: RelayServer | null = null
  try {
    for (const [request, status] of [[UPGRADE_REQUEST, '101'], [HEALTH_REQUEST, '200']] as const) {
      const starting = startRelay(s.config, { logLine: () => {} })
      const result = await firstAccepted(s.config.port, request)
      relay = await starting
      assertServed(result, status)
      await relay.close()
      relay = null
    }
  } finally {
    await relay?.close()
    await s.cleanup()
  }
})

test('a consumer reconnecting through a restart is served promptly and misses nothing', { timeout: 60_000 }, async () => {
  const s = await setup()
  let relay: RelayServer | null = await startRelay(s.config, { logLine: () => {} })
  const consumer = startConsumer(`ws://127.0.0.1:${s.config.port}/xrpc/com.atproto.sync.subscribeRepos`, 0)
  try {
    const account = await createRelayTestAccount(s.plc.url, s.host, 'startup.test')
    s.host.emit(account.commit().event)
    await consumer.waitFor(1)
    await relay.close()
    relay = null
    s.host.emit(account.commit().event)
    relay = await startRelay(s.config, { logLine: () => {} })
    const restartedAt = performance.now()
    await consumer.waitFor(2, ANSWER_MS_MAX * 3)
    assert.ok(performance.now() - restartedAt < ANSWER_MS_MAX * 3)
    assert.deepEqual(consumer.events.map((e) => e.seq), [1, 2])
    assert.equal(consumer.error, null)
    await waitUntil(() => relay!.ctx.log.lastSeq() === 2, 'the relay log at seq 2')
  } finally {
    consumer.close()
    await relay?.close()
    await s.cleanup()
  }
})

test('a port in use fails with ListenFailed and leaves nothing open: the same data dir starts right after', { timeout: 60_000 }, async () => {
  const s = await setup()
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(s.config.port, '127.0.0.1', resolve))
  let relay: RelayServer | null = null
  try {
    await assert.rejects(startRelay(s.config, { logLine: () => {} }), { name: 'ListenFailed' })
    await new Promise<void>((resolve) => blocker.close(() => resolve()))
    relay = await startRelay(s.config, { logLine: () => {} }) // the level lock and the log were released
    const res = await fetch(`${relay.url}/xrpc/_health`)
    assert.equal(res.status, 200)
  } finally {
    if (blocker.listening) blocker.close()
    await relay?.close()
    await s.cleanup()
  }
})
