/**
 * A relay killed before its first write batch for a brand-new host lands
 * must not lose that host's events (issue 10, point 2; found by the
 * adversarial suite).
 *
 * The relay child starts with a sequencer flush of a minute, so no event
 * batch can land on its own: it connects to a new host (no stored cursor),
 * the host sends one commit, the relay applies it (getHostStatus shows the
 * host's seq) and is killed (SIGKILL) with that commit only in memory. The
 * host writes another commit while the relay is down. Restarted (normal
 * tuning, same data dir), the relay must resubscribe from a durable cursor
 * just before the first frame it ever saw — not live — so its firehose ends
 * up holding both commits.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import type { RelayConfig, RelayTuning } from '../../relay/config.ts'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import { startTestPlc } from '../helpers/plc.ts'
import { createRelayTestAccount } from '../helpers/relay-accounts.ts'
import { startWatchdog, trackProcessGroup } from '../helpers/watchdog.ts'
import { FAST_TUNING, startConsumer } from '../relay/relay-harness.ts'
import { pollUntil } from './poll.ts'

const CHILD = new URL('../relay/relay-child.ts', import.meta.url).pathname
/** Longer than the test: no event batch lands in the first relay's life. */
const FLUSH_NEVER_MS = 600_000

startWatchdog(60_000, 'relay-first-cursor.test.ts')

function startChild(config: RelayConfig): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
  trackProcessGroup(child.pid)
  child.stderr!.resume()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay child did not start in 30 s')), 30_000)
    child.once('exit', (code) => reject(new Error(`relay child exited early (${code})`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^READY (\S+)/.exec(line)
      if (match === null) return
      clearTimeout(timer)
      resolve({ child, url: match[1]! })
    })
  })
}

async function hostSeq(url: string, hostname: string): Promise<number | null> {
  const res = await fetch(`${url}/xrpc/com.atproto.sync.getHostStatus?hostname=${hostname}`)
  const body = (await res.json()) as { seq?: number }
  return body.seq ?? null
}

test('a new host: the relay killed before its first batch lands resumes from just before the first frame it saw', { timeout: 45_000 }, async () => {
  const plc = await startTestPlc()
  const host = await startFakePdsHost()
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-relay-first-'))
  const children: ChildProcess[] = []
  try {
    const alice = await createRelayTestAccount(plc.url, host, 'first-cursor.test')
    // Seqs the relay never saw (before it followed the host): not its to fetch.
    host.emit(alice.commit().event)
    host.emit(alice.commit().event)
    const config = (tuning: Partial<RelayTuning>): RelayConfig => ({
      port: 0, bind: '127.0.0.1', dataDir, plcUrl: plc.url, hosts: [host.origin], adminPassword: null, dev: true,
      retentionMs: 3_600_000, dnsServers: [], tuning,
    })
    const first = await startChild(config({ ...FAST_TUNING, flushMs: FLUSH_NEVER_MS }))
    children.push(first.child)
    await host.waitForConnections(1)
    assert.equal(host.cursors[0], null, 'a new host is followed live')
    const seen = alice.commit().event
    const seenSeq = host.emit(seen)
    await pollUntil(async () => (await hostSeq(first.url, host.hostname)) === seenSeq, 'the relay applied the first commit', { timeoutMs: 10_000 })
    first.child.kill('SIGKILL')
    await new Promise((resolve) => first.child.once('exit', resolve))
    const missed = alice.commit().event
    host.emit(missed)

    const second = await startChild(config(FAST_TUNING))
    children.push(second.child)
    await pollUntil(() => host.cursors.length === 2, 'the restarted relay subscribing', { timeoutMs: 10_000 })
    assert.equal(host.cursors.at(-1), seenSeq - 1, `resubscribed from just before the first frame (cursors: ${host.cursors.join(', ')})`)
    const consumer = startConsumer(`${second.url.replace('http:', 'ws:')}/xrpc/com.atproto.sync.subscribeRepos`, 0)
    try {
      await consumer.waitFor(2, 15_000)
      const revs = consumer.events.map((e) => (e.event.t === '#commit' ? e.event.rev : e.event.t))
      assert.deepEqual(revs, [seen.rev, missed.rev], 'the commit seen before the kill and the one written while down, once each')
    } finally {
      consumer.close()
    }
  } finally {
    for (const child of children) child.kill('SIGKILL')
    await host.close()
    await plc.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
})
