/**
 * The parts of `atfed dev`, in-process:
 *   - layout: --base-port gives six consecutive ports in service order; the
 *     defaults are the services' own; dev.json round-trips and is 0600;
 *     claimDataDir takes over a stale pid file, stops the orphans it lists
 *     (only processes that are atfed services of that DATA) and releases its own;
 *   - the demo PNG is a PNG (magic, IHDR size, IDAT inflates to the rows);
 *   - ServiceChild: the "listening on" line gives URL and DID; a child that
 *     exits first or stays silent fails `ready` as DevServiceFailed; a child
 *     that ignores SIGTERM is SIGKILLed after the grace period;
 *   - seedNetwork against two test PDSes: the demo accounts, posts (keyword,
 *     label word, an image blob), follows, likes and the feed records; a
 *     second run writes nothing (every repo keeps its rev).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inflateSync } from 'node:zlib'
import { spawn } from 'node:child_process'
import { createDevAccount } from '../../cli/dev-accounts.ts'
import { ATFED_BIN, ServiceChild } from '../../cli/dev-child.ts'
import { DEV_DEFAULT_PORTS, openDevState, portsFor, readDevState, writeDevState } from '../../cli/dev-layout.ts'
import { claimDataDir } from '../../cli/dev-lock.ts'
import type { DevState } from '../../cli/dev-layout.ts'
import { demoPng } from '../../cli/dev-png.ts'
import { SEED_KEYWORD, SEED_LABEL_WORD, seedNetwork } from '../../cli/dev-seed.ts'
import { sniffMagic } from '../../pds/blobs/sniff.ts'
import { startPlcForPds, startTestPds, xrpc } from '../helpers/pds.ts'
import type { TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'atfed-dev-parts-'))
  dirs.push(d)
  return d
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('dev layout', () => {
  test('ports: defaults and --base-port', () => {
    assert.deepEqual(portsFor(null), { plc: 2582, pds1: 2583, pds2: 2584, relay: 2470, feedgen: 2585, labeler: 2586 })
    assert.equal(portsFor(null), DEV_DEFAULT_PORTS)
    assert.deepEqual(Object.values(portsFor(30_000)), [30_000, 30_001, 30_002, 30_003, 30_004, 30_005])
  })

  test('dev.json: created once, read back, mode 0600; stored ports win', () => {
    const dir = tempDir()
    const state = openDevState(dir, 30_000)
    assert.equal(statSync(join(dir, 'dev.json')).mode & 0o777, 0o600)
    assert.deepEqual(openDevState(dir, null), state)
    assert.deepEqual(openDevState(dir, 30_000), state)
    assert.throws(() => openDevState(dir, 30_001), { name: 'DevPortsMismatch' })
    const next: DevState = { ...state, seed: { accounts: {}, done: ['feeds'] } }
    writeDevState(dir, next)
    assert.deepEqual(readDevState(dir), next)
    assert.ok(!existsSync(join(dir, 'dev.json.tmp')))
    writeFileSync(join(dir, 'dev.json'), JSON.stringify({ ...state, ports: { ...state.ports, relay: 70_000 } }))
    assert.throws(() => readDevState(dir), { name: 'DevStateCorrupt' })
  })

  test('claimDataDir: a stale pid file is taken over and its orphans stopped; release removes only our own', async () => {
    const dir = tempDir()
    // An orphan: a real service of DATA (bin/atfed.js plc --data DATA/plc), left running.
    const orphan = spawn(process.execPath, [ATFED_BIN, 'plc', '--port', '0', '--data', join(dir, 'plc')], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise((resolve) => orphan.once('exit', (code, signal) => resolve(signal ?? code)))
    await new Promise((resolve) => orphan.stdout!.once('data', resolve)) // its "listening on" line
    const stranger = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' })
    writeFileSync(join(dir, 'dev.pid'), JSON.stringify({ pid: 999_999_999, children: [orphan.pid, stranger.pid] }))
    try {
      const lock = await claimDataDir(dir)
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'dev.pid'), 'utf8')), { pid: process.pid, children: [] })
      const outcome = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))])
      assert.equal(outcome, 0, 'the orphan got SIGTERM and stopped cleanly')
      assert.equal(stranger.exitCode, null, 'a process that is not a service of DATA is left alone')
      lock.recordChildren([7, 8])
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'dev.pid'), 'utf8')).children, [7, 8])
      lock.release()
      assert.ok(!existsSync(join(dir, 'dev.pid')))
    } finally {
      orphan.kill('SIGKILL')
      stranger.kill('SIGKILL')
    }
  })
})

test('demoPng is a valid PNG', () => {
  const png = demoPng(16)
  assert.equal(sniffMagic(png), 'image/png')
  const view = Buffer.from(png)
  assert.equal(view.toString('latin1', 12, 16), 'IHDR')
  assert.equal(view.readUInt32BE(16), 16)
  const idatLength = view.readUInt32BE(33)
  assert.equal(view.toString('latin1', 37, 41), 'IDAT')
  assert.equal(inflateSync(view.subarray(41, 41 + idatLength)).length, 16 * (1 + 3 * 16))
  assert.equal(view.toString('latin1', view.length - 8, view.length - 4), 'IEND')
})

describe('ServiceChild', () => {
  const node = (script: string) => ({ command: [process.execPath, '-e', script] as [string, ...string[]], log: () => {} })

  test('ready parses the listening line; SIGTERM stops it cleanly', async () => {
    const script = "process.on('SIGTERM', () => process.exit(0)); console.log('thing did:plc:abc234 listening on http://127.0.0.1:9 (x)'); setInterval(() => {}, 1000)"
    const child = new ServiceChild('t', [], node(script))
    assert.deepEqual(await child.ready, { url: 'http://127.0.0.1:9', did: 'did:plc:abc234' })
    assert.deepEqual(await child.stop(5_000), { code: 0, signal: null, killed: false })
  })

  test('a child that exits first or stays silent fails ready', async () => {
    const early = new ServiceChild('early', [], node("console.error('boom'); process.exit(3)"))
    await assert.rejects(early.ready, { name: 'DevServiceFailed', message: /early exited \(code 3\)/ })
    assert.deepEqual(early.tail, ['boom'])
    const silent = new ServiceChild('silent', [], { ...node('setInterval(() => {}, 1000)'), readyTimeoutMs: 300 })
    await assert.rejects(silent.ready, { name: 'DevServiceFailed', message: /within 300 ms/ })
    await silent.stop(5_000)
  })

  test('a child that ignores SIGTERM is killed after the grace period', async () => {
    const stubborn = new ServiceChild('stubborn', [], node("process.on('SIGTERM', () => {}); console.log('listening on http://x'); setInterval(() => {}, 1000)"))
    await stubborn.ready
    const result = await stubborn.stop(300)
    assert.equal(result.killed, true)
    assert.equal(result.signal, 'SIGKILL')
  })
})

describe('seedNetwork', () => {
  let plc: TestPlc
  let pds1: TestPds
  let pds2: TestPds
  before(async () => {
    plc = await startPlcForPds()
    pds1 = await startTestPds({ plc })
    pds2 = await startTestPds({ plc })
  })
  after(async () => {
    await pds1?.stop()
    await pds2?.stop()
    await plc?.stop()
  })

  test('writes the demo content once', { timeout: 60_000 }, async () => {
    const dataDir = tempDir()
    const publisher = await createDevAccount(pds1.publicUrl, 'feeds.test', 'pds1')
    const initial: DevState = { ...openDevState(dataDir, 30_000), publisher }
    const options = { dataDir, pdsUrls: { pds1: pds1.publicUrl, pds2: pds2.publicUrl }, feedgenDid: 'did:web:localhost%3A30004', log: () => {} }
    const state = await seedNetwork(initial, options)
    assert.deepEqual(Object.keys(state.seed.accounts).sort(), ['alice.test', 'bob.test', 'carol.test'])
    assert.deepEqual(readDevState(dataDir), state)
    const list = async (pds: TestPds, did: string, collection: string) =>
      (await xrpc(pds.publicUrl, 'com.atproto.repo.listRecords', { params: { repo: did, collection } })).body.records as { value: any }[]
    const alice = state.seed.accounts['alice.test']!
    const bob = state.seed.accounts['bob.test']!
    const carol = state.seed.accounts['carol.test']!
    assert.equal(bob.pds, 'pds2')
    const alicePosts = await list(pds1, alice.did, 'app.bsky.feed.post')
    assert.ok(alicePosts.some((p) => p.value.text.includes(SEED_KEYWORD)))
    assert.ok(alicePosts.some((p) => p.value.embed?.images?.[0]?.image?.mimeType === 'image/png'))
    assert.ok((await list(pds1, carol.did, 'app.bsky.feed.post')).some((p) => p.value.text.includes(SEED_LABEL_WORD)))
    assert.deepEqual((await list(pds2, bob.did, 'app.bsky.graph.follow')).map((f) => f.value.subject).sort(), [alice.did, carol.did].sort())
    assert.equal((await list(pds2, bob.did, 'app.bsky.feed.like')).length, 2)
    const feeds = await list(pds1, publisher.did, 'app.bsky.feed.generator')
    assert.deepEqual(feeds.map((f) => f.value.did), Array(3).fill('did:web:localhost%3A30004'))
    const revs = async () =>
      Promise.all([[pds1, alice], [pds2, bob], [pds1, carol], [pds1, publisher]].map(async ([pds, a]) =>
        (await xrpc((pds as TestPds).publicUrl, 'com.atproto.sync.getLatestCommit', { params: { did: (a as { did: string }).did } })).body.rev))
    const before = await revs()
    assert.deepEqual(await seedNetwork(state, options), state)
    assert.deepEqual(await revs(), before, 'a second seed writes nothing')
  })
})
