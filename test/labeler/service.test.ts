/**
 * The labeler end to end on 127.0.0.1: our PLC directory, a scripted
 * firehose of real signed commits from accounts registered in that PLC, and
 * `startLabeler` (did:plc). A rule-matching post gets a label whose
 * signature verifies against the `#atproto_label` key resolved from our PLC
 * (our verifier, and @atproto/crypto over @ipld/dag-cbor; the response also
 * passes @atproto/api's lexicon-checked client); account rules; a hostile
 * text against a catastrophic rule; queryLabels over HTTP; subscribeLabels
 * backfill, live, cursor and FutureCursor; the admin methods (auth, names of
 * refusals, negation, expiry); restart from the stored cursor without a
 * duplicate label, a rewound cursor that replays everything and writes
 * nothing, and the PLC endpoint following a new port.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { AtpAgent, ComAtprotoLabelDefs } from '@atproto/api'
import { verifySignature as atprotoVerify } from '@atproto/crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { WebSocket } from 'ws'
import { jsonToLex } from '../../core/data/json.ts'
import { decodeFrame } from '../../core/stream/frames.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { CREATE_LABEL_NSID, NEGATE_LABEL_NSID } from '../../feedgen/labeler/admin.ts'
import { labelFromLex } from '../../feedgen/labeler/label.ts'
import type { SignedLabel } from '../../feedgen/labeler/label.ts'
import { verifyLabel } from '../../feedgen/labeler/label-sign.ts'
import { parseRules } from '../../feedgen/labeler/rules.ts'
import { LabelStore } from '../../feedgen/labeler/store.ts'
import type { TestAccount } from '../helpers/feed-accounts.ts'
import { startLabelerHarness } from '../helpers/labeler-harness.ts'
import type { LabelerHarness } from '../helpers/labeler-harness.ts'

type StreamMessage = { t: string; payload: Record<string, unknown> } | { error: string }

/** Open subscribeLabels, collect `count` messages (or until the server closes), then close. */
async function readStream(base: string, cursor: number | null, count: number, whileOpen?: () => Promise<void>): Promise<StreamMessage[]> {
  const url = `${base.replace('http', 'ws')}/xrpc/com.atproto.label.subscribeLabels${cursor === null ? '' : `?cursor=${cursor}`}`
  const ws = new WebSocket(url)
  const out: StreamMessage[] = []
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream: ${out.length} of ${count} messages`)), 10_000)
    ws.on('message', (data: Buffer) => {
      const frame = decodeFrame(new Uint8Array(data))
      if (frame.kind === 'message') out.push({ t: frame.t, payload: frame.payload as Record<string, unknown> })
      if (frame.kind === 'error') out.push({ error: frame.error })
      if (out.length >= count) {
        clearTimeout(timer)
        resolve()
      }
    })
    ws.on('close', () => {
      clearTimeout(timer)
      resolve()
    })
    ws.on('error', reject)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => {
      out.push({ error: `HTTP ${res.statusCode}` })
      resolve()
    })
  })
  await whileOpen?.()
  await done
  ws.close()
  return out
}

function labelsOf(messages: StreamMessage[]): SignedLabel[] {
  return messages.flatMap((m) => ('t' in m && m.t === '#labels' ? (m.payload.labels as unknown[]).map((l) => labelFromLex(l as never)) : []))
}

const ADMIN = { create: CREATE_LABEL_NSID, negate: NEGATE_LABEL_NSID }

describe('labeler service (did:plc, rules, firehose)', () => {
  let h: LabelerHarness
  let alice: TestAccount
  let bot: TestAccount
  let skewMs = 0
  let rules = parseRules({ rules: [] })

  before(async () => {
    h = await startLabelerHarness({ rules: () => rules, now: () => Date.now() + skewMs, matchTimeoutMs: 200 })
    alice = await h.account('alice')
    bot = await h.account('bot')
    rules = parseRules({
      rules: [
        { id: 'crypto', kind: 'text', pattern: 'free\\s+crypto', flags: 'i', val: 'spam' },
        { id: 'redos', kind: 'text', pattern: '(a+)+$', val: 'redos' },
        { id: 'bots', kind: 'account', dids: [bot.did], val: 'bot' },
      ],
    })
    await h.restart()
  })
  after(async () => {
    await h?.close()
  })

  test('the DID document at our PLC names the label key and the labeler endpoint', async () => {
    assert.match(h.labeler.did, /^did:plc:[a-z2-7]{24}$/)
    const doc = (await (await fetch(`${h.plc.url}/${h.labeler.did}`)).json()) as {
      verificationMethod: Array<{ id: string; type: string; publicKeyMultibase: string }>
      service: Array<{ id: string; type: string; serviceEndpoint: string }>
    }
    const method = doc.verificationMethod.find((m) => m.id === `${h.labeler.did}#atproto_label`)
    assert.equal(method?.type, 'Multikey')
    assert.equal(method?.publicKeyMultibase, h.labeler.signingKey.publicKey.multikey)
    assert.deepEqual(doc.service.find((s) => s.id === '#atproto_labeler'), { id: '#atproto_labeler', type: 'AtprotoLabeler', serviceEndpoint: h.labeler.url })
    const identity = await h.resolver.refresh(h.labeler.did)
    assert.equal(identity.labeler.endpoint, h.labeler.url)
    assert.equal(identity.labeler.key?.didKey, h.labeler.signingKey.publicKey.didKey)
    assert.equal((await h.query({ uriPatterns: '*' })).body.labels.length, 0)
    const wellKnown = await fetch(`${h.labeler.url}/.well-known/did.json`)
    assert.equal(wellKnown.status, 404, 'a did:plc labeler serves no did:web document')
  })

  test('a rule-matching post gets a label that verifies against the key resolved from our PLC', async () => {
    const spam = alice.post('Get FREE  crypto now!!')
    const fine = alice.post('a calm post about free software')
    await h.emit(spam.event, fine.event)
    const { status, body } = await h.query({ uriPatterns: `at://${alice.did}/*` })
    assert.equal(status, 200)
    assert.equal(body.labels.length, 1)
    const json = body.labels[0]
    assert.deepEqual(
      { ver: json.ver, src: json.src, uri: json.uri, cid: json.cid, val: json.val, neg: json.neg },
      { ver: 1, src: h.labeler.did, uri: spam.uri, cid: spam.cid.toString(), val: 'spam', neg: undefined },
    )
    const label = labelFromLex(jsonToLex(json))
    const key = (await h.resolver.resolveDid(h.labeler.did)).labeler.key
    assert.ok(key !== undefined)
    assert.equal(verifyLabel(label, key), true)
    // The reference stack: DAG-CBOR of the label without sig (@ipld/dag-cbor), @atproto/crypto verify with the PLC's did:key.
    const { sig, ...unsigned } = json as { sig: { $bytes: string } }
    const sigBytes = Uint8Array.from(Buffer.from(sig.$bytes, 'base64'))
    assert.equal(await atprotoVerify(key.didKey, dagCbor.encode(unsigned), sigBytes), true)
    assert.equal(await atprotoVerify(key.didKey, dagCbor.encode({ ...unsigned, val: 'other' }), sigBytes), false)
  })

  test("@atproto/api's lexicon-checked client reads our queryLabels, and its label validator accepts every label", async () => {
    const agent = new AtpAgent({ service: h.labeler.url })
    const res = await agent.com.atproto.label.queryLabels({ uriPatterns: ['*'] })
    assert.ok(res.data.labels.length >= 1)
    for (const label of res.data.labels) {
      const checked = ComAtprotoLabelDefs.validateLabel({ $type: 'com.atproto.label.defs#label', ...label })
      assert.equal(checked.success, true, JSON.stringify(label))
      const unsigned = { ...label } as Record<string, unknown>
      delete unsigned.sig
      const key = h.labeler.signingKey.publicKey.didKey
      assert.equal(await atprotoVerify(key, dagCbor.encode(unsigned), label.sig as Uint8Array), true)
    }
  })

  test('account rules label the account once; a hostile text against a catastrophic rule times out without stalling the stream', async () => {
    const before = h.labeler.engine.stats()
    const events = [bot.post('beep').event, bot.post('boop').event, alice.post(`${'a'.repeat(40)}!`).event, alice.post('free crypto again').event]
    await h.emit(...events)
    const stats = h.labeler.engine.stats()
    assert.equal(stats.matchTimeouts - before.matchTimeouts, 1)
    const botLabels = (await h.query({ uriPatterns: bot.did })).body.labels
    assert.deepEqual(botLabels.map((l: { uri: string; val: string }) => [l.uri, l.val]), [[bot.did, 'bot']])
    const alices = (await h.query({ uriPatterns: `at://${alice.did}/*` })).body.labels
    assert.equal(alices.length, 2, 'the post after the hostile one was still labeled')
    assert.deepEqual(await h.query({ uriPatterns: `at://${alice.did}/.*` }), { status: 200, body: { labels: [] } })
    const hostile = await h.query({ uriPatterns: Array.from({ length: 51 }, () => '*') })
    assert.deepEqual([hostile.status, hostile.body.error], [400, 'InvalidRequest'])
  })

  test('subscribeLabels: backfill from 0 then live, from a cursor, FutureCursor, live-only without a cursor, 426 without upgrade', async () => {
    const last = h.labeler.store.log.lastSeq()
    assert.ok(last >= 3)
    let liveLabel: SignedLabel | null = null
    const all = await readStream(h.labeler.url, 0, last + 1, async () => {
      const res = await h.admin(ADMIN.create, { uri: alice.did, val: 'live-one' })
      assert.equal(res.status, 200)
      liveLabel = labelFromLex(jsonToLex(res.body.label))
    })
    assert.deepEqual(all.map((m) => ('t' in m ? [m.t, m.payload.seq] : m)), Array.from({ length: last + 1 }, (_, i) => ['#labels', i + 1]))
    const labels = labelsOf(all)
    assert.deepEqual(labels[last], liveLabel)
    for (const label of labels) assert.equal(verifyLabel(label, h.labeler.signingKey.publicKey), true)
    const tail = await readStream(h.labeler.url, last - 1, 2)
    assert.deepEqual(tail.map((m) => ('t' in m ? m.payload.seq : m)), [last, last + 1])
    assert.deepEqual(await readStream(h.labeler.url, last + 50, 1), [{ error: 'FutureCursor' }])
    const live = await readStream(h.labeler.url, null, 1, async () => {
      await new Promise((r) => setTimeout(r, 50))
      await h.admin(ADMIN.create, { uri: alice.did, val: 'live-two' })
    })
    assert.deepEqual(labelsOf(live).map((l) => l.val), ['live-two'])
    const plain = await fetch(`${h.labeler.url}/xrpc/com.atproto.label.subscribeLabels`)
    assert.equal(plain.status, 426)
  })

  test('subscribeLabels below a trimmed floor: #info OutdatedCursor, then the oldest retained label onwards', async () => {
    // The labeler never trims its label log; an operator (or a future retention option) might: the stream says so.
    const head = h.labeler.store.log.lastSeq()
    await new Promise((r) => setTimeout(r, 5))
    assert.ok((await h.labeler.store.log.trim(0)) >= head - 1)
    const messages = await readStream(h.labeler.url, 1, 2, async () => {
      await h.admin(ADMIN.create, { uri: alice.did, val: 'after-trim' })
    })
    assert.deepEqual(messages[0], { t: '#info', payload: { name: 'OutdatedCursor', message: (messages[0] as { payload: { message?: string } }).payload.message } })
    assert.deepEqual(labelsOf(messages).map((l) => l.val), ['after-trim'])
  })

  test('admin methods: Basic auth, refusals by name, negation removes the label and streams a signed neg', async () => {
    const target = alice.post('to be labeled by hand')
    assert.equal((await h.admin(ADMIN.create, { uri: target.uri, val: 'manual' }, null)).status, 401)
    assert.equal((await h.admin(ADMIN.create, { uri: target.uri, val: 'manual' }, 'wrong')).status, 401)
    const refusals: Array<[unknown, string]> = [
      [{ uri: target.uri, val: 'Not Lowercase' }, 'InvalidLabelValue'],
      [{ uri: target.uri, val: 'has space' }, 'InvalidLabelValue'],
      [{ uri: target.uri, val: 'x'.repeat(129) }, 'InvalidLabelValue'],
      [{ uri: target.uri, val: '!destroy' }, 'InvalidLabelValue'],
      [{ uri: 'alice.invalid', val: 'manual' }, 'InvalidLabelSubject'],
      [{ uri: alice.did, cid: target.cid.toString(), val: 'manual' }, 'InvalidLabelSubject'],
      [{ uri: target.uri, val: 'manual', exp: 'tomorrow' }, 'InvalidDatetime'],
      [{ uri: target.uri, val: 'manual', exp: '2001-01-01T00:00:00Z' }, 'InvalidRequest'],
      [{ uri: target.uri, val: 'manual', extra: true }, 'InvalidRequest'],
      [{ uri: target.uri }, 'InvalidRequest'],
      [['not', 'an', 'object'], 'InvalidRequest'],
    ]
    for (const [body, name] of refusals) {
      const res = await h.admin(ADMIN.create, body)
      assert.deepEqual([res.status, res.body.error], [400, name], JSON.stringify(body))
    }
    const created = await h.admin(ADMIN.create, { uri: target.uri, cid: target.cid.toString(), val: 'manual' })
    assert.equal(created.status, 200)
    assert.equal((await h.query({ uriPatterns: target.uri })).body.labels.length, 1)
    const seqBefore = h.labeler.store.log.lastSeq()
    const negated = await h.admin(ADMIN.negate, { uri: target.uri, val: 'manual' })
    assert.equal(negated.status, 200)
    assert.equal(negated.body.seq, seqBefore + 1)
    assert.equal(negated.body.label.neg, true)
    assert.equal(negated.body.label.cid, target.cid.toString())
    assert.deepEqual((await h.query({ uriPatterns: target.uri })).body.labels, [])
    const streamed = labelsOf(await readStream(h.labeler.url, seqBefore, 1))
    assert.equal(streamed[0]?.neg, true)
    assert.equal(verifyLabel(streamed[0] as SignedLabel, h.labeler.signingKey.publicKey), true)
    const again = await h.admin(ADMIN.negate, { uri: target.uri, val: 'manual' })
    assert.deepEqual([again.status, again.body.error], [400, 'LabelNotFound'])
  })

  test('expiry: a label with exp is served until then, and not after', async () => {
    const exp = new Date(Date.now() + skewMs + 60_000).toISOString()
    const created = await h.admin(ADMIN.create, { uri: bot.did, val: 'probation', exp })
    assert.equal(created.body.label.exp, exp)
    assert.deepEqual((await h.query({ uriPatterns: bot.did })).body.labels.map((l: { val: string }) => l.val).sort(), ['bot', 'probation'])
    skewMs += 61_000
    assert.deepEqual((await h.query({ uriPatterns: bot.did })).body.labels.map((l: { val: string }) => l.val), ['bot'])
    skewMs -= 61_000
  })

  test('restart resumes from the stored cursor: events sent while down are labeled once; a rewound cursor writes nothing', async () => {
    const plc = new PlcClient(h.plc.url)
    const opsBefore = (await plc.getAuditLog(h.labeler.did)).length
    const did = h.labeler.did
    const oldUrl = h.labeler.url
    const labelsBefore = h.labeler.store.log.lastSeq()
    const whileDown = alice.post('free crypto while the labeler sleeps')
    let seq = 0
    await h.restart(async () => {
      seq = h.source.emit(whileDown.event)
    })
    await h.labeler.consumer?.whenHandled(seq)
    assert.equal(h.labeler.did, did, 'same identity after restart')
    assert.equal(h.labeler.store.log.lastSeq(), labelsBefore + 1)
    assert.equal((await h.query({ uriPatterns: whileDown.uri })).body.labels.length, 1)
    // The endpoint followed the new port: one update op at the directory.
    assert.notEqual(h.labeler.url, oldUrl)
    const ops = await plc.getAuditLog(did)
    assert.equal(ops.length, opsBefore + 1)
    assert.equal((await h.resolver.refresh(did)).labeler.endpoint, h.labeler.url)
    // Rewind the firehose cursor to 0: everything is replayed, no label is written twice.
    await h.restart(async (dataDir) => {
      const store = await LabelStore.open(dataDir)
      await store.cursor.set(0)
      await store.close()
    })
    await h.labeler.consumer?.whenHandled(h.source.lastSeq)
    const stats = h.labeler.engine.stats()
    assert.equal(stats.events, h.source.lastSeq, 'every event since cursor 0 was replayed')
    assert.equal(stats.labelsWritten, 0)
    assert.ok(stats.labelsPresent >= 4)
    assert.equal(h.labeler.store.log.lastSeq(), labelsBefore + 1)
    // The consumer stores the cursor of label-less events itself, shortly after handling them.
    for (let i = 0; i < 200 && (await h.labeler.store.cursor.get()) !== h.source.lastSeq; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(await h.labeler.store.cursor.get(), h.source.lastSeq)
    assert.deepEqual(h.errors.filter((e) => e.where !== 'stream' && e.where !== 'info'), [])
  })
})
