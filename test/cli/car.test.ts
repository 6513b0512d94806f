/**
 * `atfed car …` as a child process on CAR files written by the test: inspect
 * fields, ls order, verify (ok, tampered, wrong key), unpack contents and
 * path-traversal refusal, help; errors are one line with the error name and
 * never a stack trace. The big-file path (streamed through a temporary level
 * store) is checked in-process with a zero memory threshold.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { lexToJson } from '../../core/data/json.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { signCommit } from '../../core/repo/commit.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { walkRepoLeaves } from '../../core/repo/repo-walk.ts'
import { withRepoCarFile } from '../../cli/car-file.ts'
import { makeRng } from '../helpers/prng.ts'
import { MemoryRepo, randomWrites, record, TEST_DID, writeFor } from '../helpers/repo-writes.ts'

const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

async function atfed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { maxBuffer: 64 * 1024 * 1024 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

function assertCleanError(out: { code: number; stderr: string }, name: string): void {
  assert.equal(out.code, 1, out.stderr)
  assert.match(out.stderr, new RegExp(`${name}: `))
  assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack trace')
}

function carOf(repo: MemoryRepo): Uint8Array {
  return encodeCarBytes(repo.head.commitCid, repo.blocks)
}

/** A signed repo whose MST holds `keys` (valid MST keys, maybe not valid record paths). */
function rawRepoCar(keypair: Keypair, keys: string[]): Uint8Array {
  const blocks = new MemoryBlockMap()
  let tree = Mst.create()
  for (const key of keys) {
    const bytes = encodeCbor({ $type: 'com.example.record', key })
    blocks.set(cidForCbor(bytes), bytes)
    tree = tree.insert(key, cidForCbor(bytes))
  }
  for (const [cid, bytes] of tree.nodeBlocks()) blocks.set(cid, bytes)
  const rev = new MemoryRepo(TEST_DID, keypair).head.rev
  const signed = signCommit({ did: TEST_DID, version: 3, data: tree.getPointer(), rev, prev: null }, keypair)
  blocks.set(signed.cid, signed.bytes)
  return encodeCarBytes(signed.cid, blocks)
}

