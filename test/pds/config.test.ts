/**
 * PDS configuration (flags over env over defaults, `InvalidConfig` for bad
 * values, public URL and service DID), the server's secrets on disk (0600,
 * stable across restarts), a restart keeping accounts, repos and seqs, and
 * `atfed pds` as a child process stopping cleanly on SIGTERM.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { publicUrlFor, readPdsConfig, serviceDidFor } from '../../pds/config.ts'
import { JWT_SECRET_FILE, ROTATION_KEY_FILE, ensureDataDir, loadJwtSecret, loadRotationKey } from '../../pds/secrets.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

describe('PDS config', () => {
  it('has the documented defaults', () => {
    const config = readPdsConfig({ data: '/tmp/x' }, {})
    assert.equal(config.port, 2583)
    assert.equal(config.hostname, 'localhost')
    assert.deepEqual(config.handleDomains, ['.test'])
    assert.equal(config.plcUrl, 'https://plc.directory')
    assert.equal(config.inviteRequired, false)
    assert.equal(config.rateLimitsEnabled, true)
    assert.equal(config.adminPassword, null)
    assert.equal(publicUrlFor(config, 4000), 'http://localhost:4000')
    assert.equal(serviceDidFor(config, 4000), 'did:web:localhost%3A4000')
  })

  it('reads env, lets flags win, derives URL, DID and handle domain from the hostname', () => {
    const env = {
      ATFED_PDS_DATA: '/data',
      ATFED_PDS_PORT: '3000',
      ATFED_PDS_HOSTNAME: 'PDS.Example.com',
      ATFED_PDS_CRAWLERS: 'https://relay.one, https://relay.two',
      ATFED_PDS_INVITE_REQUIRED: 'true',
      ATFED_PDS_ADMIN_PASSWORD: 'env-admin',
      ATFED_PDS_BACKFILL_WINDOW_MS: '60000',
      ATFED_PDS_RATE_LIMITS: 'false',
    }
    const config = readPdsConfig({ port: '3100', adminPassword: 'flag-admin' }, env)
    assert.equal(config.port, 3100)
    assert.equal(config.dataDir, '/data')
    assert.equal(config.hostname, 'pds.example.com')
    assert.deepEqual(config.handleDomains, ['.pds.example.com'])
    assert.deepEqual(config.crawlers, ['https://relay.one', 'https://relay.two'])
    assert.equal(config.inviteRequired, true)
    assert.equal(config.adminPassword, 'flag-admin')
    assert.equal(config.backfillWindowMs, 60_000)
    assert.equal(config.rateLimitsEnabled, false)
    assert.equal(publicUrlFor(config, 3100), 'https://pds.example.com')
    assert.equal(serviceDidFor(config, 3100), 'did:web:pds.example.com')
    const overridden = readPdsConfig({ data: '/d', publicUrl: 'http://127.0.0.1:9/', handleDomain: ['.A.example'] }, {})
    assert.equal(publicUrlFor(overridden, 1), 'http://127.0.0.1:9')
    assert.deepEqual(overridden.handleDomains, ['.a.example'])
  })

  it('refuses bad values with InvalidConfig', () => {
    const bad: Array<[Parameters<typeof readPdsConfig>[0], Record<string, string>]> = [
      [{}, {}],
      [{ data: '/d', port: '70000' }, {}],
      [{ data: '/d', port: 'x' }, {}],
      [{ data: '/d', hostname: 'not a host' }, {}],
      [{ data: '/d', handleDomain: ['test'] }, {}],
      [{ data: '/d', publicUrl: 'https://x.example/path' }, {}],
      [{ data: '/d', plc: 'ftp://plc.example' }, {}],
      [{ data: '/d' }, { ATFED_PDS_INVITE_REQUIRED: 'maybe' }],
      [{ data: '/d' }, { ATFED_PDS_BLOB_UPLOAD_LIMIT: '-5' }],
    ]
    for (const [flags, env] of bad) assert.throws(() => readPdsConfig(flags, env), { name: 'InvalidConfig' }, JSON.stringify([flags, env]))
  })
})

describe('PDS secrets', () => {
  let dir: string
  before(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'atfed-pds-secrets-')), 'data')
    ensureDataDir(dir)
  })
  after(() => rmSync(join(dir, '..'), { recursive: true, force: true }))

  it('creates the rotation key and JWT secret once, mode 0600, in a 0700 directory', () => {
    const key = loadRotationKey(dir)
    assert.equal(loadRotationKey(dir).publicKey.didKey, key.publicKey.didKey)
    const secret = loadJwtSecret(dir, null)
    assert.equal(loadJwtSecret(dir, null), secret)
    assert.equal(loadJwtSecret(dir, 'configured-secret'), 'configured-secret')
    assert.equal(statSync(join(dir, ROTATION_KEY_FILE)).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, JWT_SECRET_FILE)).mode & 0o777, 0o600)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
  })

  it('refuses a corrupt key file instead of replacing it', () => {
    const other = join(dir, '..', 'corrupt')
    ensureDataDir(other)
    writeFileSync(join(other, ROTATION_KEY_FILE), 'zz\n')
    assert.throws(() => loadRotationKey(other), { name: 'InvalidConfig' })
  })
})

describe('PDS restart and CLI', () => {
  let plc: TestPlc
  before(async () => {
    plc = await startPlcForPds()
  })
  after(async () => {
    await plc.stop()
  })

  it('keeps accounts, repos, sessions and seqs across a restart', async () => {
    let pds = await startTestPds({ plc })
    try {
      const alice = await createTestAccount(pds.publicUrl, 'alice.test')
      const made = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', {
        token: alice.accessJwt,
        body: { repo: alice.did, collection: 'com.example.note', rkey: 'one', record: { text: 'kept' } },
      })
      assert.equal(made.status, 200)
      const seqBefore = pds.ctx.events.lastSeq()
      const keyBefore = pds.ctx.rotationKey.publicKey.didKey
      pds = await pds.restart()
      assert.equal(pds.ctx.rotationKey.publicKey.didKey, keyBefore)
      assert.equal(pds.ctx.events.lastSeq(), seqBefore)
      const rec = await xrpc(pds.publicUrl, 'com.atproto.repo.getRecord', { params: { repo: alice.did, collection: 'com.example.note', rkey: 'one' } })
      assert.equal(rec.body.value.text, 'kept')
      // Same port, same service DID: the session from before the restart still works.
      const del = await xrpc(pds.publicUrl, 'com.atproto.repo.deleteRecord', { token: alice.accessJwt, body: { repo: alice.did, collection: 'com.example.note', rkey: 'one' } })
      assert.equal(del.status, 200)
      const refreshed = await xrpc(pds.publicUrl, 'com.atproto.server.refreshSession', { token: alice.refreshJwt, method: 'POST' })
      assert.equal(refreshed.status, 200)
      assert.equal(pds.ctx.events.lastSeq(), seqBefore + 1)
    } finally {
      await pds.stop()
    }
  })

  it('runs `atfed pds` and stops cleanly on SIGTERM', async () => {
    const data = mkdtempSync(join(tmpdir(), 'atfed-pds-cli-'))
    const child = spawn(process.execPath, ['bin/atfed.js', 'pds', '--port', '0', '--data', data, '--plc', plc.url, '--dev'], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let out = ''
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 20_000)
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const match = /listening on (http:\/\/[^ ]+)/.exec(out)
          if (match) {
            clearTimeout(timer)
            resolve(match[1] as string)
          }
        })
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)))
      })
      const health = await xrpc(url, '_health')
      assert.equal(health.status, 200)
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      assert.equal(await exited, 0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      rmSync(data, { recursive: true, force: true })
    }
  })
})
