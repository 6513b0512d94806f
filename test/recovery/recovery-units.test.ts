/**
 * The recovery tools' parts, without servers where possible: the key file
 * (0600, never overwritten, errors that never echo the key), the backup
 * manifest parser (negative space by name, no path tricks), atomic writes
 * and the temp sweep, the bounded progress line, and the PLC side — which
 * rotation keys `show` marks as the PDS's, and the recovery op against our
 * PLC directory: a plain update, a fork that nullifies a hostile PDS's op
 * within 72 h, and `RecoveryKeyNotAuthorized` after it or for a key the DID
 * never listed.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { exportPrivateMultikey, generateKeypair } from '../../core/crypto/keypair.ts'
import { PLC_RECOVERY_WINDOW_MS } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { createGenesisOp, createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import { parseManifest, prepareBackupDir, writeFileAtomic } from '../../cli/recovery/backup-dir.ts'
import { readRecoveryKeyFile, writeRecoveryKeyFile } from '../../cli/recovery/key-file.ts'
import { ProgressLine } from '../../cli/recovery/progress.ts'
import { buildRecoveryOp } from '../../cli/recovery/recover-plc.ts'
import { inferPdsKeys, viewRotationKeys } from '../../cli/recovery/recovery-key-show.ts'
import { withUserKeyFirst } from '../../cli/recovery/recovery-key.ts'
import { makeRng } from '../helpers/prng.ts'
import { seededKeypair, startTestPlc, type TestPlc } from '../helpers/plc.ts'

const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did

describe('recovery-key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-keyfile-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('is created 0600, reads back the same key, and is never overwritten', () => {
    const key = generateKeypair('k256')
    const path = join(dir, 'a.recovery-key')
    writeRecoveryKeyFile(path, key, { did: DID })
    assert.equal(statSync(path).mode & 0o777, 0o600)
    const loaded = readRecoveryKeyFile(path)
    assert.equal(loaded.keypair.publicKey.didKey, key.publicKey.didKey)
    assert.equal(loaded.looseMode, false)
    assert.throws(() => writeRecoveryKeyFile(path, generateKeypair('k256'), { did: DID }), { name: 'KeyFileExists' })
    assert.equal(readRecoveryKeyFile(path).keypair.publicKey.didKey, key.publicKey.didKey)
    chmodSync(path, 0o644)
    assert.equal(readRecoveryKeyFile(path).looseMode, true)
  })

  it('refuses bad files by name without quoting them', () => {
    const secret = exportPrivateMultikey(generateKeypair('k256'))
    const cases: Array<[string, string]> = [
      [`${secret}\n${secret}\n`, 'InvalidKeyFile'],
      [`# only a comment\n`, 'InvalidKeyFile'],
      [`${secret.slice(0, -3)}0OI\n`, 'InvalidKeyFile'],
      ['z'.repeat(5000), 'InvalidKeyFile'],
    ]
    cases.forEach(([text, name], i) => {
      const path = join(dir, `bad-${i}`)
      writeFileSync(path, text)
      assert.throws(() => readRecoveryKeyFile(path), (err: Error) => err.name === name && !err.message.includes(secret.slice(5, 25)))
    })
    assert.throws(() => readRecoveryKeyFile(join(dir, 'missing')), { name: 'KeyFileNotFound' })
  })
})

describe('backup directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-backupdir-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const good = {
    version: 1,
    did: DID,
    rev: '3lbbbbbbbbb22',
    commit: 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5nguhvlhfzfr5ie',
    repoFile: 'repo-3lbbbbbbbbb22.car',
    records: 2,
    blobs: [{ cid: 'bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy', size: 3, mimeType: 'image/png' }],
    time: '2025-01-01T00:00:00.000Z',
    source: 'http://localhost:1',
  }

  it('parses a manifest and refuses broken ones by name (no path in a CID, repo file named by rev)', () => {
    assert.equal(parseManifest(JSON.stringify(good)).records, 2)
    const broken = [
      'not json',
      JSON.stringify({ ...good, version: 2 }),
      JSON.stringify({ ...good, did: 'alice' }),
      JSON.stringify({ ...good, rev: 'nope' }),
      JSON.stringify({ ...good, repoFile: '../../etc/passwd' }),
      JSON.stringify({ ...good, blobs: [{ ...good.blobs[0], cid: '../../x' }] }),
      JSON.stringify({ ...good, blobs: [{ ...good.blobs[0], size: -1 }] }),
      JSON.stringify({ ...good, records: 'two' }),
    ]
    for (const text of broken) assert.throws(() => parseManifest(text), { name: 'InvalidManifest' }, text)
  })

  it('writes atomically and sweeps temp files a crash left', () => {
    prepareBackupDir(dir)
    writeFileAtomic(dir, 'x.bin', new Uint8Array([1, 2, 3]))
    assert.deepEqual([...readFileSync(join(dir, 'x.bin'))], [1, 2, 3])
    writeFileSync(join(dir, '.repo-1.car.tmp-abc'), 'half')
    writeFileSync(join(dir, 'blobs', '.bafkrei.tmp-def'), 'half')
    prepareBackupDir(dir)
    assert.deepEqual(readdirSync(dir).sort(), ['blobs', 'x.bin'])
    assert.deepEqual(readdirSync(join(dir, 'blobs')), [])
  })
})

describe('progress line', () => {
  it('writes a bounded number of lines when stderr is not a terminal', () => {
    const lines: string[] = []
    const bar = new ProgressLine({ label: 'blobs', total: 1000, sink: { write: (t: string) => lines.push(t) } })
    for (let i = 0; i < 1000; i++) bar.add(1, 10)
    bar.finish()
    assert.ok(lines.length <= 10, `${lines.length} lines`)
    assert.match(lines[lines.length - 1]!, /^blobs \[#{20}\] 1000\/1000 9\.8 KiB\n$/)
  })

  it('draws a cli-progress bar in place on a terminal, ending on the final count', () => {
    let out = ''
    const bar = new ProgressLine({ label: 'x', total: 100, sink: { write: (t: string) => (out += t), isTTY: true } })
    for (let i = 0; i < 100; i++) bar.add(1, 1024)
    bar.finish()
    assert.match(out, /x \[#{20}\] 100\/100 100\.0 KiB/)
    assert.ok(!out.includes('\n\n'), 'no line per update')
  })
})

describe('rotation keys on PLC', () => {
  let plc: TestPlc
  const rng = makeRng(8)
  const user = seededKeypair(rng, 'k256')
  const pdsA = seededKeypair(rng, 'k256')
  const pdsB = seededKeypair(rng, 'k256')
  const signing = seededKeypair(rng, 'k256')
  const newSigning = seededKeypair(rng, 'k256')
  let client: PlcClient

  before(async () => {
    plc = await startTestPlc()
    client = new PlcClient(plc.url)
  })
  after(() => plc.stop())

  async function genesis(handle: string, rotationKeys: string[]) {
    const op = createGenesisOp({ signingKey: signing.publicKey.didKey, rotationKeys, handle, pds: 'http://a.test', signer: pdsA })
    await client.submitOp(op.did, op.op)
    return op
  }
  const target = { pds: 'http://b.test', signingKey: newSigning.publicKey.didKey, pdsRotationKeys: [pdsB.publicKey.didKey], handle: 'back.test' }

  it('withUserKeyFirst keeps the others in order and caps the list', () => {
    assert.deepEqual(withUserKeyFirst('k0', ['k1', 'k0', 'k2']), ['k0', 'k1', 'k2'])
    assert.throws(() => withUserKeyFirst('k0', ['k1', 'k2', 'k3', 'k4', 'k5']), { name: 'TooManyRotationKeys' })
  })

  it('show marks the genesis signer as the PDS, then the key a move added', async () => {
    const g = await genesis('show.test', [user.publicKey.didKey, pdsA.publicKey.didKey])
    assert.deepEqual([...inferPdsKeys([g.op], user.publicKey.didKey)], [pdsA.publicKey.didKey])
    const moved = createUpdateOp(g.op, { signer: user, pds: 'http://b.test', rotationKeys: [user.publicKey.didKey, pdsB.publicKey.didKey] })
    const view = viewRotationKeys(g.did, [g.op, moved.op], user.publicKey.didKey)
    assert.deepEqual(view.rotationKeys.map((r) => r.holder), ['you', 'pds'])
    assert.equal(view.rotationKeys[1]?.key, pdsB.publicKey.didKey)
    assert.deepEqual(viewRotationKeys(g.did, [g.op], null).rotationKeys.map((r) => r.holder), ['other', 'pds'])
  })

  it('a plain update when the user key is current: the PLC accepts it, the old PDS key is dropped', async () => {
    const g = await genesis('plain.test', [user.publicKey.didKey, pdsA.publicKey.didKey])
    const built = buildRecoveryOp(g.did, await client.getAuditLog(g.did), { userKey: user, target, nowMs: plc.clock.now() })
    assert.deepEqual([built.prev, built.nullified, built.droppedKeys], [g.cid.toString(), [], [pdsA.publicKey.didKey]])
    await client.submitOp(g.did, built.op)
    const data = await client.getDocumentData(g.did)
    assert.deepEqual(data.rotationKeys, [user.publicKey.didKey, pdsB.publicKey.didKey])
    assert.deepEqual([data.services['atproto_pds']?.endpoint, data.verificationMethods['atproto'], data.alsoKnownAs[0]], ['http://b.test', newSigning.publicKey.didKey, 'at://back.test'])
  })

  it('forks past a hostile PDS op that removed the user key, within 72 h; refuses after', async () => {
    const g = await genesis('fork.test', [user.publicKey.didKey, pdsA.publicKey.didKey])
    const hostile = createUpdateOp(g.op, { signer: pdsA, rotationKeys: [pdsA.publicKey.didKey] })
    await client.submitOp(g.did, hostile.op)
    plc.clock.advance(PLC_RECOVERY_WINDOW_MS + 1000)
    const late = await client.getAuditLog(g.did)
    assert.throws(() => buildRecoveryOp(g.did, late, { userKey: user, target, nowMs: plc.clock.now() }), (err: Error) => err.name === 'RecoveryKeyNotAuthorized' && /LateRecovery/.test(err.message))
    const g2 = await genesis('fork2.test', [user.publicKey.didKey, pdsA.publicKey.didKey])
    const hostile2 = createUpdateOp(g2.op, { signer: pdsA, rotationKeys: [pdsA.publicKey.didKey] })
    await client.submitOp(g2.did, hostile2.op)
    plc.clock.advance(60 * 60 * 1000)
    const built = buildRecoveryOp(g2.did, await client.getAuditLog(g2.did), { userKey: user, target, nowMs: plc.clock.now() })
    assert.deepEqual([built.prev, built.nullified], [g2.cid.toString(), [hostile2.cid.toString()]])
    await client.submitOp(g2.did, built.op)
    assert.equal((await client.getDocumentData(g2.did)).rotationKeys[0], user.publicKey.didKey)
    const audit = await client.getAuditLog(g2.did)
    assert.deepEqual(audit.map((e) => e.nullified), [false, true, false])
  })

  it('a key the DID never listed is not authorized', async () => {
    const g = await genesis('stranger.test', [pdsA.publicKey.didKey])
    assert.throws(() => buildRecoveryOp(g.did, [], { userKey: user, target, nowMs: plc.clock.now() }), { name: 'DidNotFound' })
    const audit = await client.getAuditLog(g.did)
    assert.throws(() => buildRecoveryOp(g.did, audit, { userKey: user, target, nowMs: plc.clock.now() }), { name: 'RecoveryKeyNotAuthorized' })
  })
})
