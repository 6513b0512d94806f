/**
 * `atfed account backup` against a real PDS (in process), and against a
 * hostile server in front of it.
 *
 * Property (seeded): rounds of random creates, deletes and image posts,
 * each followed by a backup; every round's snapshot holds exactly the
 * records of the PDS's full export and every listed blob, and all rounds
 * after the first fetch a `since` diff. Then the finished backup verifies
 * (`verifyBackup`), and damaged copies of it fail by name: a blob changed
 * or missing, a manifest naming another commit, a commit no known key
 * signed. Hostile server: bad blob bytes (`BlobCidMismatch`), a record
 * changed in the CAR (`CidMismatch`), an OLD repo served as new
 * (`RevWentBackwards`) — and each time the previous snapshot is left
 * exactly as it was, still complete and verifiable.
 */
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runBackup } from '../../cli/recovery/backup.ts'
import { backupSigner, verifyBackup } from '../../cli/recovery/backup-verify.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { decodeCommit } from '../../core/repo/commit.ts'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import type { Did } from '../../core/syntax/did.ts'
import { makeRng } from '../helpers/prng.ts'
import { makePng } from '../helpers/png.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const quiet = { log: () => {}, progress: { write: () => true } }

function recordsOf(car: Uint8Array): Map<string, string> {
  const { root, blocks } = decodeCarWithSingleRoot(car)
  return new Map(Array.from(walkRepoLeaves(blocks, decodeCommit(blocks.get(root)!).data), (l) => [l.key, l.cid.toString()]))
}

type Override = (req: http.IncomingMessage, upstream: Response) => Promise<Uint8Array | null>

/** A proxy to `target` whose answers a test may replace (null: pass through). */
async function startProxy(target: string): Promise<{ url: string; override: Override | null; close(): Promise<void> }> {
  const proxy = { url: '', override: null as Override | null, close: async () => {} }
  const server = http.createServer(async (req, res) => {
    const upstream = await fetch(new URL(req.url ?? '/', target))
    const replaced = proxy.override === null ? null : await proxy.override(req, upstream.clone())
    const body = replaced ?? new Uint8Array(await upstream.arrayBuffer())
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' })
    res.end(body)
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()))
  return proxy
}

