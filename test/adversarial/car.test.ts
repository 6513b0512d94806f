/**
 * Adversarial cases §4.1 (CAR files and repos), fed to the PDS over HTTP as
 * `com.atproto.repo.importRepo` bodies for a deactivated account (the only
 * place a PDS reads a foreign repo CAR). Each refusal is checked by name,
 * for nothing written (head, blocks, spool) and for the PDS still answering
 * (import-target.ts `refused`). The relay's `#commit` blocks go through the
 * same CAR reader; its cases are in firehose.test.ts and the relay scenarios.
 * Cases that import on purpose (duplicates, junk, rev policy) run last.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import { create as createDigest } from 'multiformats/hashes/digest'
import { encodeCbor } from '../../core/data/cbor.ts'
import { CID, cidForCbor, cidForRaw, RAW_CODEC } from '../../core/data/cid.ts'
import { CAR_BLOCK_BYTES_MAX, XRPC_BINARY_BODY_TIMEOUT_MS } from '../../core/limits.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { signCommit } from '../../core/repo/commit.ts'
import type { Did } from '../../core/syntax/did.ts'
import { compareTids, parseTid, TidClock, tidFromTimestampUs } from '../../core/syntax/tid.ts'
import { concatBytes, framed, handMadeCar, sectionBytes, varint } from '../helpers/car-blocks.ts'
import { createTestAccount } from '../helpers/pds.ts'
import { assertAnswers, carParts, carWith, getRepoCar, importCar, refused, snapshot, spooled, startImportTarget, type ImportTarget } from './import-target.ts'

const T = { timeout: 30_000 }

/** alice's CAR, re-framed: header with `roots`, then every block section (plus `extra`). */
function reframed(t: ImportTarget, roots: CID[], extra: Uint8Array[] = []): Uint8Array {
  const { root, blocks } = carParts(t)
  const sections = [sectionBytes({ cid: root, bytes: blocks.get(root)! })]
  for (const [cid, bytes] of blocks.entries()) if (!cid.equals(root)) sections.push(sectionBytes({ cid, bytes }))
  return handMadeCar({ version: 1, roots }, [...sections, ...extra])
}

/** A raw block addressed by a sha2-512 CIDv1 (valid CID, not a blessed atproto one). */
function sha512Block(bytes: Uint8Array): { cid: CID; bytes: Uint8Array } {
  const digest = createDigest(0x13, createHash('sha512').update(bytes).digest())
  return { cid: CID.createV1(RAW_CODEC, digest), bytes }
}

