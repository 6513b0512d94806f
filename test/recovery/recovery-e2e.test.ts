/**
 * Leaving a PDS without its consent, end to end on loopback (issue 8):
 * PLC + PDS A (a child process) + PDS B + relay + feed generator.
 *
 * alice posts (with an image) and likes on A; `recovery-key add` (CLI) puts
 * her own key first in her rotationKeys; `backup` (CLI) twice, the second
 * incremental (getRepo `since`, only the new blob); A is SIGKILLed and its
 * data directory deleted; a TAMPERED copy of the backup is refused by
 * `recover` with nothing created on B; `recover` (CLI) brings her up on B.
 * Then: the DID document points at B with a new signing key and her key
 * first; the relay's firehose carries #identity and #sync for her, then the
 * #commit of a new post made on B; the feed generator serves the old posts
 * (same AT-URIs) and the new one; B's repo verifies with @atproto/repo and
 * holds every record of the backup; a second `recover` is a no-op.
 */
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { verifyRepoCar } from '@atproto/repo'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { decodeCommit } from '../../core/repo/commit.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { collectFirehose, type FirehoseCollector } from '../helpers/firehose-collector.ts'
import { xrpc } from '../helpers/pds.ts'
import { makePng } from '../helpers/png.ts'
import { runBackup } from '../../cli/recovery/backup.ts'
import { recoverAccount } from '../../cli/recovery/recover.ts'
import { addRecoveryKey } from '../../cli/recovery/recovery-key.ts'
import { showRecoveryKeys } from '../../cli/recovery/recovery-key-show.ts'
import { feedPosts, runCli, startRecoveryWorld, waitUntil, type CliResult, type RecoveryWorld } from './world.ts'

const PASSWORD = 'alice-password'

