/**
 * Adversarial cases §4.5 (identity), over HTTP to a PDS: hostile handles
 * at `createAccount` and `resolveHandle` are refused by name, create no
 * account, and the PDS keeps answering; a valid mixed-case handle is stored
 * lower-cased. The resolver cases (bidirectional mismatch, TXT records,
 * .well-known SSRF and size/time caps, did:web shapes, broken documents,
 * audit logs) run against the real resolver with loopback DNS and HTTP
 * servers in test/did-resolver/*.test.ts and test/plc/vectors.test.ts; the
 * BEHAVIORS.md table names each.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

describe('adversarial §4.5: identity (handles at the PDS over HTTP)', { timeout: 60_000 }, () => {
  let plc: TestPlc
  let pds: TestPds
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  const repoCount = async () => (await xrpc(pds.publicUrl, 'com.atproto.sync.listRepos', { params: { limit: '1000' } })).body.repos.length

  it('4.5.1 handle edge cases: refused by name at createAccount and resolveHandle; mixed case is lower-cased', { timeout: 30_000 }, async () => {
    const bad = [
      'trailing-dot.test.',
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.test`, // 254 characters
      `${'a'.repeat(64)}.test`, // a 64-character label
      'name.local',
      'name.internal',
      'name.onion',
      'name.arpa',
      'bluеsky.test', // Cyrillic е
      'zero\u200bwidth.test',
      '-leading.test',
      'trailing-.test',
      'numeric.123',
    ]
    assert.equal(bad[1]!.length, 254)
    const before = await repoCount()
    for (const handle of bad) {
      const created = await xrpc(pds.publicUrl, 'com.atproto.server.createAccount', { body: { handle, password: 'hunter2-password' } })
      assert.equal(created.status, 400, `${handle}: ${JSON.stringify(created.body)}`)
      assert.ok(['InvalidHandle', 'UnsupportedDomain', 'InvalidRequest'].includes(created.body.error), `${handle}: ${JSON.stringify(created.body)}`)
      const resolved = await xrpc(pds.publicUrl, 'com.atproto.identity.resolveHandle', { params: { handle } })
      assert.equal(resolved.status, 400, `${handle}: ${JSON.stringify(resolved.body)}`)
      assert.ok(['InvalidRequest', 'InvalidHandle', 'HandleNotFound'].includes(resolved.body.error), JSON.stringify(resolved.body))
    }
    assert.equal(await repoCount(), before, 'no account created')
    // Valid forms: punycode labels pass; mixed case is stored and resolved lower-cased.
    for (const [handle, stored] of [['xn--bcher-kva.test', 'xn--bcher-kva.test'], ['MiXeD-Case.test', 'mixed-case.test']] as const) {
      const created = await xrpc(pds.publicUrl, 'com.atproto.server.createAccount', { body: { handle, password: 'hunter2-password' } })
      assert.equal(created.status, 200, JSON.stringify(created.body))
      assert.equal(created.body.handle, stored)
      const resolved = await xrpc(pds.publicUrl, 'com.atproto.identity.resolveHandle', { params: { handle } })
      assert.equal(resolved.body.did, created.body.did)
    }
  })
})
