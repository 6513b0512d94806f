/**
 * Account migration between two atfed PDSes sharing one PLC directory,
 * driven by the CLI in a child process (`atfed account migrate`), checked
 * from outside: the DID document points at B with B's signing key; B
 * serves every record under the same AT-URIs and the image blob; B's
 * getRepo CAR verifies with @atproto/repo against the new key at a higher
 * rev than A's last commit; A's account is deactivated; B's firehose
 * carried #identity (PLC update), then #account{active}, #identity and a
 * #sync that verifies with the new key; and @atproto/api logs in on B and
 * posts.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { AtpAgent } from '@atproto/api'
import { verifyRepoCar } from '@atproto/repo'
import { verifySyncEvent } from '../../core/repo/verify-commit-event.ts'
import type { StreamMessage } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import { collectFirehose, type FirehoseCollector } from '../helpers/firehose-collector.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const PASSWORD = 'migrate-me-please'
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082',
  'hex',
)

type RecordRow = { uri: string; cid: string; value: unknown }

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/atfed.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function listAll(base: string, did: string, collection: string): Promise<RecordRow[]> {
  const reply = await xrpc(base, 'com.atproto.repo.listRecords', { params: { repo: did, collection, limit: '100' } })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  return reply.body.records
}

async function signingKeyOn(pds: TestPds, did: string): Promise<string> {
  const account = await pds.ctx.accounts.get(did as Did)
  assert.ok(account)
  return pds.ctx.signingKeys.get(account).publicKey.didKey
}

const PREFERENCES = [{ $type: 'app.bsky.actor.defs#adultContentPref', enabled: true }]

describe('atfed account migrate (A → B, one PLC)', () => {
  let plc: TestPlc
  let a: TestPds
  let b: TestPds
  let did: string
  let firehoseB: FirehoseCollector
  let was: { posts: RecordRow[]; likes: RecordRow[]; rev: string; blobCid: string }
  let cli: { code: number | null; stdout: string; stderr: string }

  before(async () => {
    plc = await startPlcForPds()
    a = await startTestPds({ plc, config: { adminPassword: 'admin-a' } })
    b = await startTestPds({ plc, config: { adminPassword: 'admin-b' } })
    const agent = new AtpAgent({ service: a.publicUrl })
    did = (await agent.createAccount({ handle: 'alice.test', password: PASSWORD, email: 'alice@example.com' })).data.did
    const image = await agent.uploadBlob(PNG, { encoding: 'image/png' })
    const embed = { $type: 'app.bsky.embed.images', images: [{ image: image.data.blob, alt: 'a dot' }] }
    const first = await agent.post({ text: 'first', createdAt: new Date().toISOString(), embed })
    const second = await agent.post({ text: 'second', createdAt: new Date().toISOString() })
    await agent.post({ text: 'third', createdAt: new Date().toISOString() })
    await agent.like(first.uri, first.cid)
    await agent.like(second.uri, second.cid)
    await agent.app.bsky.actor.putPreferences({ preferences: PREFERENCES })
    const rev = (await xrpc(a.publicUrl, 'com.atproto.sync.getLatestCommit', { params: { did } })).body.rev
    was = {
      posts: await listAll(a.publicUrl, did, 'app.bsky.feed.post'),
      likes: await listAll(a.publicUrl, did, 'app.bsky.feed.like'),
      rev,
      blobCid: image.data.blob.ref.toString(),
    }
    firehoseB = await collectFirehose(b.url)
    cli = await runCli([
      'account', 'migrate', '--from', a.publicUrl, '--to', b.publicUrl, '--handle', 'alice.test', '--password', PASSWORD,
      '--new-handle', 'alice-b.test', '--from-admin-password', 'admin-a', '--plc', plc.url,
    ])
  })
  after(async () => {
    firehoseB.close()
    await a.stop()
    await b.stop()
    await plc.stop()
  })

  it('runs every step, with progress on stderr and a report on stdout', () => {
    assert.equal(cli.code, 0, cli.stderr)
    for (let step = 1; step <= 14; step++) assert.match(cli.stderr, new RegExp(`\\[${step}/14\\]`))
    const report = JSON.parse(cli.stdout)
    assert.equal(report.did, did)
    assert.equal(report.handle, 'alice-b.test')
    assert.equal(report.plcState, 'merged')
    assert.deepEqual(report.blobs, { copied: 1, failed: 0, skipped: null })
    assert.equal(report.preferences, 'copied')
  })

  it('copies the preferences to B', async () => {
    const login = await xrpc(b.publicUrl, 'com.atproto.server.createSession', { body: { identifier: did, password: PASSWORD } })
    const prefs = await xrpc(b.publicUrl, 'app.bsky.actor.getPreferences', { token: login.body.accessJwt })
    assert.deepEqual(prefs.body.preferences, PREFERENCES)
  })

  it('leaves the DID document pointing at B with B’s signing key and rotation key', async () => {
    const data = (await (await fetch(`${plc.url}/${did}/data`)).json()) as {
      rotationKeys: string[]
      verificationMethods: { atproto: string }
      services: { atproto_pds: { endpoint: string } }
      alsoKnownAs: string[]
    }
    assert.equal(data.services.atproto_pds.endpoint, b.publicUrl)
    assert.equal(data.verificationMethods.atproto, await signingKeyOn(b, did))
    assert.notEqual(data.verificationMethods.atproto, await signingKeyOn(a, did))
    assert.deepEqual(data.rotationKeys, [b.ctx.rotationKey.publicKey.didKey])
    assert.deepEqual(data.alsoKnownAs, ['at://alice-b.test'])
  })

  it('serves every record on B under the same AT-URIs, and the blob', async () => {
    assert.deepEqual(await listAll(b.publicUrl, did, 'app.bsky.feed.post'), was.posts)
    assert.deepEqual(await listAll(b.publicUrl, did, 'app.bsky.feed.like'), was.likes)
    const blob = await fetch(`${b.publicUrl}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${was.blobCid}`)
    assert.equal(blob.status, 200)
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), PNG)
    const status = await xrpc(b.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did } })
    assert.deepEqual({ active: status.body.active, status: status.body.status }, { active: true, status: undefined })
  })

  it('exports from B a CAR that @atproto/repo verifies with the new key, at a higher rev', async () => {
    const res = await fetch(`${b.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${did}`)
    assert.equal(res.status, 200)
    const verified = await verifyRepoCar(new Uint8Array(await res.arrayBuffer()), did, await signingKeyOn(b, did))
    assert.ok(verified.commit.rev > was.rev, `${verified.commit.rev} > ${was.rev}`)
    assert.equal(verified.creates.length, was.posts.length + was.likes.length + 0)
  })

  it('deactivates the account on A', async () => {
    const status = await xrpc(a.publicUrl, 'com.atproto.sync.getRepoStatus', { params: { did } })
    assert.deepEqual({ active: status.body.active, status: status.body.status }, { active: false, status: 'deactivated' })
    const getRepo = await xrpc(a.publicUrl, 'com.atproto.sync.getRepo', { params: { did } })
    assert.equal(getRepo.body.error, 'RepoDeactivated')
  })

  it('announced the move on B’s firehose: #identity, then #account, #identity, #sync signed by the new key', async () => {
    const sync = await firehoseB.until((m) => m.t === '#sync' && m.did === did)
    const mine = firehoseB.messages.filter((m) => ('did' in m && m.did === did) || ('repo' in m && m.repo === did))
    assert.deepEqual(mine.map((m) => m.t), ['#identity', '#account', '#identity', '#sync'])
    const [identity, account, identity2] = mine as [StreamMessage, StreamMessage, StreamMessage]
    assert.ok(identity.t === '#identity' && identity.handle === 'alice-b.test')
    assert.ok(account.t === '#account' && account.active && account.status === null)
    assert.ok(identity2.t === '#identity' && identity2.handle === 'alice-b.test')
    assert.ok(sync.t === '#sync')
    const verified = verifySyncEvent(sync, { key: await signingKeyOn(b, did) })
    assert.ok(verified.commit.rev > was.rev)
    assert.equal(firehoseB.messages.filter((m) => m.t === '#commit').length, 0)
  })

  it('lets @atproto/api log in on B and post', async () => {
    const agent = new AtpAgent({ service: b.publicUrl })
    await agent.login({ identifier: 'alice-b.test', password: PASSWORD })
    assert.equal(agent.session?.did, did)
    const post = await agent.post({ text: 'hello from B', createdAt: new Date().toISOString() })
    assert.match(post.uri, new RegExp(`^at://${did}/`))
    const commit = await firehoseB.until((m) => m.t === '#commit' && m.repo === did)
    assert.ok(commit.t === '#commit' && commit.since !== null)
    assert.equal((await listAll(b.publicUrl, did, 'app.bsky.feed.post')).length, was.posts.length + 1)
  })

  it('lists and creates accounts from the CLI, and names the failing step', async () => {
    const listed = await runCli(['account', 'list', '--pds', b.publicUrl, '--admin-password', 'admin-b'])
    assert.equal(listed.code, 0, listed.stderr)
    const rows = listed.stdout.trim().split('\n').map((line) => JSON.parse(line))
    const row = rows.find((r) => r.did === did)
    assert.ok(row, listed.stdout)
    assert.equal(row.active, true)
    if (row.handle !== undefined) assert.equal(row.handle, 'alice-b.test')
    const created = await runCli(['account', 'create', '--pds', b.publicUrl, '--handle', 'carol.test', '--password', PASSWORD])
    assert.equal(created.code, 0, created.stderr)
    assert.equal(JSON.parse(created.stdout).handle, 'carol.test')
    const failed = await runCli([
      'account', 'migrate', '--from', a.publicUrl, '--to', b.publicUrl, '--handle', 'carol.test', '--password', 'wrong', '--plc', plc.url,
    ])
    assert.equal(failed.code, 1)
    assert.match(failed.stderr, /MigrationFailed: step 1 \(log in to .*\) failed: AuthenticationRequired/)
  })
})
