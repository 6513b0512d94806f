import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import WebSocket from 'ws'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import { SubscriptionServer } from '../../core/stream/subscription-server.ts'
import { decodeFrame } from '../../core/stream/frames.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'

const PATH = '/xrpc/com.atproto.sync.subscribeRepos'

function identity(n: number): UnsequencedEvent {
  return { t: '#identity', did: `did:plc:${'a'.repeat(23)}${n}`, time: new Date(0).toISOString(), handle: null } as unknown as UnsequencedEvent
}

test('a live subscriber steps over seqs burned by aborted appends and keeps receiving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-abort-'))
  const db = new Level<any, any>(dir)
  await db.open()
  const log = await LevelEventLog.open(db, { name: 'events' })
  const server = http.createServer()
  const subs = new SubscriptionServer(server, { log, path: PATH })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  try {
    await log.append([identity(1)])
    const ws = new WebSocket(`ws://127.0.0.1:${port}${PATH}`)
    const seqs: number[] = []
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(new Uint8Array(data))
      if (frame.kind === 'message') seqs.push((frame.payload as { seq: number }).seq)
    })
    await once(ws, 'open')
    await new Promise((r) => setTimeout(r, 50))
    log.appendOps([identity(2), identity(3)]).abort()
    const [after] = await log.append([identity(4)])
    const deadline = Date.now() + 5_000
    while (!seqs.includes(after!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    assert.deepEqual(seqs, [after], 'only the event after the burned seqs, and nothing hangs')
    ws.close()
  } finally {
    await subs.close()
    server.close()
    await log.close()
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