describe('adversarial §4.1: CAR files and repos (importRepo over HTTP)', { timeout: 120_000 }, () => {
  let t: ImportTarget
  before(async () => {
    t = await startImportTarget()
  })
  after(() => t.stop())

  it('4.1.1 truncated CAR: header, block varint or block body cut → TruncatedCar, nothing written', T, async () => {
    const { root } = carParts(t)
    const header = framed(encodeCbor({ version: 1, roots: [root] }))
    for (const car of [
      t.aliceCar.slice(0, 7), // inside the header
      concatBytes([header, new Uint8Array([0xff])]), // a block varint cut after its first byte
      t.aliceCar.slice(0, t.aliceCar.length - 5), // inside the last block
    ]) {
      await refused(t, car, { error: 'TruncatedCar' })
    }
  })

  it('4.1.2 a header with 0 roots or 2 roots → InvalidCarRoots', T, async () => {
    const { root } = carParts(t)
    await refused(t, reframed(t, []), { error: 'InvalidCarRoots' })
    await refused(t, reframed(t, [root, cidForCbor(encodeCbor({ other: 1 }))]), { error: 'InvalidCarRoots' })
  })

  it('4.1.3 the root CID is not among the blocks → MissingBlock', T, async () => {
    const { root, blocks } = carParts(t)
    blocks.delete(root)
    await refused(t, encodeCarBytes(cidForCbor(encodeCbor({ not: 'here' })), blocks), { error: 'MissingBlock' })
  })

  it('4.1.4 a block whose bytes do not hash to its CID → CidMismatch (there is no skip option on import)', T, async () => {
    const tampered = new Uint8Array(t.aliceCar)
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0xff
    await refused(t, tampered, { error: 'CidMismatch' })
  })

  it('4.1.5 a block varint claiming 4 GB, or a whole block one byte over the cap → BlockTooLarge before reading it', T, async () => {
    const { root } = carParts(t)
    const header = framed(encodeCbor({ version: 1, roots: [root] }))
    await refused(t, concatBytes([header, varint(2 ** 32), root.bytes, new Uint8Array(16)]), { error: 'BlockTooLarge' })
    const big = new Uint8Array(CAR_BLOCK_BYTES_MAX + 1) // the cap counts the block without its CID
    await refused(t, concatBytes([header, varint(root.bytes.length + big.length), root.bytes, big]), { error: 'BlockTooLarge' })
  })

  it('4.1.7 unsupported CIDs (sha2-512, CIDv0), reachable or not → InvalidCar: every section must be a blessed CID', T, async () => {
    const odd = sha512Block(new TextEncoder().encode('not a sha-256 block'))
    const key = new TextEncoder().encode('app.bsky.feed.post/3kaaaaaaaaaaa')
    const node = encodeCbor({ e: [{ k: key, p: 0, t: null, v: odd.cid }], l: null })
    const nodeCid = cidForCbor(node)
    const commit = signCommit({ did: t.did, version: 3, data: nodeCid, rev: new TidClock().next(), prev: null }, t.keyA)
    const sections = [sectionBytes(commit), sectionBytes({ cid: nodeCid, bytes: node }), sectionBytes(odd)]
    await refused(t, handMadeCar({ version: 1, roots: [commit.cid] }, sections), { error: 'InvalidCar' })
    // Unreachable: a valid repo that also carries a sha2-512 block, or a CIDv0 block.
    const v0bytes = new TextEncoder().encode('dag-pb? never read')
    const v0 = CID.createV0(createDigest(0x12, createHash('sha256').update(v0bytes).digest()))
    await refused(t, reframed(t, [carParts(t).root], [sectionBytes(odd)]), { error: 'InvalidCar' })
    await refused(t, reframed(t, [carParts(t).root], [sectionBytes({ cid: v0 as CID, bytes: v0bytes })]), { error: 'InvalidCar' })
  })

  it('4.1.9 a validly signed repo of another DID → DidMismatch', T, async () => {
    const bob = await createTestAccount(t.world.a.publicUrl, 'bob-car.test')
    await refused(t, await getRepoCar(t.world.a, bob.did as Did), { error: 'DidMismatch' })
  })

  it('4.1.11 commit version 2, or a commit missing data, rev or did → InvalidCommit', T, async () => {
    await refused(t, carWith(t, (c) => ({ ...c, version: 2 })), { error: 'InvalidCommit' })
    for (const field of ['data', 'rev', 'did']) {
      await refused(t, carWith(t, (c) => { delete c[field]; return c }), { error: 'InvalidCommit' })
    }
  })

  it('4.1.12 a gzip body that expands past the import limit → 413 PayloadTooLarge, measured after decompression', T, async () => {
    const bomb = gzipSync(new Uint8Array(50_000_000))
    await refused(
      t,
      async () => {
        const res = await fetch(`${t.world.b.publicUrl}/xrpc/com.atproto.repo.importRepo`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t.tokenB}`, 'content-type': 'application/vnd.ipld.car', 'content-encoding': 'gzip' },
          body: bomb,
        })
        return { status: res.status, body: await res.json(), headers: res.headers }
      },
      { error: 'PayloadTooLarge', status: 413 },
    )
  })

  it('4.1.13 a slow-loris upload (1 byte per 100 ms) holds one request only: others answer, nothing is written', T, async () => {
    // The route's whole-body limit is XRPC_BINARY_BODY_TIMEOUT_MS (15 min) and the idle limit 30 s;
    // both timers are tested at their edge in test/xrpc/body.test.ts. Node's own requestTimeout
    // (default 300 s, a bare 408) must not cut a legitimate slow upload first: it sits above them.
    const port = Number(new URL(t.world.b.url).port)
    const servers = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
      .filter((h): h is Server => h instanceof Server && (h.address() as AddressInfo | null)?.port === port)
    assert.equal(servers.length, 1, "B's http.Server")
    assert.ok(servers[0]!.requestTimeout >= XRPC_BINARY_BODY_TIMEOUT_MS, `requestTimeout ${servers[0]!.requestTimeout}`)
    // Here: the PDS keeps serving while one upload trickles.
    const before = await snapshot(t)
    const url = new URL(`${t.world.b.publicUrl}/xrpc/com.atproto.repo.importRepo`)
    const req = request({
      host: '127.0.0.1',
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: { authorization: `Bearer ${t.tokenB}`, 'content-type': 'application/vnd.ipld.car', 'content-length': String(t.aliceCar.length) },
    })
    req.on('error', () => {})
    for (let i = 0; i < 15; i++) {
      req.write(t.aliceCar.subarray(i, i + 1))
      await new Promise((resolve) => setTimeout(resolve, 100))
      if (i % 5 === 0) await assertAnswers(t)
    }
    req.destroy()
    for (let i = 0; i < 50 && spooled(t).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(spooled(t), [], 'the aborted spool file is removed')
    assert.deepEqual(await snapshot(t), before)
    await assertAnswers(t)
  })

  it('4.1.6 many tiny unreferenced blocks (20,000 under the byte cap): the PDS keeps answering meanwhile, none is stored', T, async () => {
    const extra: Uint8Array[] = []
    for (let i = 0; i < 20_000; i++) {
      const bytes = new Uint8Array([i & 0xff, (i >> 8) & 0xff, 7])
      extra.push(sectionBytes({ cid: cidForRaw(bytes), bytes }))
    }
    const importing = importCar(t.world.b, t.tokenB, reframed(t, [carParts(t).root], extra))
    await assertAnswers(t) // answered while the import runs (the reader yields every CAR_READ_YIELD_BLOCKS)
    const reply = await importing
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    const { cids } = await snapshot(t)
    assert.ok(cids.length < 40, `only the repo's blocks are stored (${cids.length})`)
  })

  it('4.1.8 duplicate blocks are harmless and unreferenced extra blocks are not stored', T, async () => {
    const { root, blocks } = carParts(t)
    const junk = encodeCbor({ junk: 'unreferenced' })
    const dups = [...blocks.entries()].map(([cid, bytes]) => sectionBytes({ cid, bytes }))
    const reply = await importCar(t.world.b, t.tokenB, reframed(t, [root], [...dups, sectionBytes({ cid: cidForCbor(junk), bytes: junk })]))
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
    assert.ok(!(await snapshot(t)).cids.includes(cidForCbor(junk).toString()))
    await assertAnswers(t)
  })

  it('4.1.10 rev policy on import: a rev over 5 min ahead → FutureRev; lower and equal revs are re-signed above the current one', T, async () => {
    // Import is a migration: the CAR's rev is the old host's and this PDS re-signs at its own next rev,
    // so its rev never goes backwards. A future rev would be followed by every later rev, and relays
    // drop those (FutureRev): refused. (Firehose rev checks: firehose.test.ts 4.7.3.)
    const future = tidFromTimestampUs((Date.now() + 10 * 60_000) * 1000, 1)
    await refused(t, carWith(t, (c) => ({ ...c, rev: future })), { error: 'FutureRev' })
    for (const car of [t.aliceCar, t.aliceCar]) {
      const before = (await snapshot(t)).head as { rev: string }
      const reply = await importCar(t.world.b, t.tokenB, car)
      assert.equal(reply.status, 200, JSON.stringify(reply.body))
      const head = (await snapshot(t)).head as { rev: string }
      assert.ok(compareTids(parseTid(head.rev), parseTid(before.rev)) > 0, 'rev advances')
    }
    await assertAnswers(t)
  })
})
