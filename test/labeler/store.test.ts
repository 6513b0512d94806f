/**
 * The label store on a real `level` directory: write conditions (rule
 * idempotency, negation of active labels only), group commit under
 * concurrency (unique seqs, log frames = stored labels, signatures verify),
 * the firehose cursor in the same batch, negation and expiry in
 * queryLabels, pattern semantics against a brute-force model (seeded),
 * cursor paging, the scan budget, and hostile parameters by error name.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { keypairFromPrivateKey } from '../../core/crypto/keypair.ts'
import { decodeFrame } from '../../core/stream/frames.ts'
import type { Did } from '../../core/syntax/did.ts'
import { LabelEmitter } from '../../feedgen/labeler/emitter.ts'
import { labelFromLex } from '../../feedgen/labeler/label.ts'
import type { SignedLabel } from '../../feedgen/labeler/label.ts'
import { verifyLabel } from '../../feedgen/labeler/label-sign.ts'
import { indexKey } from '../../feedgen/labeler/label-index.ts'
import { parseLabelQuery, queryLabels } from '../../feedgen/labeler/query.ts'
import { LabelStore } from '../../feedgen/labeler/store.ts'
import { tempDir } from '../helpers/plc.ts'
import { makeRng } from '../helpers/prng.ts'

const SRC = 'did:plc:labelerlabelerlabelerlab' as Did
const KEY = keypairFromPrivateKey('k256', Uint8Array.from(Buffer.from('11'.repeat(32), 'hex')))
const CID_A = 'bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq'
const CID_B = 'bafyreig5kbmufa4xexdnfih7by6a2q6fxwpacgg2wqfsg4gbh2ziwgdsm4'
const T0 = Date.parse('2025-03-01T00:00:00.000Z')

function post(n: number, repo = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'): string {
  return `at://${repo}/app.bsky.feed.post/post-${n}`
}

type Fixture = { store: LabelStore; emitter: LabelEmitter; clock: { t: number }; remove(): Promise<void> }

async function openFixture(): Promise<Fixture> {
  const dir = tempDir('atfed-labels-')
  const clock = { t: T0 }
  const store = await LabelStore.open(dir.path, { now: () => clock.t, sync: false })
  const emitter = new LabelEmitter({ did: SRC, signingKey: KEY, store, now: () => clock.t })
  return {
    store,
    emitter,
    clock,
    remove: async () => {
      await store.close()
      dir.remove()
    },
  }
}

async function query(f: Fixture, params: Record<string, string | string[]>, scanMax?: number) {
  return queryLabels(f.store, parseLabelQuery(params), { nowMs: f.clock.t, ...(scanMax === undefined ? {} : { scanMax }) })
}

async function allPages(f: Fixture, params: Record<string, string | string[]>, scanMax?: number): Promise<SignedLabel[]> {
  const out: SignedLabel[] = []
  let cursor: string | null = null
  for (let page = 0; page < 1000; page++) {
    const res = await query(f, cursor === null ? params : { ...params, cursor }, scanMax)
    out.push(...res.labels)
    if (res.cursor === null) return out
    cursor = res.cursor
  }
  throw new Error('paging did not end')
}

const keyOf = (l: SignedLabel): string => Buffer.from(indexKey(l.uri, l.src, l.val)).toString('hex')

describe('label store', () => {
  let f: Fixture
  before(async () => {
    f = await openFixture()
  })
  after(async () => {
    await f.remove()
  })

  test('new-for-cid skips a label already there for the same cid; a new cid writes', async () => {
    const first = await f.emitter.emit([{ uri: post(1), cid: CID_A, val: 'spam' }], { when: 'new-for-cid' })
    assert.equal(first.outcomes[0]?.written, true)
    const again = await f.emitter.emit([{ uri: post(1), cid: CID_A, val: 'spam' }], { when: 'new-for-cid' })
    assert.deepEqual(again.outcomes.map((o) => o.written), [false])
    const newVersion = await f.emitter.emit([{ uri: post(1), cid: CID_B, val: 'spam' }], { when: 'new-for-cid' })
    assert.equal(newVersion.outcomes[0]?.written, true)
    // Two requests for the same triple in one write: the second sees the first.
    const twice = await f.emitter.emit([{ uri: post(2), val: 'rude' }, { uri: post(2), val: 'rude' }], { when: 'new-for-cid' })
    assert.deepEqual(twice.outcomes.map((o) => o.written), [true, false])
  })

  test('a negation needs an active label, is signed, carries the cid, and keeps a replayed rule label away', async () => {
    await assert.rejects(f.emitter.negate({ uri: post(3), val: 'spam' }), { name: 'LabelNotFound' })
    const labeled = await f.emitter.emit([{ uri: post(3), cid: CID_A, val: 'spam' }], { when: 'new-for-cid' })
    assert.equal((await query(f, { uriPatterns: post(3) })).labels.length, 1)
    const { label } = await f.emitter.negate({ uri: post(3), val: 'spam' })
    assert.equal(label.neg, true)
    // The clock stands still here: the negation is still later ("the latest cts wins").
    const labeledCts = (labeled.outcomes[0] as { label: { cts: string } }).label.cts
    assert.equal(Date.parse(label.cts), Date.parse(labeledCts) + 1)
    assert.equal(label.cid, CID_A)
    assert.equal(verifyLabel(label, KEY.publicKey), true)
    assert.equal((await query(f, { uriPatterns: post(3) })).labels.length, 0)
    await assert.rejects(f.emitter.negate({ uri: post(3), val: 'spam' }), { name: 'LabelNotFound' })
    // The firehose replays the same post: the operator's negation stands.
    const replay = await f.emitter.emit([{ uri: post(3), cid: CID_A, val: 'spam' }], { when: 'new-for-cid' })
    assert.equal(replay.outcomes[0]?.written, false)
    assert.equal((await query(f, { uriPatterns: post(3) })).labels.length, 0)
    // An explicit label brings it back.
    await f.emitter.emit([{ uri: post(3), cid: CID_A, val: 'spam' }], { when: 'always' })
    assert.equal((await query(f, { uriPatterns: post(3) })).labels.length, 1)
  })

  test('expired labels leave queryLabels when their exp passes, and cannot be negated', async () => {
    const exp = new Date(T0 + 60_000).toISOString()
    await f.emitter.emit([{ uri: post(4), val: 'temporary', exp }], { when: 'always' })
    assert.equal((await query(f, { uriPatterns: post(4) })).labels[0]?.exp, exp)
    f.clock.t = T0 + 60_000
    assert.equal((await query(f, { uriPatterns: post(4) })).labels.length, 0)
    await assert.rejects(f.emitter.negate({ uri: post(4), val: 'temporary' }), { name: 'LabelNotFound' })
    f.clock.t = T0
  })

  test('concurrent writes are grouped: unique seqs, and the log holds exactly the stored labels as #labels frames', async () => {
    const before = f.store.log.lastSeq()
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => f.emitter.emit([{ uri: post(100 + i), val: 'bulk' }], { when: 'new-for-cid' })),
    )
    const seqs = results.map((r) => {
      const o = r.outcomes[0]
      assert.ok(o?.written)
      return o.seq
    })
    assert.equal(new Set(seqs).size, 200)
    assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => before + 1 + i))
    const frames = []
    for await (const entry of f.store.log.read(before)) frames.push(entry)
    assert.equal(frames.length, 200)
    for (const { seq, frameBytes } of frames) {
      const frame = decodeFrame(frameBytes)
      assert.ok(frame.kind === 'message' && frame.t === '#labels')
      assert.equal(frame.payload.seq, seq)
      const labels = frame.payload.labels as unknown[]
      assert.equal(labels.length, 1)
      const label = labelFromLex(labels[0] as never)
      assert.equal(verifyLabel(label, KEY.publicKey), true)
      const stored = await f.store.current(label.uri, label.src, label.val)
      assert.deepEqual(stored, label)
    }
  })

  test('a handler cursor lands in the same batch (the highest of a group)', async () => {
    await Promise.all([
      f.emitter.emit([{ uri: post(400), val: 'c' }], { when: 'new-for-cid', cursor: () => 41 }),
      f.emitter.emit([{ uri: post(401), val: 'c' }], { when: 'new-for-cid', cursor: () => 42 }),
      f.emitter.emit([{ uri: post(402), val: 'c' }], { when: 'new-for-cid', cursor: () => null }),
    ])
    assert.equal(await f.store.cursor.get(), 42)
    // Nothing written (all present): no cursor write either.
    const none = await f.emitter.emit([{ uri: post(400), val: 'c' }], { when: 'new-for-cid', cursor: () => 99 })
    assert.equal(none.cursorPersisted, null)
    assert.equal(await f.store.cursor.get(), 42)
  })
})

describe('queryLabels', () => {
  let f: Fixture
  const labels = new Map<string, SignedLabel>()
  const repos = ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaab', 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb', 'did:web:example.com']
  const vals = ['spam', 'porn', 'nudity', 'x-1']
  before(async () => {
    f = await openFixture()
    const rng = makeRng(0xbee5)
    const requests = []
    for (let i = 0; i < 300; i++) {
      const repo = rng.pick(repos)
      const uri = rng.next() < 0.2 ? repo : post(rng.int(40), repo)
      requests.push({ uri, val: rng.pick(vals) })
    }
    const { outcomes } = await f.emitter.emit(requests, { when: 'new-for-cid' })
    for (const o of outcomes) if (o.written) labels.set(keyOf(o.label), o.label)
    // Negate a few: they must disappear from every answer.
    for (const label of [...labels.values()].slice(0, 15)) {
      await f.emitter.negate({ uri: label.uri, val: label.val })
      labels.delete(keyOf(label))
    }
  })
  after(async () => {
    await f.remove()
  })

  function model(patterns: readonly string[], sources: readonly string[] = []): string[] {
    const match = (uri: string): boolean => patterns.some((p) => (p.endsWith('*') ? uri.startsWith(p.slice(0, -1)) : uri === p))
    return [...labels.values()]
      .filter((l) => match(l.uri) && (sources.length === 0 || sources.includes(l.src)))
      .map(keyOf)
      .sort()
  }

  test('seeded pattern sets give exactly the model, in key order, without duplicates, across pages', async () => {
    const rng = makeRng(0x9a77e2)
    const pool = [
      '*',
      ...repos,
      ...repos.map((r) => `at://${r}*`),
      ...repos.map((r) => `at://${r}/app.bsky.feed.post/*`),
      'at://did:plc:aaaaaaaaaaaaaaaaaaaaaaa*',
      'at://did:plc:*',
      'did:*',
      ...Array.from({ length: 10 }, (_, i) => post(i, rng.pick(repos))),
    ]
    let nonEmpty = 0
    for (let round = 0; round < 25; round++) {
      const patterns = Array.from({ length: 1 + rng.int(6) }, () => rng.pick(pool))
      const limit = String(1 + rng.int(40))
      const got = (await allPages(f, { uriPatterns: patterns, limit })).map(keyOf)
      assert.deepEqual(got, model(patterns), JSON.stringify(patterns))
      if (got.length > 0) nonEmpty++
    }
    assert.ok(nonEmpty >= 15, `only ${nonEmpty} rounds matched anything`)
  })

  test('sources filter, default and maximum limit', async () => {
    assert.equal((await query(f, { uriPatterns: '*', sources: 'did:plc:someoneelse2345678901234' })).labels.length, 0)
    assert.deepEqual((await allPages(f, { uriPatterns: '*', sources: [SRC, 'did:web:other.example'] })).map(keyOf), model(['*']))
    assert.equal((await query(f, { uriPatterns: '*' })).labels.length, 50)
    assert.equal((await query(f, { uriPatterns: '*', limit: '250' })).labels.length, Math.min(250, labels.size))
  })

  test('the scan budget ends a page early with a cursor, and paging still reaches everything', async () => {
    const page = await query(f, { uriPatterns: '*', limit: '250' }, 7)
    assert.ok(page.labels.length <= 7)
    assert.notEqual(page.cursor, null)
    const none = await query(f, { uriPatterns: '*', sources: 'did:plc:someoneelse2345678901234' }, 7)
    assert.equal(none.labels.length, 0)
    assert.notEqual(none.cursor, null, 'a filtered-out scan stops with a cursor, not after the whole index')
    assert.deepEqual((await allPages(f, { uriPatterns: '*', limit: '250' }, 7)).map(keyOf), model(['*']))
  })

  test('metacharacters are literal: only a single trailing * is special', async () => {
    for (const p of ['at://did:plc:.*', 'at://did:plc:%', 'at://did:plc:_aaaaaaaaaaaaaaaaaaaaaaa*', 'at://did:plc:a*a*', '.*', '[a-z]*', '**', '(a+)+$', '%', '_']) {
      assert.deepEqual((await allPages(f, { uriPatterns: p })).map(keyOf), model([p]), p)
      assert.equal(model([p]).length, 0, p)
    }
  })

  test('hostile or malformed parameters are refused with InvalidRequest', () => {
    const bad: Array<Record<string, string | string[]>> = [
      {},
      { uriPatterns: '' },
      { uriPatterns: Array.from({ length: 51 }, (_, i) => `at://x${i}`) },
      { uriPatterns: `at://${'a'.repeat(2049)}` },
      { uriPatterns: 'at://did:plc:a\u0000b' },
      { uriPatterns: '*', limit: '0' },
      { uriPatterns: '*', limit: '251' },
      { uriPatterns: '*', limit: '1e2' },
      { uriPatterns: '*', limit: ['1', '2'] },
      { uriPatterns: '*', sources: 'not-a-did' },
      { uriPatterns: '*', sources: Array.from({ length: 21 }, (_, i) => `did:plc:${'a'.repeat(23)}${i % 10}`) },
      { uriPatterns: '*', cursor: 'not base64!' },
      { uriPatterns: '*', cursor: Buffer.from('no separators').toString('base64url') },
      { uriPatterns: '*', cursor: 'A'.repeat(20_000) },
    ]
    for (const params of bad) assert.throws(() => parseLabelQuery(params), { name: 'InvalidRequest' }, JSON.stringify(params).slice(0, 80))
    // At the limits: accepted.
    parseLabelQuery({ uriPatterns: Array.from({ length: 50 }, (_, i) => `at://x${i}*`) })
    parseLabelQuery({ uriPatterns: `at://${'a'.repeat(2043)}` })
  })
})
