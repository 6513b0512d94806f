/**
 * The directory over HTTP on 127.0.0.1 with a temp data dir: @did-plc/lib's
 * own client creates and updates DIDs against it, our PlcClient reads them
 * back, every read route has the reference's shape, /export pages by
 * createdAt and by seq, and everything survives a restart.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as plcLib from '@did-plc/lib'
import { P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { PLC_EXPORT_COUNT_MAX, PLC_REQUEST_BODY_BYTES_MAX, PLC_WRITE_QUEUE_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { createGenesisOp, createTombstone, createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import type { PlcOp } from '../../did-resolver/plc/operation.ts'
import { validateAuditLog } from '../../did-resolver/plc/validate.ts'
import { getJson, postOp, startTestPlc, type TestPlc } from '../helpers/plc.ts'

let plc: TestPlc

before(async () => {
  plc = await startTestPlc()
})
after(async () => {
  await plc.stop()
})

const rotation = generateKeypair('k256')
const recovery = generateKeypair('p256')

function newAccount(handle: string) {
  return createGenesisOp({
    signingKey: generateKeypair('k256').publicKey.didKey,
    rotationKeys: [recovery.publicKey.didKey, rotation.publicKey.didKey],
    handle,
    pds: 'https://pds.example.com',
    signer: rotation,
  })
}

async function exportLines(query: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${plc.url}/export${query}`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /application\/jsonlines/)
  const text = await res.text()
  return text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
}

test('@did-plc/lib client: create, update handle/PDS/keys, read back — same DID', { timeout: 60_000 }, async () => {
  const client = new plcLib.Client(plc.url)
  const k = await Secp256k1Keypair.create()
  const p = await P256Keypair.create()
  const did = await client.createDid({ signingKey: p.did(), handle: 'lib.test', pds: 'https://lib.pds.test', rotationKeys: [k.did(), p.did()], signer: k })
  const { did: expected } = await plcLib.createOp({ signingKey: p.did(), handle: 'lib.test', pds: 'https://lib.pds.test', rotationKeys: [k.did(), p.did()], signer: k })
  assert.equal(did, expected)
  await client.updateHandle(did, p, 'lib2.test')
  await client.updatePds(did, k, 'https://lib2.pds.test')
  await client.updateAtprotoKey(did, k, k.did())
  const data = await client.getDocumentData(did)
  assert.deepEqual(data.alsoKnownAs, ['at://lib2.test'])
  assert.equal(data.services['atproto_pds']?.endpoint, 'https://lib2.pds.test')
  const log = await client.getOperationLog(did)
  assert.equal(log.length, 4)
  assert.deepEqual(await plcLib.validateOperationLog(did, log), data)
  const audit = await client.getAuditableLog(did)
  assert.deepEqual(audit.map((e) => e.nullified), [false, false, false, false])
  await client.tombstone(did, k)
  assert.equal((await fetch(`${plc.url}/${did}`)).status, 410)
})

test('read routes: document, data, log, audit, last — and our PlcClient', { timeout: 60_000 }, async () => {
  const g = newAccount('reader.test')
  assert.deepEqual(await postOp(plc.url, g.did, g.op), { status: 200, body: 'OK' })
  const u = createUpdateOp(g.op, { signer: rotation, handle: 'reader2.test' })
  assert.equal((await postOp(plc.url, g.did, u.op)).status, 200)

  const doc = await getJson(`${plc.url}/${g.did}`)
  assert.equal(doc.status, 200)
  assert.match(doc.type, /application\/did\+ld\+json/)
  const body = doc.body as { id: string; alsoKnownAs: string[]; verificationMethod: { id: string }[]; service: { id: string }[] }
  assert.equal(body.id, g.did)
  assert.deepEqual(body.alsoKnownAs, ['at://reader2.test'])
  assert.equal(body.verificationMethod[0]!.id, `${g.did}#atproto`)
  assert.equal(body.service[0]!.id, '#atproto_pds')

  const client = new PlcClient(plc.url)
  assert.deepEqual(await client.getDocument(g.did), doc.body)
  const data = await client.getDocumentData(g.did)
  assert.deepEqual(data.rotationKeys, [recovery.publicKey.didKey, rotation.publicKey.didKey])
  assert.deepEqual(await client.getLastOp(g.did), u.op)
  assert.deepEqual(await client.getLog(g.did), [g.op, u.op])
  const audit = await client.getAuditLog(g.did)
  assert.deepEqual(audit.map((e) => e.cid), [g.cid.toString(), u.cid.toString()])
  assert.ok(audit[0]!.createdAt < audit[1]!.createdAt)
  validateAuditLog(g.did, audit)
  assert.deepEqual(await client.health(), { version: 'atfed-plc/0.1.0' })

  const unknown = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' as Did
  for (const path of ['', '/data', '/log', '/log/audit', '/log/last']) {
    const res = await getJson(`${plc.url}/${unknown}${path}`)
    assert.equal(res.status, 404, path)
    assert.deepEqual(res.body, { error: 'DidNotFound', message: `DID not registered: ${unknown}` })
  }
  await assert.rejects(client.getDocument(unknown), { name: 'DidNotFound' })
  await assert.rejects(client.getAuditLog(unknown), { name: 'DidNotFound' })
  assert.equal((await getJson(`${plc.url}/did:web:example.com`)).status, 400)
})

test('tombstone: document and data are 410, last op is the tombstone, the DID is closed', { timeout: 60_000 }, async () => {
  const g = newAccount('gone.test')
  await postOp(plc.url, g.did, g.op)
  const t = createTombstone(g.op, { signer: rotation })
  assert.equal((await postOp(plc.url, g.did, t.op)).status, 200)
  for (const path of ['', '/data']) {
    const res = await getJson(`${plc.url}/${g.did}${path}`)
    assert.deepEqual(res, { status: 410, body: { error: 'DidDeactivated', message: `DID not available: ${g.did}` }, type: res.type })
  }
  const client = new PlcClient(plc.url)
  await assert.rejects(client.getDocument(g.did), { name: 'DidDeactivated' })
  assert.deepEqual(await client.getLastOp(g.did), t.op)
  assert.deepEqual(await client.getLog(g.did), [g.op, t.op])
  const after = createUpdateOp(g.op, { signer: recovery, handle: 'back.test' })
  const res = await postOp(plc.url, g.did, { ...after.op, prev: t.cid.toString() })
  assert.equal(res.status, 400)
  assert.equal((res.body as { error: string }).error, 'MisorderedOperation')
  await assert.rejects(client.submitOp(g.did, { ...after.op, prev: t.cid.toString() } as PlcOp), { name: 'MisorderedOperation' })
})

test('/export pages by createdAt and by seq, count capped, bad params 400', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 5; i++) {
    const g = newAccount(`export${i}.test`)
    assert.equal((await postOp(plc.url, g.did, g.op)).status, 200)
    plc.clock.advance(1)
  }
  const all = await exportLines('')
  assert.ok(all.length >= 5)
  const times = all.map((l) => Date.parse(l['createdAt'] as string))
  assert.deepEqual([...times].sort((a, b) => a - b), times)
  assert.equal(new Set(times).size, times.length)
  for (const l of all) assert.deepEqual(Object.keys(l).sort(), ['cid', 'createdAt', 'did', 'nullified', 'operation'])
  // Page by createdAt, two at a time.
  const paged: Record<string, unknown>[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await exportLines(`?count=2${cursor === undefined ? '' : `&after=${encodeURIComponent(cursor)}`}`)
    if (page.length === 0) break
    assert.ok(page.length <= 2)
    paged.push(...page)
    cursor = page.at(-1)!['createdAt'] as string
  }
  assert.deepEqual(paged, all)
  // Page by seq.
  const bySeq: Record<string, unknown>[] = []
  let seq = 0
  for (;;) {
    const page = await exportLines(`?count=3&after=${seq}`)
    if (page.length === 0) break
    bySeq.push(...page)
    seq = page.at(-1)!['seq'] as number
  }
  assert.deepEqual(bySeq.map((l) => l['cid']), all.map((l) => l['cid']))
  assert.deepEqual(bySeq.map((l) => l['seq']), all.map((_, i) => i + 1))
  assert.equal(bySeq[0]!['type'], 'sequenced_op')
  assert.equal((await exportLines('?count=100000')).length, all.length)
  for (const q of ['?count=0', '?count=abc', '?after=not-a-date', '?after=1&after=2']) {
    assert.equal((await fetch(`${plc.url}/export${q}`)).status, 400, q)
  }
})

test('HTTP edges: bad JSON 400, body too large 413, non-plc DID 400, health', { timeout: 60_000 }, async () => {
  const did = newAccount('edge.test').did
  const badJson = await postOp(plc.url, did, '{"type":')
  assert.deepEqual(badJson, { status: 400, body: { error: 'InvalidOperation', message: 'body is not valid JSON' } })
  // The body cap, at its edge: at the limit the op is parsed (and refused), one byte more is 413.
  const padded = (bytes: number) => {
    const shell = JSON.stringify({ type: 'plc_operation', pad: '' })
    return JSON.stringify({ type: 'plc_operation', pad: 'x'.repeat(bytes - shell.length) })
  }
  assert.equal(padded(PLC_REQUEST_BODY_BYTES_MAX).length, PLC_REQUEST_BODY_BYTES_MAX)
  const atCap = await postOp(plc.url, did, padded(PLC_REQUEST_BODY_BYTES_MAX))
  assert.deepEqual([atCap.status, (atCap.body as { error: string }).error], [400, 'InvalidOperation'])
  const huge = await postOp(plc.url, did, padded(PLC_REQUEST_BODY_BYTES_MAX + 1))
  assert.equal(huge.status, 413)
  assert.equal((huge.body as { error: string }).error, 'PayloadTooLarge')
  const webDid = await postOp(plc.url, 'did:web:example.com', newAccount('w.test').op)
  assert.equal((webDid.body as { error: string }).error, 'InvalidDid')
  assert.deepEqual((await getJson(`${plc.url}/_health`)).body, { version: 'atfed-plc/0.1.0' })
})

test('data persists across a restart; new ops continue the sequence', { timeout: 60_000 }, async () => {
  const g = newAccount('persist.test')
  await postOp(plc.url, g.did, g.op)
  const before = await exportLines('?after=0')
  const auditBefore = await getJson(`${plc.url}/${g.did}/log/audit`)
  plc = await plc.restart()
  assert.deepEqual(await getJson(`${plc.url}/${g.did}/log/audit`), auditBefore)
  assert.deepEqual(await exportLines('?after=0'), before)
  const u = createUpdateOp(g.op, { signer: rotation, pds: 'https://moved.example.com' })
  assert.equal((await postOp(plc.url, g.did, u.op)).status, 200)
  const afterRestart = await exportLines(`?after=${before.at(-1)!['seq']}`)
  assert.equal(afterRestart.length, 1)
  assert.equal(afterRestart[0]!['seq'], (before.at(-1)!['seq'] as number) + 1)
  assert.ok(Date.parse(afterRestart[0]!['createdAt'] as string) > Date.parse(before.at(-1)!['createdAt'] as string))
})

test('/export returns at most PLC_EXPORT_COUNT_MAX lines; the write queue is bounded (DirectoryBusy)', { timeout: 60_000 }, async () => {
  const have = (await exportLines('?after=0')).length
  const extra = PLC_EXPORT_COUNT_MAX + 1 - have
  const ops = Array.from({ length: Math.max(extra, PLC_WRITE_QUEUE_MAX + 1) }, (_, i) => newAccount(`bulk${i}.test`))
  // Queue PLC_WRITE_QUEUE_MAX + 1 submissions without yielding: the last is refused at once.
  const pending = ops.slice(0, PLC_WRITE_QUEUE_MAX + 1).map((g) => plc.directory.submit(g.did, g.op))
  const settled = await Promise.allSettled(pending)
  assert.equal(settled.filter((r) => r.status === 'fulfilled').length, PLC_WRITE_QUEUE_MAX)
  const refused = settled.at(-1)!
  assert.equal(refused.status, 'rejected')
  assert.equal((refused as PromiseRejectedResult).reason.name, 'DirectoryBusy')
  for (const g of ops.slice(PLC_WRITE_QUEUE_MAX, extra)) await plc.directory.submit(g.did, g.op)
  const page = await exportLines('?count=5000')
  assert.equal(page.length, PLC_EXPORT_COUNT_MAX)
  const rest = await exportLines(`?after=${encodeURIComponent(page.at(-1)!['createdAt'] as string)}`)
  assert.ok(rest.length >= 1)
  assert.equal((await exportLines(`?after=${PLC_EXPORT_COUNT_MAX}`)).length, rest.length)
})
