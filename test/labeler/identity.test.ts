/**
 * Labeler identity: configuration from flags and environment (refusals by
 * name), key files (0600, refused when readable by others), the did:web
 * document as our resolver reads it, a did:plc data directory refusing to
 * start as did:web, and a genesis op that survives a crash before submit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseAtprotoIdentity } from '../../did-resolver/did-document.ts'
import { loadLabelerConfig } from '../../feedgen/labeler/config.ts'
import { ensurePlcIdentity } from '../../feedgen/labeler/identity.ts'
import { loadKeyFile, SIGNING_KEY_FILE } from '../../feedgen/labeler/keys.ts'
import { startLabeler } from '../../feedgen/labeler/server.ts'
import { startLabelerHarness } from '../helpers/labeler-harness.ts'
import { startTestPlc, tempDir } from '../helpers/plc.ts'

test('configuration: flags win over ATFED_LABELER_*, identity follows --plc, bad values are InvalidConfig', () => {
  const env = { ATFED_LABELER_DATA: '/tmp/x', ATFED_LABELER_HOSTNAME: 'labeler.example.com', ATFED_LABELER_PORT: '4000', ATFED_LABELER_VERIFY: 'false' }
  const fromEnv = loadLabelerConfig({}, env)
  assert.deepEqual([fromEnv.port, fromEnv.identity, fromEnv.hostname, fromEnv.verify, fromEnv.plcUrl], [4000, 'web', 'labeler.example.com', false, 'https://plc.directory'])
  const plc = loadLabelerConfig({ port: '5000', plc: 'http://127.0.0.1:2582/', dev: true }, env)
  assert.deepEqual([plc.port, plc.identity, plc.plcUrl], [5000, 'plc', 'http://127.0.0.1:2582'])
  assert.equal(loadLabelerConfig({ data: '/d', plc: 'http://127.0.0.1:1', dev: true }, {}).hostname, null)
  const bad: Array<[Parameters<typeof loadLabelerConfig>[0], string]> = [
    [{ hostname: 'l.example.com' }, '--data'],
    [{ data: '/d' }, '--hostname'],
    [{ data: '/d', plc: 'http://127.0.0.1:1' }, '--hostname'],
    [{ data: '/d', hostname: 'localhost:2586' }, '--hostname'],
    [{ data: '/d', hostname: 'not a host' }, '--hostname'],
    [{ data: '/d', hostname: 'l.example.com', port: '70000' }, '--port'],
    [{ data: '/d', hostname: 'l.example.com', relay: 'ftp://x' }, '--relay'],
    [{ data: '/d', hostname: 'l.example.com', identity: 'key' }, '--identity'],
  ]
  for (const [flags, flag] of bad) assert.throws(() => loadLabelerConfig(flags, {}), (err: Error) => err.name === 'InvalidConfig' && err.message.startsWith(flag))
})

test('key files: created 0600, stable across loads, refused when readable by others', () => {
  const dir = tempDir('atfed-labeler-keys-')
  try {
    const key = loadKeyFile(dir.path, SIGNING_KEY_FILE)
    assert.equal(statSync(join(dir.path, SIGNING_KEY_FILE)).mode & 0o777, 0o600)
    assert.equal(loadKeyFile(dir.path, SIGNING_KEY_FILE).publicKey.didKey, key.publicKey.didKey)
    chmodSync(join(dir.path, SIGNING_KEY_FILE), 0o644)
    assert.throws(() => loadKeyFile(dir.path, SIGNING_KEY_FILE), { name: 'InvalidConfig' })
  } finally {
    dir.remove()
  }
})

test('did:web: the well-known document names the label key and endpoint; a did:plc directory will not start as did:web', async () => {
  const h = await startLabelerHarness({ flags: { identity: 'web', hostname: 'localhost:7777' } })
  try {
    assert.equal(h.labeler.did, 'did:web:localhost%3A7777')
    const doc = await (await fetch(`${h.labeler.url}/.well-known/did.json`)).json()
    const identity = parseAtprotoIdentity(h.labeler.did, doc)
    assert.equal(identity.labeler.key?.didKey, h.labeler.signingKey.publicKey.didKey)
    assert.equal(identity.labeler.endpoint, 'http://localhost:7777')
    const health = await (await fetch(`${h.labeler.url}/xrpc/_health`)).json()
    assert.equal((health as { did: string }).did, h.labeler.did)

    const plcDir = tempDir('atfed-labeler-plc-')
    try {
      const first = await ensurePlcIdentity({ dataDir: plcDir.path, plcUrl: h.plc.url, endpoint: 'https://l.example.com', signingKey: generateKeypair('k256') })
      assert.deepEqual([first.created, first.updated], [true, false])
      const config = loadLabelerConfig({ data: plcDir.path, identity: 'web', hostname: 'localhost:7778', port: '0', dev: true }, {})
      await assert.rejects(startLabeler(config, { onError: () => {} }), { name: 'InvalidConfig' })
    } finally {
      plcDir.remove()
    }
  } finally {
    await h.close()
  }
})

test('a genesis op written but never submitted (crash) is resubmitted, not replaced by a second DID', async () => {
  const plc = await startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })
  const dir = tempDir('atfed-labeler-crash-')
  try {
    const signingKey = generateKeypair('k256')
    const dead = await startTestPlc() // a directory that goes away before the submit
    await dead.stop()
    await assert.rejects(ensurePlcIdentity({ dataDir: dir.path, plcUrl: dead.url, endpoint: 'https://l.example.com', signingKey }))
    const again = await ensurePlcIdentity({ dataDir: dir.path, plcUrl: plc.url, endpoint: 'https://l.example.com', signingKey })
    assert.equal(again.created, true)
    const stable = await ensurePlcIdentity({ dataDir: dir.path, plcUrl: plc.url, endpoint: 'https://l.example.com', signingKey })
    assert.deepEqual(stable, { did: again.did as Did, created: false, updated: false })
  } finally {
    dir.remove()
    await plc.stop()
  }
})

