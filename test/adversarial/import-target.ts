/**
 * The target of the hostile-CAR cases (§4.1–4.3 of the reliability spec):
 * two test PDSes on one PLC (as test/helpers/migration.ts), alice on A, and her
 * deactivated account on B waiting for `com.atproto.repo.importRepo`. Every
 * case sends a CAR to B over HTTP and checks three things with `refused`:
 * the error name, that B holds exactly the blocks and head it held before
 * (and no spooled body), and that B still answers a normal request.
 *
 * `carWith` rebuilds alice's CAR with a changed commit (re-signed by her
 * key, which B checks against the DID document) and extra blocks, so a
 * case can change one thing and keep the rest valid.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor, type CID } from '../../core/data/cid.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { decodeCommit } from '../../core/repo/commit.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds, type XrpcReply } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

/** B's body limit for importRepo (and uploadBlob) in these tests. */
export const IMPORT_BYTES_MAX = 3_000_000

/** PLC, A (alice with a few records) and B (alice's deactivated account). */
export type ImportWorld = { plc: TestPlc; a: TestPds; b: TestPds; alice: { did: Did; accessJwt: string } }

export type ImportTarget = {
  world: ImportWorld
  did: Did
  /** alice's session on B (deactivated account). */
  tokenB: string
  /** alice's repo on A, as getRepo serves it. */
  aliceCar: Uint8Array
  /** alice's signing key on A (the key her DID document names). */
  keyA: Keypair
  stop(): Promise<void>
}

/**
 * The world of test/helpers/migration.ts without @atproto/api (a second of
 * module loading per file): alice and her records are made over raw XRPC,
 * and B's account by the standard getServiceAuth → createAccount(did) steps.
 */
export async function startImportTarget(): Promise<ImportTarget> {
  const plc = await startPlcForPds()
  const a = await startTestPds({ plc })
  const b = await startTestPds({ plc, config: { blobUploadBytesMax: IMPORT_BYTES_MAX } })
  const created = await createTestAccount(a.publicUrl, 'alice.test')
  const did = created.did as Did
  for (const text of ['one', 'two', 'three']) {
    const record = { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString() }
    const reply = await xrpc(a.publicUrl, 'com.atproto.repo.createRecord', { token: created.accessJwt, body: { repo: did, collection: 'app.bsky.feed.post', record } })
    assert.equal(reply.status, 200, JSON.stringify(reply.body))
  }
  const auth = await xrpc(a.publicUrl, 'com.atproto.server.getServiceAuth', {
    token: created.accessJwt,
    params: { aud: b.ctx.serviceDid, lxm: 'com.atproto.server.createAccount' },
  })
  assert.equal(auth.status, 200, JSON.stringify(auth.body))
  const onB = await xrpc(b.publicUrl, 'com.atproto.server.createAccount', {
    body: { did, handle: 'alice-b.test', password: 'hunter2-password' },
    auth: `Bearer ${auth.body.token}`,
  })
  assert.equal(onB.status, 200, JSON.stringify(onB.body))
  const account = await a.ctx.accounts.get(did)
  assert.ok(account !== null)
  const world: ImportWorld = { plc, a, b, alice: { did, accessJwt: created.accessJwt } }
  return {
    world,
    did,
    tokenB: onB.body.accessJwt,
    aliceCar: await getRepoCar(a, did),
    keyA: a.ctx.signingKeys.get(account),
    stop: async () => {
      await a.stop()
      await b.stop()
      await plc.stop()
    },
  }
}

/** getRepo of `did` on `pds` as CAR bytes. */
export async function getRepoCar(pds: TestPds, did: Did): Promise<Uint8Array> {
  const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${did}`)
  assert.equal(res.status, 200)
  return new Uint8Array(await res.arrayBuffer())
}

/** importRepo of `car` on `pds` with `token`. */
export async function importCar(pds: TestPds, token: string, car: Uint8Array): Promise<XrpcReply> {
  const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.repo.importRepo`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.ipld.car' },
    body: car,
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers }
}

/** What B holds for alice: head and every block CID (sorted). */
export async function snapshot(t: ImportTarget): Promise<{ head: unknown; cids: string[] }> {
  const cids: string[] = []
  for await (const page of t.world.b.ctx.repos.iterateCids(t.did)) for (const cid of page) cids.push(cid.toString())
  return { head: t.world.b.ctx.repos.getHead(t.did), cids: cids.sort() }
}

/** B still answers: a normal authenticated read. */
export async function assertAnswers(t: ImportTarget): Promise<void> {
  const reply = await xrpc(t.world.b.publicUrl, 'com.atproto.server.checkAccountStatus', { token: t.tokenB })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
}

/** Sends `car` (or a prepared request) and checks the refusal by name, that nothing changed, and that B answers. */
export async function refused(
  t: ImportTarget,
  send: Uint8Array | (() => Promise<XrpcReply>),
  expected: { error: string | readonly string[]; status?: number },
): Promise<XrpcReply> {
  const before = await snapshot(t)
  const reply = typeof send === 'function' ? await send() : await importCar(t.world.b, t.tokenB, send)
  const names = typeof expected.error === 'string' ? [expected.error] : expected.error
  assert.ok(names.includes(reply.body?.error), `expected ${names.join('|')}, got ${reply.status} ${JSON.stringify(reply.body)}`)
  assert.equal(reply.status, expected.status ?? 400)
  assert.deepEqual(await snapshot(t), before, 'nothing written')
  assert.deepEqual(spooled(t), [], 'no spooled body left')
  await assertAnswers(t)
  return reply
}

/** Files left in B's import spool directory. */
export function spooled(t: ImportTarget): string[] {
  return readdirSync(join(t.world.b.dataDir, 'tmp', 'imports'))
}

/** alice's CAR parts: root, commit fields, blocks. */
export function carParts(t: ImportTarget): { root: CID; commit: Record<string, unknown>; blocks: MemoryBlockMap } {
  const { root, blocks } = decodeCarWithSingleRoot(t.aliceCar)
  const { sig: _sig, ...commit } = decodeCommit(blocks.get(root) as Uint8Array)
  return { root, commit, blocks }
}

/**
 * alice's CAR with the commit replaced by `commit` (any map: fields may be
 * wrong or missing; signed by alice's key as a real commit is, the
 * signature then rewritten by `options.sig` when given).
 */
export function carWith(
  t: ImportTarget,
  change: (commit: Record<string, unknown>) => Record<string, unknown>,
  options: { sig?: (sig: Uint8Array) => Uint8Array } = {},
): Uint8Array {
  const { root, commit, blocks } = carParts(t)
  const unsigned = change({ ...commit })
  const signed = t.keyA.sign(encodeCbor(unsigned as never))
  const sig = options.sig === undefined ? signed : options.sig(signed)
  const bytes = encodeCbor({ ...unsigned, sig } as never)
  const cid = cidForCbor(bytes)
  const out = new MemoryBlockMap()
  for (const [c, b] of blocks.entries()) if (!c.equals(root)) out.set(c, b)
  out.set(cid, bytes)
  return encodeCarBytes(cid, out)
}