describe('atfed account backup', () => {
  let plc: TestPlc
  let pds: TestPds
  let did: Did
  let token: string
  let work: string
  let dir: string
  let signingKeys: string[]
  /** The repo as exported after the first round: older than every later snapshot. */
  let firstRoundCar: Uint8Array

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    const alice = await createTestAccount(pds.publicUrl, 'alice.test')
    did = alice.did as Did
    token = alice.accessJwt
    work = mkdtempSync(join(tmpdir(), 'atfed-backup-test-'))
    dir = join(work, 'backup')
    const account = await pds.ctx.accounts.get(did)
    signingKeys = [pds.ctx.signingKeys.get(account!).publicKey.didKey]
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
    rmSync(work, { recursive: true, force: true })
  })

  async function createPost(text: string, seed: number | null): Promise<string> {
    let embed = {}
    if (seed !== null) {
      const up = await fetch(`${pds.publicUrl}/xrpc/com.atproto.repo.uploadBlob`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
        body: makePng({ seed }),
      })
      const blob = ((await up.json()) as { blob: unknown }).blob
      embed = { embed: { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: text }] } }
    }
    const record = { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString(), ...embed }
    const reply = await xrpc(pds.publicUrl, 'com.atproto.repo.createRecord', { token, body: { repo: did, collection: 'app.bsky.feed.post', record } })
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    return reply.body.uri
  }

  async function exported(): Promise<Uint8Array> {
    return new Uint8Array(await (await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${did}`)).arrayBuffer())
  }

  it('every round is a complete snapshot; rounds after the first fetch only a diff (seeded)', async () => {
    const rng = makeRng(2024)
    const live: string[] = []
    let seed = 10
    let lastRev: string | null = null
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1 + rng.int(6); i++) {
        if (live.length > 0 && rng.int(4) === 0) {
          const uri = live.splice(rng.int(live.length), 1)[0]!
          const rkey = uri.split('/').pop()!
          await xrpc(pds.publicUrl, 'com.atproto.repo.deleteRecord', { token, body: { repo: did, collection: 'app.bsky.feed.post', rkey } })
        } else {
          live.push(await createPost(`round ${round} post ${i}`, rng.int(3) === 0 ? seed++ : null))
        }
      }
      const summary = await runBackup({ did, out: dir, plc: plc.url, ...quiet })
      if (round === 0) firstRoundCar = await exported()
      assert.equal(summary.mode, round === 0 ? 'full' : 'incremental')
      assert.equal(summary.since, lastRev)
      lastRev = summary.rev
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
      assert.deepEqual(recordsOf(readFileSync(join(dir, manifest.repoFile))), recordsOf(await exported()), `round ${round}`)
      const listed = await xrpc(pds.publicUrl, 'com.atproto.sync.listBlobs', { params: { did } })
      assert.deepEqual(manifest.blobs.map((b: { cid: string }) => b.cid).sort(), [...listed.body.cids].sort())
    }
    const verified = verifyBackup(dir)
    assert.equal(verified.repo.records, live.length)
    assert.equal(backupSigner(dir, verified, [generateKeypair('k256').publicKey.didKey, ...signingKeys]), signingKeys[0])
  })

  it('damaged copies fail verification by name', () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
    assert.ok(manifest.blobs.length > 0, 'the seed made at least one image')
    const blob = manifest.blobs[0].cid
    const damage: Array<[string, (copy: string) => void, string]> = [
      ['blob changed', (c) => writeFileSync(join(c, 'blobs', blob), 'not the image'), 'BlobCorrupt'],
      ['blob missing', (c) => unlinkSync(join(c, 'blobs', blob)), 'BlobMissing'],
      ['manifest commit', (c) => writeFileSync(join(c, 'manifest.json'), JSON.stringify({ ...manifest, commit: 'bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5nguhvlhfzfr5ie' })), 'ManifestMismatch'],
      ['repo file gone', (c) => unlinkSync(join(c, manifest.repoFile)), 'MissingRepoFile'],
    ]
    for (const [what, harm, name] of damage) {
      const copy = join(work, `damaged-${name}`)
      cpSync(dir, copy, { recursive: true })
      harm(copy)
      assert.throws(() => verifyBackup(copy), (err: Error) => err.name === 'BackupInvalid' && err.message.includes(`(${name}:`), what)
    }
    const stranger = generateKeypair('k256').publicKey.didKey
    assert.throws(() => backupSigner(dir, verifyBackup(dir), [stranger]), (err: Error) => err.name === 'BackupInvalid' && err.message.includes('(BadCommitSignature:'))
  })

  it('a hostile server cannot damage the snapshot: bad blob, changed record, an old repo as new', async () => {
    const proxy = await startProxy(pds.publicUrl)
    try {
      await createPost('after the snapshot', 99)
      const before = readFileSync(join(dir, 'manifest.json'), 'utf8')
      const cases: Array<[Override, string]> = [
        [async (req) => (req.url?.includes('sync.getBlob') ? new TextEncoder().encode('evil bytes') : null), 'BlobCidMismatch'],
        [async (req, up) => (req.url?.includes('sync.getRepo') ? tamper(new Uint8Array(await up.arrayBuffer())) : null), 'CidMismatch'],
        [async (req) => (req.url?.includes('sync.getRepo') ? firstRoundCar : null), 'RevWentBackwards'],
      ]
      for (const [override, name] of cases) {
        proxy.override = override
        await assert.rejects(runBackup({ did, out: dir, plc: plc.url, pds: proxy.url, ...quiet }), { name })
        assert.equal(readFileSync(join(dir, 'manifest.json'), 'utf8'), before, `${name}: the manifest is unchanged`)
        backupSigner(dir, verifyBackup(dir), signingKeys)
      }
      proxy.override = null
      const summary = await runBackup({ did, out: dir, plc: plc.url, pds: proxy.url, ...quiet })
      assert.equal(summary.blobs.fetched, 1)
      assert.equal(summary.removedFiles, 1, 'the previous CAR is removed once the new manifest is in place')
    } finally {
      await proxy.close()
    }
  })
})


/** The CAR with the text of the first post it finds changed (same length: the CAR still parses). */
function tamper(car: Uint8Array): Uint8Array {
  const bytes = Buffer.from(car)
  const at = bytes.indexOf('after the snapshot')
  assert.ok(at > 0, 'the new post is in the diff')
  bytes.write('AFTER', at, 'latin1')
  return bytes
}
