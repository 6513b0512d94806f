import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createGenesisOp } from '../../did-resolver/plc/op-builder.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { startTestPlc } from '../helpers/plc.ts'
import { startDnsServer } from '../helpers/dns-server.ts'

const run = promisify(execFile)
const BIN = new URL('../../bin/atfed.js', import.meta.url).pathname

async function atfed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 20_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('atfed did resolve: DID and handle against our PLC and a loopback DNS server', async () => {
  const plc = await startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })
  const signing = generateKeypair('k256')
  const rotation = generateKeypair('p256')
  const genesis = createGenesisOp({
    signingKey: signing.publicKey.didKey,
    rotationKeys: [rotation.publicKey.didKey],
    handle: 'alice.test',
    pds: 'https://pds.example.com',
    signer: rotation,
  })
  await new PlcClient(plc.url).submitOp(genesis.did, genesis.op)
  const dns = await startDnsServer({ '_atproto.alice.test': { txt: [`did=${genesis.did}`] } })
  try {
    // `.test` handles resolve only with the dev flag (they are for local networks).
    const noDev = await atfed(['did', 'resolve', genesis.did, '--plc', plc.url, '--dns', dns.address])
    assert.equal(noDev.code, 0, noDev.stderr)
    assert.equal(JSON.parse(noDev.stdout).handle, 'handle.invalid')
    const byDid = await atfed(['did', 'resolve', genesis.did, '--plc', plc.url, '--dns', dns.address, '--allow-private'])
    assert.equal(byDid.code, 0, byDid.stderr)
    assert.deepEqual(JSON.parse(byDid.stdout), {
      did: genesis.did,
      handle: 'alice.test',
      handleVerified: true,
      signingKey: signing.publicKey.didKey,
      pds: 'https://pds.example.com',
    })
    const byHandle = await atfed(['did', 'resolve', 'Alice.Test', '--plc', plc.url, '--dns', dns.address, '--allow-private'])
    assert.equal(byHandle.code, 0, byHandle.stderr)
    assert.equal(JSON.parse(byHandle.stdout).did, genesis.did)

    // The handle now points elsewhere: the DID still resolves, the handle does not verify.
    dns.records.set('_atproto.alice.test', { txt: ['did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'] })
    const mismatch = await atfed(['did', 'resolve', genesis.did, '--plc', plc.url, '--dns', dns.address, '--allow-private'])
    assert.equal(mismatch.code, 0, mismatch.stderr)
    assert.equal(JSON.parse(mismatch.stdout).handle, 'handle.invalid')
    assert.equal(JSON.parse(mismatch.stdout).handleVerified, false)

    const missing = await atfed(['did', 'resolve', 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb', '--plc', plc.url])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^atfed: DidNotFound: /)
    assert.doesNotMatch(missing.stderr, /\n\s+at /)

    const bad = await atfed(['did', 'resolve', 'not a did', '--plc', plc.url])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^atfed: Invalid\w+: /)
  } finally {
    await dns.close()
    await plc.stop()
  }
})
