/**
 * `atfed relay` as a child process (flags and ATFED_RELAY_* env), and
 * `atfed admin hosts list|ban|unban|limits` against it; SIGTERM shuts it
 * down cleanly.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { startFakePdsHost } from '../helpers/fake-pds-host.ts'
import { startTestPlc, tempDir } from '../helpers/plc.ts'
import { createRelayTestAccount } from '../helpers/relay-accounts.ts'
import { startConsumer } from './relay-harness.ts'

const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

async function atfed(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('atfed relay + atfed admin hosts', { timeout: 60_000 }, async () => {
  const plc = await startTestPlc()
  const host = await startFakePdsHost()
  const dir = tempDir('atfed-relay-cli-')
  const child = spawn(process.execPath, [ATFED, 'relay', '--port', '0', '--plc', plc.url, '--host', host.origin, '--dev'], {
    env: { ...process.env, ATFED_RELAY_DATA: dir.path, ATFED_RELAY_ADMIN_PASSWORD: 'cli-pw' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
    let url = ''
    for (let i = 0; i < 200 && url === ''; i++) {
      url = /relay listening on (\S+)/.exec(out)?.[1] ?? ''
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.notEqual(url, '', 'the relay printed its URL')
    await host.waitForConnections(1)
    const alice = await createRelayTestAccount(plc.url, host, 'alice.test')
    host.emit(alice.commit().event)
    const consumer = startConsumer(`${url.replace('http:', 'ws:')}/xrpc/com.atproto.sync.subscribeRepos`, 0)
    await consumer.waitFor(1)
    consumer.close()

    const conn = ['--relay', url, '--password', 'cli-pw']
    const list = await atfed(['admin', 'hosts', 'list', ...conn])
    assert.equal(list.code, 0, list.stderr)
    const hosts = list.stdout.trim().split('\n').map((line) => JSON.parse(line))
    assert.equal(hosts.length, 1)
    assert.equal(hosts[0].hostname, host.hostname)
    assert.equal(hosts[0].accepted, 1)

    const limits = await atfed(['admin', 'hosts', 'limits', host.hostname, '--events-per-second', '7', ...conn])
    assert.equal(limits.code, 0, limits.stderr)
    assert.equal(JSON.parse(limits.stdout).limits.eventsPerSecond, 7)
    const ban = await atfed(['admin', 'hosts', 'ban', host.hostname, ...conn])
    assert.equal(ban.code, 0, ban.stderr)
    const banned = await atfed(['admin', 'hosts', 'list', ...conn])
    assert.equal(JSON.parse(banned.stdout.trim()).status, 'banned')
    const unban = await atfed(['admin', 'hosts', 'unban', host.hostname], { ATFED_RELAY_URL: url, ATFED_RELAY_ADMIN_PASSWORD: 'cli-pw' })
    assert.equal(unban.code, 0, unban.stderr)
    const wrong = await atfed(['admin', 'hosts', 'list', '--relay', url, '--password', 'nope'])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /AuthenticationRequired/)
    const badLimit = await atfed(['admin', 'hosts', 'limits', host.hostname, '--events-per-second', 'lots', ...conn])
    assert.equal(badLimit.code, 1)
    assert.match(badLimit.stderr, /InvalidArgument/)

    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
  } finally {
    child.kill('SIGKILL')
    await host.close()
    await plc.stop()
    dir.remove()
  }
})

test('atfed relay without a data dir is a clear usage error', async () => {
  const out = await atfed(['relay', '--port', '0'], { ATFED_RELAY_DATA: '' })
  assert.equal(out.code, 1)
  assert.match(out.stderr, /InvalidArgument: a data directory is required/)
})
