/**
 * Pure parts of the Jetstream endpoint: subscribe parameters and
 * options_update parsing (values, then the negative space by error name),
 * filter matching, and the clock (seeded property tests: strictly increasing
 * time_us, the same numbers from any checkpoint, resynchronisation).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { datetimeToUs, stampEvent } from '../../relay/jetstream/clock.ts'
import { filterMatches, parseOptionsUpdate, parseSubscribeParams } from '../../relay/jetstream/params.ts'
import type { JetstreamMessage } from '../../relay/jetstream/render.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import { makeRng } from '../helpers/prng.ts'

const q = (s: string): URLSearchParams => new URLSearchParams(s)

function msg(did: string, collection: string | null, bytes = 10): JetstreamMessage {
  return { timeUs: 1, did, collection, data: Buffer.alloc(bytes), zstd: null }
}

test('subscribe parameters: defaults, repeated filters, prefixes, cursor, compression, hello', () => {
  const none = parseSubscribeParams(q(''), undefined)
  assert.deepEqual(none, {
    filter: { collections: new Set(), prefixes: [], dids: new Set(), maxMessageSizeBytes: 0 },
    cursorUs: null,
    compress: false,
    requireHello: false,
  })
  const all = parseSubscribeParams(
    q('wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.graph.*&wantedDids=did:plc:abc&wantedDids=did:web:x.test&cursor=1725519626134432&maxMessageSizeBytes=-4&requireHello=true'),
    ' ZSTD ',
  )
  assert.deepEqual([...all.filter.collections], ['app.bsky.feed.post'])
  assert.deepEqual(all.filter.prefixes, ['app.bsky.graph.'])
  assert.deepEqual([...all.filter.dids], ['did:plc:abc', 'did:web:x.test'])
  assert.equal(all.filter.maxMessageSizeBytes, 0, 'negative means no limit')
  assert.equal(all.cursorUs, 1725519626134432)
  assert.equal(all.compress, true)
  assert.equal(all.requireHello, true)
  assert.equal(parseSubscribeParams(q('compress=true&maxMessageSizeBytes=1000'), undefined).compress, true)
  assert.equal(parseSubscribeParams(q('compress=yes'), undefined).compress, false)
})

test('bad parameters and updates fail by name', () => {
  const bad: [string, string][] = [
    [Array.from({ length: 101 }, (_, i) => `wantedCollections=a.b.c${i}`).join('&'), 'TooManyWantedCollections'],
    ['wantedCollections=app.bsky.graph.fo*', 'InvalidWantedCollection'],
    ['wantedCollections=app..*', 'InvalidWantedCollection'],
    ['wantedCollections=.*', 'InvalidWantedCollection'],
    ['wantedCollections=', 'InvalidWantedCollection'],
    ['wantedCollections=app.bsky', 'InvalidWantedCollection'],
    ['wantedDids=did:plc:', 'InvalidWantedDid'],
    [Array.from({ length: 10_001 }, (_, i) => `wantedDids=did:web:h${i}.test`).join('&'), 'TooManyWantedDids'],
    ['cursor=1.5', 'InvalidCursor'],
    ['cursor=12345678901234567', 'InvalidCursor'],
    ['maxMessageSizeBytes=1e3', 'InvalidMaxMessageSize'],
  ]
  for (const [query, name] of bad) assert.throws(() => parseSubscribeParams(q(query), undefined), { name }, query.slice(0, 60))
  const updates: [string, string][] = [
    ['[]', 'InvalidOptionsUpdate'],
    ['{"type":"options_update"}', 'InvalidOptionsUpdate'],
    ['{"type":"options_update","payload":[]}', 'InvalidOptionsUpdate'],
    ['{"type":"options_update","payload":{"wantedCollections":"app.bsky.feed.post"}}', 'InvalidOptionsUpdate'],
    ['{"type":"options_update","payload":{"wantedCollections":[7]}}', 'InvalidWantedCollection'],
    ['{"type":"options_update","payload":{"wantedDids":[null]}}', 'InvalidWantedDid'],
    ['{"type":"options_update","payload":{"maxMessageSizeBytes":"10"}}', 'InvalidMaxMessageSize'],
    ['{"type":"options_update","payload":{"maxMessageSizeBytes":1.5}}', 'InvalidMaxMessageSize'],
  ]
  for (const [text, name] of updates) assert.throws(() => parseOptionsUpdate(text), { name }, text)
})

test('options_update: missing arrays turn filters off; values are parsed like the query', () => {
  assert.deepEqual(parseOptionsUpdate('{"type":"options_update","payload":{}}'), {
    collections: new Set(),
    prefixes: [],
    dids: new Set(),
    maxMessageSizeBytes: 0,
  })
  const f = parseOptionsUpdate(
    '{"type":"options_update","payload":{"wantedCollections":["app.bsky.*","app.bsky.feed.like"],"wantedDids":["did:plc:q6gjnaw2blty4crticxkmujt"],"maxMessageSizeBytes":1000000}}',
  )
  assert.deepEqual(f.prefixes, ['app.bsky.'])
  assert.ok(f.collections.has('app.bsky.feed.like') && f.dids.has('did:plc:q6gjnaw2blty4crticxkmujt'))
  assert.equal(f.maxMessageSizeBytes, 1_000_000)
})

test('filter matching: collections apply to commits only, DIDs to all, prefixes end at a dot, size is the JSON length', () => {
  const f = parseSubscribeParams(q('wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.graph.*&wantedDids=did:plc:a&maxMessageSizeBytes=100'), undefined).filter
  assert.equal(filterMatches(f, msg('did:plc:a', 'app.bsky.feed.post')), true)
  assert.equal(filterMatches(f, msg('did:plc:a', 'app.bsky.graph.follow')), true)
  assert.equal(filterMatches(f, msg('did:plc:a', 'app.bsky.graphx.follow')), false)
  assert.equal(filterMatches(f, msg('did:plc:a', 'app.bsky.feed.like')), false)
  assert.equal(filterMatches(f, msg('did:plc:a', null)), true, 'identity/account pass collection filters')
  assert.equal(filterMatches(f, msg('did:plc:b', null)), false, 'but not DID filters')
  assert.equal(filterMatches(f, msg('did:plc:a', 'app.bsky.feed.post', 101)), false)
  assert.equal(filterMatches(f, msg('did:plc:a', 'app.bsky.feed.post', 100)), true)
  const open = parseSubscribeParams(q(''), undefined).filter
  assert.equal(filterMatches(open, msg('did:plc:z', 'com.example.thing', 5_000_000)), true)
})

test('datetimeToUs keeps microseconds when the time has them', () => {
  assert.equal(datetimeToUs('2024-09-05T06:11:04.870Z' as Datetime), Date.parse('2024-09-05T06:11:04.870Z') * 1000)
  assert.equal(datetimeToUs('2024-09-05T06:11:04.870123Z' as Datetime), Date.parse('2024-09-05T06:11:04.870Z') * 1000 + 123)
  assert.equal(datetimeToUs('2024-09-05T06:11:04.8701Z' as Datetime), Date.parse('2024-09-05T06:11:04.870Z') * 1000 + 100)
  assert.equal(datetimeToUs('2024-09-05T06:11:04Z' as Datetime), Date.parse('2024-09-05T06:11:04Z') * 1000)
})

type Ev = { us: number | null; slots: number }

/** Times 0–2 ms apart; some hosts' clocks behind by up to 5 s, and (`ahead`) some ahead by up to 400 s. */
function randomEvents(seed: number, n: number, ahead: boolean): Ev[] {
  const rng = makeRng(seed)
  let t = 1_700_000_000_000_000
  return Array.from({ length: n }, () => {
    t += rng.int(2_000)
    const skew = rng.int(10) === 0 ? -rng.int(5_000_000) : ahead && rng.int(20) === 0 ? rng.int(400_000_000) : 0
    return rng.int(50) === 0 ? { us: null, slots: 0 } : { us: t + skew, slots: rng.int(4) }
  })
}

