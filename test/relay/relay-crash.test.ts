/**
 * kill -9 of a relay process in the middle of ingest: after a restart on the
 * same data dir every host resumes from its persisted cursor, and the
 * firehose holds every commit exactly once (by (did, rev)), with
 * contiguous seqs, each one valid.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { RelayConfig } from '../../relay/config.ts'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import { startTestPlc } from '../helpers/plc.ts'
import { createRelayTestAccount } from '../helpers/relay-accounts.ts'
import type { RelayTestAccount } from '../helpers/relay-accounts.ts'
import { uniqueCommits, verifyAllOurs } from './firehose-check.ts'
import { FAST_TUNING, startConsumer, waitUntil } from './relay-harness.ts'

const CHILD = new URL('./relay-child.ts', import.meta.url).pathname
const TOTAL = 300

function startChild(config: RelayConfig): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /READY (\S+)/.exec(out)
      if (match !== null) resolve({ child, url: match[1]! })
    })
    child.once('exit', (code) => reject(new Error(`relay child exited early (${code})`)))
  })
}

async function hostSeq(url: string, hostname: string): Promise<number> {
  const res = await fetch(`${url}/xrpc/com.atproto.sync.getHostStatus?hostname=${hostname}`)
  const body = (await res.json()) as { seq?: number }
  return body.seq ?? 0
}

test('kill -9 during ingest: hosts resume from their cursors, nothing lost, nothing twice', async () => {
  const plc = await startTestPlc()
  const host = await startFakePdsHost()
  const dataDir = mkdtempSync(join(tmpdir(), 'atfed-relay-crash-'))
  let child: ChildProcess | null = null
  try {
    const accounts: RelayTestAccount[] = []
    for (let i = 0; i < 5; i++) accounts.push(await createRelayTestAccount(plc.url, host, `crash${i}.test`))
    const config: RelayConfig = {
      port: 0, bind: '127.0.0.1', dataDir, plcUrl: plc.url, hosts: [host.origin], adminPassword: null, dev: true,
      retentionMs: 3_600_000, dnsServers: [], tuning: FAST_TUNING,
    }
    let relay = await startChild(config)
    child = relay.child
    await host.waitForConnections(1)
    // Write all commits; the relay is killed while it is still working through them.
    const events = Array.from({ length: TOTAL }, (_, i) => accounts[i % accounts.length]!.commit().event)
    let emitted = 0
    const pump = setInterval(() => {
      for (let i = 0; i < 2 && emitted < TOTAL; i++) host.emit(events[emitted++]!)
    }, 5)
    let seqAtKill = 0
    for (;;) {
      seqAtKill = await hostSeq(relay.url, host.hostname)
      if (seqAtKill >= TOTAL / 3) break
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    child.kill('SIGKILL')
    await new Promise((resolve) => child!.once('exit', resolve))
    await waitUntil(() => emitted === TOTAL, 'every commit emitted')
    clearInterval(pump)
    assert.ok(seqAtKill < TOTAL, `the relay was killed mid-ingest (host seq ${seqAtKill} of ${TOTAL})`)

    relay = await startChild(config)
    child = relay.child
    for (;;) {
      if ((await hostSeq(relay.url, host.hostname)) === TOTAL) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const resumedFrom = host.cursors[host.cursors.length - 1]
    assert.ok(resumedFrom !== null && resumedFrom !== undefined && resumedFrom > 0 && resumedFrom < TOTAL, `resumed from a persisted cursor mid-stream (${host.cursors.join(', ')})`)
    const consumer = startConsumer(relay.url.replace('http:', 'ws:') + '/xrpc/com.atproto.sync.subscribeRepos', 0)
    await consumer.waitFor(TOTAL, 20_000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    consumer.close()
    const seqs = consumer.events.map((e) => e.seq)
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i), 'contiguous seqs')
    const commits = uniqueCommits(consumer.events)
    assert.equal(commits.size, TOTAL)
    for (const e of events) assert.ok(commits.has(`${e.repo} ${e.rev}`), `commit ${e.rev} is on the firehose`)
    const keyOf = (did: string): string => accounts.find((a) => a.did === did)!.keypair.publicKey.didKey
    assert.equal(verifyAllOurs(consumer.events, keyOf), TOTAL)
  } finally {
    child?.kill('SIGKILL')
    await host.close()
    await plc.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
})
