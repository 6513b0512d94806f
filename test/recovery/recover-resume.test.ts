/**
 * `recover` is resumable and refuses early (PDSes in process; A is stopped
 * before any recovery, so nothing can come from it).
 *
 * - A recovery that stops at the PLC step (the crash is injected through the
 *   step log) leaves a deactivated account with the repo and blobs on B;
 *   the re-run skips the import (state file) and finishes.
 * - A crash AFTER the PLC update with the state file LOST: the re-run logs
 *   in, sees the identity already moved (so no re-import, which B would now
 *   refuse), submits no second PLC op, and activates.
 * - A state file for another target is refused before anything is created
 *   there; a key the DID never listed is refused at step 1, nothing created.
 */
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackup } from '../../cli/recovery/backup.ts'
import { requireManifest } from '../../cli/recovery/backup-dir.ts'
import { writeRecoveryKeyFile } from '../../cli/recovery/key-file.ts'
import { recoverAccount, type RecoverOptions } from '../../cli/recovery/recover.ts'
import { buildRecoveryOp } from '../../cli/recovery/recover-plc.ts'
import { importRepo, openAccount, uploadMissingBlobs } from '../../cli/recovery/recover-remote.ts'
import { generateKeypair, type Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { XrpcClient } from '../../core/xrpc/client.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { makePng } from '../helpers/png.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const PASSWORD = 'resume-password'

type Person = { did: Did; key: Keypair; keyFile: string; backup: string }

describe('recover: resume and early refusals', () => {
  let plc: TestPlc
  let plcClient: PlcClient
  let a: TestPds
  let b: TestPds
  let work: string
  const people: { [name: string]: Person } = {}

  async function person(name: string): Promise<Person> {
    const key = generateKeypair('k256')
    const created = await xrpc(a.publicUrl, 'com.atproto.server.createAccount', {
      body: { handle: `${name}.test`, password: PASSWORD, recoveryKey: key.publicKey.didKey },
    })
    const token = created.body.accessJwt
    const up = await fetch(`${a.publicUrl}/xrpc/com.atproto.repo.uploadBlob`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
      body: makePng({ seed: name.length }),
    })
    const image = ((await up.json()) as { blob: unknown }).blob
    for (const text of ['one', 'two']) {
      const record = { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images', images: [{ image, alt: '' }] } }
      await xrpc(a.publicUrl, 'com.atproto.repo.createRecord', { token, body: { repo: created.body.did, collection: 'app.bsky.feed.post', record } })
    }
    const keyFile = join(work, `${name}.recovery-key`)
    writeRecoveryKeyFile(keyFile, key, { did: created.body.did })
    const backup = join(work, `${name}-backup`)
    await runBackup({ did: created.body.did, out: backup, plc: plc.url, log: () => {}, progress: { write: () => true } })
    return { did: created.body.did, key, keyFile, backup }
  }

  function options(p: Person, extra: Partial<RecoverOptions> = {}): RecoverOptions {
    return { backup: p.backup, recoveryKey: p.keyFile, to: b.publicUrl, password: PASSWORD, plc: plc.url, log: () => {}, progress: { write: () => true }, ...extra }
  }

  before(async () => {
    plc = await startPlcForPds()
    plcClient = new PlcClient(plc.url)
    a = await startTestPds({ plc })
    b = await startTestPds({ plc })
    work = mkdtempSync(join(tmpdir(), 'atfed-resume-'))
    for (const name of ['bob', 'carol', 'dave']) people[name] = await person(name)
    await a.stop()
  })
  after(async () => {
    await b.stop()
    await plc.stop()
    rmSync(work, { recursive: true, force: true })
  })

  it('a run stopped at the PLC step resumes from the state file and finishes', async () => {
    const bob = people['bob']!
    const crash = (line: string) => {
      if (line.startsWith('recover: [5/7]')) throw new Error('simulated crash')
    }
    await assert.rejects(recoverAccount(options(bob, { log: crash })), /simulated crash/)
    assert.equal((await b.ctx.accounts.get(bob.did))?.status, 'deactivated')
    assert.equal((await plcClient.getDocumentData(bob.did)).services['atproto_pds']?.endpoint, a.publicUrl)
    const lines: string[] = []
    const report = await recoverAccount(options(bob, { log: (l) => lines.push(l) }))
    assert.deepEqual(report.resumedSteps, ['created', 'imported', 'blobs'])
    assert.ok(lines.some((l) => /\[3\/7\] import the repo: done before/.test(l)), lines.join('\n'))
    assert.deepEqual(report.blobs, { uploaded: 0, missing: [] })
    assert.equal((await b.ctx.accounts.get(bob.did))?.status, 'active')
    assert.equal((await plcClient.getDocumentData(bob.did)).services['atproto_pds']?.endpoint, b.publicUrl)
  })

  it('a crash after the PLC update with the state file lost: no re-import, no second op, activated', async () => {
    const carol = people['carol']!
    const pds = new XrpcClient({ service: b.publicUrl })
    const opened = await openAccount(pds, { did: carol.did, handle: 'carol.test', password: PASSWORD, userKey: carol.key })
    const manifest = requireManifest(carol.backup)
    await importRepo(pds, opened.accessJwt, readFileSync(join(carol.backup, manifest.repoFile)))
    await uploadMissingBlobs(pds, opened.accessJwt, { dir: carol.backup, manifest, progress: { write: () => true } })
    const rec = (await pds.query<any>('com.atproto.identity.getRecommendedDidCredentials', {}, { token: opened.accessJwt })).body
    const target = { pds: b.publicUrl, signingKey: rec.verificationMethods.atproto, pdsRotationKeys: rec.rotationKeys, handle: 'carol.test' }
    const built = buildRecoveryOp(carol.did, await plcClient.getAuditLog(carol.did), { userKey: carol.key, target, nowMs: Date.now() })
    await plcClient.submitOp(carol.did, built.op)
    const ops = (await plcClient.getAuditLog(carol.did)).length
    assert.equal(existsSync(join(carol.backup, 'recover-state.json')), false)
    const lines: string[] = []
    const report = await recoverAccount(options(carol, { log: (l) => lines.push(l) }))
    assert.ok(lines.some((l) => /import the repo: the identity already moved here/.test(l)), lines.join('\n'))
    assert.equal(report.plcOperation, null)
    assert.equal((await plcClient.getAuditLog(carol.did)).length, ops)
    assert.equal((await b.ctx.accounts.get(carol.did))?.status, 'active')
  })

  it('refuses a state file for another target and a key the DID never listed, creating nothing', async () => {
    const dave = people['dave']!
    const copy = join(work, 'dave-elsewhere')
    cpSync(dave.backup, copy, { recursive: true })
    const crash = (line: string) => {
      if (line.startsWith('recover: [3/7]')) throw new Error('simulated crash')
    }
    await assert.rejects(recoverAccount(options(dave, { backup: copy, log: crash })), /simulated crash/)
    await assert.rejects(recoverAccount(options(dave, { backup: copy, to: 'http://127.0.0.1:9' })), { name: 'RecoveryStateMismatch' })
    const strangerFile = join(work, 'stranger.recovery-key')
    writeRecoveryKeyFile(strangerFile, generateKeypair('k256'), { did: dave.did })
    const fresh = join(work, 'dave-fresh')
    cpSync(dave.backup, fresh, { recursive: true })
    const other = await startTestPds({ plc })
    try {
      await assert.rejects(recoverAccount(options(dave, { backup: fresh, recoveryKey: strangerFile, to: other.publicUrl })), { name: 'RecoveryKeyNotAuthorized' })
      assert.equal(await other.ctx.accounts.get(dave.did), null)
      assert.equal(existsSync(join(fresh, 'recover-state.json')), false)
    } finally {
      await other.stop()
    }
  })
})