test('atfed car inspect / ls / verify / unpack on a repo CAR', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-cli-car-'))
  try {
    const rng = makeRng(1)
    const repo = new MemoryRepo(TEST_DID, generateKeypair('k256'))
    repo.apply(randomWrites(rng, new Set(), 150))
    const link = cidForCbor(encodeCbor({ linked: true }))
    repo.apply([writeFor('create', 'app.bsky.feed.post/3kspecial222', record('app.bsky.feed.post', rng, { ref: link, raw: new Uint8Array([1, 2, 250]) }))])
    const car = carOf(repo)
    const file = join(dir, 'repo.car')
    await writeFile(file, car)
    const leaves = [...walkRepoLeaves(repo.blocks, repo.head.dataCid)]

    const inspect = await atfed(['car', 'inspect', file])
    assert.equal(inspect.code, 0, inspect.stderr)
    assert.deepEqual(JSON.parse(inspect.stdout), {
      did: TEST_DID,
      rev: repo.head.rev,
      commit: repo.head.commitCid.toString(),
      data: repo.head.dataCid.toString(),
      version: 3,
      records: repo.records.size,
      blocks: repo.blocks.size,
      bytes: car.length,
    })

    const ls = await atfed(['car', 'ls', file])
    assert.equal(ls.code, 0, ls.stderr)
    const lines = ls.stdout.trimEnd().split('\n')
    assert.deepEqual(lines, leaves.map((leaf) => `${leaf.key}\t${leaf.cid.toString()}`))
    assert.deepEqual(lines.map((line) => line.split('\t')[0]), [...repo.records.keys()].sort(), 'MST order is key order')

    assert.deepEqual(await atfed(['car', 'verify', file]), { code: 0, stdout: 'ok\n', stderr: '' })
    const keyed = await atfed(['car', 'verify', file, '--key', repo.keypair.publicKey.didKey])
    assert.equal(keyed.stdout, 'ok\n')
    assertCleanError(await atfed(['car', 'verify', file, '--key', generateKeypair('k256').publicKey.didKey]), 'BadCommitSignature')
    assertCleanError(await atfed(['car', 'verify', file, '--key', 'did:key:zNotAKey']), 'InvalidDidKey')

    const tampered = Buffer.from(car)
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 0x10
    await writeFile(join(dir, 'tampered.car'), tampered)
    assertCleanError(await atfed(['car', 'verify', join(dir, 'tampered.car')]), 'CidMismatch')
    await writeFile(join(dir, 'truncated.car'), car.subarray(0, car.length - 9))
    assertCleanError(await atfed(['car', 'inspect', join(dir, 'truncated.car')]), 'TruncatedCar')
    const missing = await atfed(['car', 'ls', join(dir, 'nope.car')])
    assert.equal(missing.code, 1)
    assert.doesNotMatch(missing.stderr, /\n\s+at /)

    const out = join(dir, 'out')
    const unpack = await atfed(['car', 'unpack', file, '--out', out])
    assert.equal(unpack.code, 0, unpack.stderr)
    let files = 0
    for (const collection of await readdir(out)) files += (await readdir(join(out, collection))).length
    assert.equal(files, repo.records.size)
    for (const [path, value] of repo.records) {
      const json = JSON.parse(await readFile(join(out, `${path}.json`), 'utf8'))
      assert.deepEqual(json, lexToJson(value))
    }
    const special = JSON.parse(await readFile(join(out, 'app.bsky.feed.post', '3kspecial222.json'), 'utf8'))
    assert.deepEqual(special.ref, { $link: link.toString() })
    assert.deepEqual(special.raw, { $bytes: 'AQL6' })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('atfed car unpack refuses record paths that are not <nsid>/<rkey>', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-cli-car-'))
  try {
    const keypair = generateKeypair('k256')
    // '..' is not a record key, so the repo check already refuses it; the other two pass it
    // (the MST only checks the rkey part) and unpack's own path check must catch them.
    const cases = [
      { key: 'com.example.record/..', verify: 'InvalidMstKey', unpack: 'InvalidMstKey' },
      { key: '../evil', verify: null, unpack: 'InvalidRecordPath' },
      { key: 'nodots/x', verify: null, unpack: 'InvalidRecordPath' },
    ]
    for (const { key, verify, unpack } of cases) {
      const file = join(dir, 'hostile.car')
      await writeFile(file, rawRepoCar(keypair, ['com.example.record/fine', key]))
      const verified = await atfed(['car', 'verify', file])
      if (verify === null) assert.equal(verified.code, 0, `${key}: a valid repo by MST rules\n${verified.stderr}`)
      else assertCleanError(verified, verify)
      assertCleanError(await atfed(['car', 'unpack', file, '--out', join(dir, 'out')]), unpack)
    }
    const written = await readdir(dir, { recursive: true })
    assert.ok(written.every((name) => name === 'hostile.car' || name.startsWith('out')), `nothing outside --out: ${written}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('atfed car --help lists the subcommands', async () => {
  const help = await atfed(['car', '--help'])
  assert.equal(help.code, 0)
  for (const name of ['inspect', 'ls', 'verify', 'unpack']) assert.match(help.stdout, new RegExp(`\\b${name}\\b`))
  const top = await atfed(['--help'])
  assert.match(top.stdout, /\bcar\b/)
})

test('big CAR files are streamed through a temporary level store and it is removed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-cli-car-'))
  try {
    const repo = new MemoryRepo(TEST_DID, generateKeypair('p256'))
    repo.apply(randomWrites(makeRng(3), new Set(), 120))
    const file = join(dir, 'repo.car')
    await writeFile(file, carOf(repo))
    const scratch = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('atfed-car-')).sort()
    const before = await scratch()
    const listed = await withRepoCarFile(file, { memoryBytesMax: 0, key: repo.keypair.publicKey }, async ({ repo: info, reader }) => {
      assert.ok((await scratch()).length > before.length, 'a scratch store is in use')
      return { records: info.records, keys: [...walkRepoLeaves(reader, info.root)].map((leaf) => leaf.key) }
    })
    assert.equal(listed.records, repo.records.size)
    assert.deepEqual(listed.keys, [...repo.records.keys()].sort())
    assert.deepEqual(await scratch(), before, 'scratch store removed')
    await assert.rejects(withRepoCarFile(file, { memoryBytesMax: 0, key: generateKeypair('k256').publicKey }, async () => {}), {
      name: 'BadCommitSignature',
    })
    assert.deepEqual(await scratch(), before, 'scratch store removed after a failure too')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