function chain(events: Ev[], prevEnd: number, capUs: number): { times: number[]; ends: number[] } {
  const times: number[] = []
  const ends: number[] = []
  for (const e of events) {
    const s = stampEvent(prevEnd, e.us, { slots: e.slots, capUs })
    for (let k = 0; k < e.slots; k++) times.push(s.base + k)
    ends.push(s.end)
    prevEnd = s.end
  }
  return { times, ends }
}

test('clock: time_us strictly increase for any event times; the same from any checkpoint; chains resynchronise', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const ahead = seed % 2 === 0
    const events = randomEvents(seed, 400, ahead)
    const capUs = 1_700_000_000_000_000 + 600_000_000
    const { times, ends } = chain(events, 0, capUs)
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!, `seed ${seed} at ${i}`)
    assert.ok(times.every((t) => t <= capUs + 1_000), 'clamped near the cap')
    const cut = 1 + makeRng(seed).int(398)
    const resumed = chain(events.slice(cut), ends[cut - 1]!, capUs)
    assert.deepEqual(resumed.ends, ends.slice(cut), `seed ${seed}: a checkpoint reproduces the rest`)
    // Starting cold (prevEnd 0) gives a lower bound of the real clock, equal from the first event
    // not behind it: soon when host clocks lag, maybe never while a host far ahead dominates.
    const cold = chain(events.slice(cut), 0, capUs)
    cold.ends.forEach((e, i) => assert.ok(e <= ends[cut + i]!, `seed ${seed}: cold chain above the real one`))
    const meet = cold.ends.findIndex((e, i) => e === ends[cut + i])
    if (!ahead) assert.ok(meet >= 0 && meet < 20, `seed ${seed}: met after ${meet} events`)
    if (meet >= 0) assert.deepEqual(cold.ends.slice(meet), ends.slice(cut + meet))
  }
})
