/**
 * Adversarial cases §4.3 (DAG-CBOR and the data model), fed to the PDS over
 * HTTP. CBOR cases 4.3.1–4.3.8: the hostile bytes are a record block inside
 * a validly signed repo CAR sent as `importRepo` (the PDS decodes every
 * block strictly before writing): `InvalidRecord` with the decoder's reason
 * (`InvalidCbor` + reason, checked on the same bytes), nothing written, the
 * PDS answering. JSON cases 4.3.9: `createRecord` bodies on a live account:
 * refused by name, no commit, no prototype polluted.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { signCommit } from '../../core/repo/commit.ts'
import { Mst } from '../../core/repo/mst/mst.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { xrpc } from '../helpers/pds.ts'
import { refused, startImportTarget, type ImportTarget } from './import-target.ts'

const T = { timeout: 30_000 }
const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/ /g, ''), 'hex'))
const CID_HEX = '01711220' + 'ab'.repeat(32)

describe('adversarial §4.3: DAG-CBOR and data model (importRepo and createRecord over HTTP)', { timeout: 120_000 }, () => {
  let t: ImportTarget
  before(async () => {
    t = await startImportTarget()
  })
  after(() => t.stop())

  /** alice's one-record repo whose record block is `recordBytes`, signed by her key. */
  function recordCar(recordBytes: Uint8Array): Uint8Array {
    const recordCid = cidForCbor(recordBytes)
    const { root, newBlocks } = Mst.create().insert('app.bsky.feed.post/3kaaaaaaaaaaa', recordCid).collectNewBlocks()
    const commit = signCommit({ did: t.did, version: 3, data: root, rev: new TidClock().next(), prev: null }, t.keyA)
    return encodeCarBytes(commit.cid, new MemoryBlockMap().addAll(newBlocks).set(recordCid, recordBytes).set(commit.cid, commit.bytes))
  }

  /** Every `[hex, reason]` fails the decoder with that reason, and the PDS refuses it as a record. */
  async function refusesRecords(cases: Array<[string, string]>): Promise<void> {
    for (const [h, reason] of cases) {
      const bytes = hex(h)
      assert.throws(() => decodeCbor(bytes), { name: 'InvalidCbor', reason }, h)
      await refused(t, recordCar(bytes), { error: 'InvalidRecord' })
    }
  }

  it('4.3.1 map keys out of canonical order (length-first, then bytewise) → MapKeyOrder', T, async () => {
    await refusesRecords([
      ['a2 626262 01 6161 02', 'MapKeyOrder'], // {"bb", "a"}: longer key first
      ['a2 6162 01 6161 02', 'MapKeyOrder'], // {"b", "a"}
    ])
  })

  it('4.3.2 non-minimal integers and lengths, indefinite strings, arrays and maps → NotShortest / IndefiniteLength', T, async () => {
    await refusesRecords([
      ['a1 6161 1801', 'NotShortest'],
      ['a1 6161 790001 61', 'NotShortest'],
      ['a1 6161 7f 6161 ff', 'IndefiniteLength'],
      ['a1 6161 9f ff', 'IndefiniteLength'],
      ['a1 6161 bf ff', 'IndefiniteLength'],
      ['bf 6161 01 ff', 'IndefiniteLength'],
    ])
  })

  it('4.3.3 floats: 1.0 (half, single, double), NaN, ±Infinity → Float', T, async () => {
    await refusesRecords([
      ['a1 6161 f93c00', 'Float'],
      ['a1 6161 fa3f800000', 'Float'],
      ['a1 6161 fb3ff0000000000000', 'Float'],
      ['a1 6161 fb7ff8000000000000', 'Float'],
      ['a1 6161 fb7ff0000000000000', 'Float'],
      ['a1 6161 fbfff0000000000000', 'Float'],
    ])
  })

  it('4.3.4 integers beyond ±(2^53-1) → UnsafeInteger; a negative blob size → InvalidRecord (createRecord)', T, async () => {
    await refusesRecords([
      ['a1 6161 1b0020000000000000', 'UnsafeInteger'],
      ['a1 6161 3b0020000000000000', 'UnsafeInteger'],
    ])
    await refusedJson({ $type: 'com.example.adversarial', image: blob({ size: -1 }) }, ['InvalidRecord', 'InvalidRequest'])
  })

  it('4.3.5 duplicate map keys and non-string map keys → DuplicateMapKey / MapKeyNotString', T, async () => {
    await refusesRecords([
      ['a2 6161 01 6161 02', 'DuplicateMapKey'],
      ['a1 01 01', 'MapKeyNotString'],
      ['a1 41 61 01', 'MapKeyNotString'],
    ])
  })

  it('4.3.6 tag 42 without the 0x00 prefix, and tags other than 42 → InvalidCidLink / UnsupportedTag', T, async () => {
    await refusesRecords([
      [`a1 6161 d82a 5824 ${CID_HEX}`, 'InvalidCidLink'],
      ['a1 6161 c1 1a5f5e1000', 'UnsupportedTag'],
      [`a1 6161 d82b 5825 00${CID_HEX}`, 'UnsupportedTag'],
    ])
  })

  it('4.3.7 trailing bytes after the top-level object → TrailingBytes', T, async () => {
    await refusesRecords([['a1 6161 01 00', 'TrailingBytes'], ['a0 a0', 'TrailingBytes']])
  })

  it('4.3.8 nesting 10,000 deep, a 10-million-element array head, an 8 MB map-key head → refused at the caps', T, async () => {
    await refusesRecords([
      ['a1 6161 ' + '81'.repeat(10_000) + '80', 'DepthExceeded'],
      ['a1 6161 9a00989680', 'ContainerTooLong'],
      ['a1 7a00800000', 'MapKeyTooLong'],
    ])
  })

  // ── 4.3.9: JSON inputs, createRecord on alice's live account on A ──

  const blob = (over: Record<string, unknown>) => ({
    $type: 'blob',
    ref: { $link: 'bafkreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454' },
    mimeType: 'image/png',
    size: 10,
    ...over,
  })

  /** createRecord of `record` on A is refused by one of `names`; no commit; A answers. */
  async function refusedJson(record: unknown, names: string[], bodyText?: string): Promise<void> {
    const a = t.world.a
    const head = a.ctx.repos.getHead(t.did)
    const body = bodyText ?? JSON.stringify({ repo: t.did, collection: 'com.example.adversarial', record })
    const res = await fetch(`${a.publicUrl}/xrpc/com.atproto.repo.createRecord`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.world.alice.accessJwt}`, 'content-type': 'application/json' },
      body,
    })
    const reply = (await res.json()) as { error?: string }
    assert.ok(names.includes(reply.error ?? ''), `${body.slice(0, 120)}: ${res.status} ${JSON.stringify(reply)}`)
    assert.equal(res.status, 400)
    assert.deepEqual(a.ctx.repos.getHead(t.did), head, 'no commit')
    assert.equal((await xrpc(a.publicUrl, 'com.atproto.server.describeServer')).status, 200)
  }

  it('4.3.9 JSON: $bytes with extra fields, bogus $link, bad $type, blob size as a string refused; __proto__/constructor kept as data, no pollution', T, async () => {
    const base = { $type: 'com.example.adversarial', createdAt: '2024-01-01T00:00:00.000Z' }
    const bad = ['InvalidRecord', 'InvalidRequest']
    await refusedJson({ ...base, b: { $bytes: 'AAAA', extra: 1 } }, bad)
    await refusedJson({ ...base, l: { $link: 'bafy-not-a-cid' } }, bad)
    await refusedJson({ ...base, l: { $link: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG' } }, bad) // CIDv0: not canonical
    for (const $type of [null, '', 5, {}]) await refusedJson({ ...base, $type }, bad)
    await refusedJson({ ...base, image: blob({ size: '10' }) }, bad)
    // __proto__ and constructor are valid data-model keys: kept as own data (as JSON.parse keeps them),
    // round-tripped by getRecord, and nothing reaches Object.prototype.
    for (const key of ['__proto__', 'constructor']) {
      const text = `{"repo":"${t.did}","collection":"com.example.adversarial","record":{"$type":"com.example.adversarial","${key}":{"polluted":true}}}`
      const res = await fetch(`${t.world.a.publicUrl}/xrpc/com.atproto.repo.createRecord`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.world.alice.accessJwt}`, 'content-type': 'application/json' },
        body: text,
      })
      const created = (await res.json()) as { uri: string }
      assert.equal(res.status, 200, JSON.stringify(created))
      const rkey = created.uri.split('/').pop() ?? ''
      const read = await xrpc(t.world.a.publicUrl, 'com.atproto.repo.getRecord', { params: { repo: t.did, collection: 'com.example.adversarial', rkey } })
      assert.ok(read.body.value[key] !== undefined && Object.hasOwn(JSON.parse(JSON.stringify(read.body.value)), key), `${key} is kept as data`)
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched')
    }
  })
})