function json(result: CliResult): any {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

/** Every record path → CID of a complete repo CAR. */
function recordsOf(car: Uint8Array): Map<string, string> {
  const { root, blocks } = decodeCarWithSingleRoot(car)
  const commit = decodeCommit(blocks.get(root)!)
  return new Map(Array.from(walkRepoLeaves(blocks, commit.data), (leaf) => [leaf.key, leaf.cid.toString()]))
}

describe('recovery without the old PDS (CLI, loopback)', () => {
  let world: RecoveryWorld
  let plc: PlcClient
  let did: Did
  let work: string
  let keyFile: string
  let backupDir: string
  const oldPosts: string[] = []
  const blobCids: string[] = []
  let firehose: FirehoseCollector
  let recovered: CliResult

  before(async () => {
    world = await startRecoveryWorld()
    plc = new PlcClient(world.plc.url)
    work = mkdtempSync(join(tmpdir(), 'atfed-recovery-'))
    keyFile = join(work, 'alice.recovery-key')
    backupDir = join(work, 'backup')
    const agent = new AtpAgent({ service: world.a.url })
    did = (await agent.createAccount({ handle: 'alice.test', password: PASSWORD, email: 'alice@example.com' })).data.did as Did
    const image = await agent.uploadBlob(makePng({ seed: 1 }), { encoding: 'image/png' })
    blobCids.push(image.data.blob.ref.toString())
    const embed = { $type: 'app.bsky.embed.images', images: [{ image: image.data.blob, alt: 'one' }] }
    for (const text of ['first #atfed', 'second #atfed', 'third #atfed']) {
      const post = await agent.post({ text, createdAt: new Date().toISOString(), ...(oldPosts.length === 0 ? { embed } : {}) })
      oldPosts.push(post.uri)
      await agent.like(post.uri, post.cid)
    }
  })
  after(async () => {
    firehose?.close()
    await world.close()
    rmSync(work, { recursive: true, force: true })
  })

  it('the feed generator indexes alice’s posts from A through the relay', async () => {
    await waitUntil(async () => (await feedPosts(world.feedgen, world.keywordFeed)).length >= 3, 'three posts in the feed')
    assert.deepEqual(new Set(await feedPosts(world.feedgen, world.keywordFeed)), new Set(oldPosts))
  })

  it('recovery-key add puts a key alice holds first in her rotationKeys, kept in a 0600 file', async () => {
    const pdsKeysBefore = (await plc.getDocumentData(did)).rotationKeys
    const result = await runCli([
      'account', 'recovery-key', 'add', '--pds', world.a.url, '--handle', 'alice.test', '--password', PASSWORD,
      '--key-file', keyFile, '--admin-password', 'admin-a', '--plc', world.plc.url,
    ])
    const report = json(result)
    assert.match(result.stderr, /Whoever holds it controls the DID/)
    assert.equal(statSync(keyFile).mode & 0o777, 0o600)
    assert.ok(!result.stderr.includes(readFileSync(keyFile, 'utf8').trim().split('\n').pop()!), 'the private key is not logged')
    const data = await plc.getDocumentData(did)
    assert.equal(data.rotationKeys[0], report.recoveryKey)
    assert.deepEqual(data.rotationKeys.slice(1), [...pdsKeysBefore])
    assert.equal(data.services['atproto_pds']?.endpoint, world.a.url)
    // A re-run reuses the file (never overwrites it) and changes nothing.
    const again = await addRecoveryKey({
      pds: world.a.url, handle: 'alice.test', password: PASSWORD, plc: world.plc.url, keyFile, log: () => {},
      readToken: () => Promise.reject(new Error('no token needed')),
    })
    assert.deepEqual([again.recoveryKey, again.alreadyFirst, again.keyFileCreated], [report.recoveryKey, true, false])
  })

  it('recovery-key show marks alice’s key and A’s', async () => {
    const view = JSON.parse(await showRecoveryKeys({ did, plc: world.plc.url, keyFile, json: true }))
    assert.deepEqual(view.rotationKeys.map((row: { holder: string }) => row.holder), ['you', 'pds'])
    assert.equal(view.pds, world.a.url)
  })

  it('backs up the repo and the blob; a second run fetches only the diff and the new blob', async () => {
    const first = await runBackup({ did, out: backupDir, plc: world.plc.url, log: () => {}, progress: { write: () => true } })
    assert.deepEqual([first.mode, first.since, first.records, first.blobs.fetched, first.blobs.total], ['full', null, 6, 1, 1])
    const agent = new AtpAgent({ service: world.a.url })
    await agent.login({ identifier: 'alice.test', password: PASSWORD })
    const image = await agent.uploadBlob(makePng({ seed: 2 }), { encoding: 'image/png' })
    blobCids.push(image.data.blob.ref.toString())
    const embed = { $type: 'app.bsky.embed.images', images: [{ image: image.data.blob, alt: 'two' }] }
    const post = await agent.post({ text: 'fourth #atfed', createdAt: new Date().toISOString(), embed })
    oldPosts.push(post.uri)
    await agent.like(post.uri, post.cid)
    const secondRun = await runCli(['account', 'backup', '--did', did, '--out', backupDir, '--plc', world.plc.url])
    const second = json(secondRun)
    assert.deepEqual([second.mode, second.since, second.records], ['incremental', first.rev, 8])
    assert.deepEqual([second.blobs.fetched, second.blobs.total], [1, 2])
    // It fetched the diff since the first backup's rev (byte for byte what A serves for that), not the repo.
    const diff = await fetch(`${world.a.url}/xrpc/com.atproto.sync.getRepo?did=${did}&since=${first.rev}`)
    assert.equal(second.fetchedRepoBytes, (await diff.arrayBuffer()).byteLength)
    assert.ok(second.fetchedRepoBytes < second.repoBytes, `diff ${second.fetchedRepoBytes} B of ${second.repoBytes} B`)
    assert.match(secondRun.stderr, /blobs \[#+\] 1\/1/)
    const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8'))
    assert.deepEqual(manifest.blobs.map((b: { cid: string }) => b.cid).sort(), [...blobCids].sort())
    // The merged CAR is the whole repo: the same records A exports now.
    const fromA = new Uint8Array(await (await fetch(`${world.a.url}/xrpc/com.atproto.sync.getRepo?did=${did}`)).arrayBuffer())
    assert.deepEqual(recordsOf(readFileSync(join(backupDir, manifest.repoFile))), recordsOf(fromA))
    await waitUntil(async () => (await feedPosts(world.feedgen, world.keywordFeed)).length >= 4, 'four posts in the feed')
  })

  it('A dies: SIGKILL, data directory deleted', async () => {
    await world.a.kill()
    await assert.rejects(fetch(`${world.a.url}/xrpc/_health`))
  })

  it('refuses a tampered backup (a record changed) with a clear error, creating nothing on B', async () => {
    const tampered = join(work, 'tampered')
    cpSync(backupDir, tampered, { recursive: true })
    const manifest = JSON.parse(readFileSync(join(tampered, 'manifest.json'), 'utf8'))
    const carPath = join(tampered, manifest.repoFile)
    const car = readFileSync(carPath)
    const at = car.indexOf('second #atfed')
    assert.ok(at > 0)
    car.write('SECOND', at, 'latin1')
    writeFileSync(carPath, car)
    const lines: string[] = []
    await assert.rejects(
      recoverAccount({ backup: tampered, recoveryKey: keyFile, to: world.b.publicUrl, password: PASSWORD, plc: world.plc.url, log: (l) => lines.push(l) }),
      (err: Error) => err.name === 'BackupInvalid' && /does not verify \(CidMismatch/.test(err.message),
    )
    assert.equal(lines.filter((l) => l.startsWith('recover: [')).length, 1, 'stopped at step 1')
    const repos = await xrpc(world.b.publicUrl, 'com.atproto.sync.listRepos')
    assert.ok(!repos.body.repos.some((r: { did: string }) => r.did === did))
    assert.equal(await world.b.ctx.accounts.get(did), null)
  })

  it('recovers onto B: the DID points at B with a new signing key and alice’s key first', async () => {
    firehose = await collectFirehose(world.relay.url)
    recovered = await runCli([
      'account', 'recover', '--backup', backupDir, '--recovery-key', keyFile, '--to', world.b.publicUrl, '--password', PASSWORD, '--plc', world.plc.url,
    ])
    const report = json(recovered)
    for (let step = 1; step <= 7; step++) assert.match(recovered.stderr, new RegExp(`recover: \\[${step}/7\\]`))
    const data = await plc.getDocumentData(did)
    const account = await world.b.ctx.accounts.get(did)
    assert.ok(account)
    const newKey = world.b.ctx.signingKeys.get(account).publicKey.didKey
    assert.equal(data.services['atproto_pds']?.endpoint, world.b.publicUrl)
    assert.equal(data.verificationMethods['atproto'], newKey)
    assert.equal(data.rotationKeys[0], report.rotationKeys[0])
    assert.deepEqual(data.rotationKeys.slice(1), [world.b.ctx.rotationKey.publicKey.didKey])
    assert.equal(report.droppedRotationKeys.length, 1, 'A’s rotation key is gone')
    assert.deepEqual(report.blobs, { uploaded: 2, missing: [] })
    assert.ok(!recovered.stderr.includes(readFileSync(keyFile, 'utf8').trim().split('\n').pop()!), 'the private key is not logged')
  })

  it('the relay carries #identity and #sync from B, then a new post made on B', async () => {
    const sync = await firehose.until((m) => m.t === '#sync' && m.did === did)
    const syncAt = firehose.messages.indexOf(sync)
    const identityAt = firehose.messages.findIndex((m) => m.t === '#identity' && m.did === did)
    assert.ok(identityAt >= 0 && identityAt < syncAt, `#identity at ${identityAt}, #sync at ${syncAt}`)
    const agent = new AtpAgent({ service: world.b.publicUrl })
    await agent.login({ identifier: did, password: PASSWORD })
    const post = await agent.post({ text: 'back on B #atfed', createdAt: new Date().toISOString() })
    const commit = await firehose.until((m) => m.t === '#commit' && m.repo === did)
    assert.ok(firehose.messages.indexOf(commit) > syncAt)
    await waitUntil(async () => (await feedPosts(world.feedgen, world.keywordFeed)).includes(post.uri), 'the new post in the feed')
    assert.deepEqual(new Set(await feedPosts(world.feedgen, world.keywordFeed)), new Set([...oldPosts, post.uri]))
  })

  it('B’s repo verifies with @atproto/repo and holds every record of the backup, and the blobs', async () => {
    const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8'))
    const backedUp = recordsOf(readFileSync(join(backupDir, manifest.repoFile)))
    const car = new Uint8Array(await (await fetch(`${world.b.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${did}`)).arrayBuffer())
    const key = (await plc.getDocumentData(did)).verificationMethods['atproto']!
    const verified = await verifyRepoCar(car, did, key)
    const onB = new Map(verified.creates.map((c) => [`${c.collection}/${c.rkey}`, c.cid.toString()]))
    for (const [path, cid] of backedUp) assert.equal(onB.get(path), cid, path)
    for (const cid of blobCids) {
      const res = await fetch(`${world.b.publicUrl}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${cid}`)
      assert.equal(res.status, 200, cid)
    }
  })

  it('a second recover is a no-op that still succeeds', async () => {
    const before = (await plc.getAuditLog(did)).length
    const again = await recoverAccount({ backup: backupDir, recoveryKey: keyFile, to: world.b.publicUrl, password: PASSWORD, plc: world.plc.url, log: () => {} })
    assert.deepEqual(again.resumedSteps, ['created', 'imported', 'blobs', 'plc', 'activated'])
    assert.equal((await plc.getAuditLog(did)).length, before)
  })
})
