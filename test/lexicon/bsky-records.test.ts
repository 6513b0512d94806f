/**
 * Realistic app.bsky records against the upstream lexicons: the shapes the
 * official client writes validate; broken ones fail with `InvalidRecord`
 * naming the failing path. Record-key types, and a lexicon the registry
 * does not know (`LexiconNotFound`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadLexiconDir } from '../../core/lexicon/registry.ts'
import { validateRecord, validateRecordKey } from '../../core/lexicon/validate.ts'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { LEXICONS_DIR } from '../helpers/vectors.ts'

const registry = await loadLexiconDir(LEXICONS_DIR)

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const NOW = '2024-05-01T12:34:56.789Z'
const postCid = cidForCbor(new Uint8Array([1, 2, 3])).toString()
const postUri = `at://${DID}/app.bsky.feed.post/3kznmn7xqxl22`
const strongRef = { uri: postUri, cid: postCid }
const blob = (mimeType: string, size: number) => ({ $type: 'blob', ref: cidForRaw(new Uint8Array(size % 97)), mimeType, size })

function post(extra: object = {}): { [key: string]: unknown } {
  return {
    $type: 'app.bsky.feed.post',
    text: 'hello @alice.test https://example.com',
    createdAt: NOW,
    langs: ['en', 'pt-BR'],
    facets: [
      { index: { byteStart: 6, byteEnd: 17 }, features: [{ $type: 'app.bsky.richtext.facet#mention', did: DID }] },
      { index: { byteStart: 18, byteEnd: 37 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com' }] },
    ],
    embed: {
      $type: 'app.bsky.embed.images',
      images: [{ image: blob('image/jpeg', 123_456), alt: 'a cat', aspectRatio: { width: 800, height: 600 } }],
    },
    reply: { root: strongRef, parent: strongRef },
    ...extra,
  }
}

function assertInvalid(collection: string, value: unknown, message: string): void {
  assert.throws(() => validateRecord(registry, collection, value), (err: Error) => {
    assert.equal(err.name, 'InvalidRecord')
    assert.equal(err.message, message)
    return true
  })
}

test('realistic records validate', () => {
  validateRecord(registry, 'app.bsky.feed.post', post())
  validateRecord(registry, 'app.bsky.feed.post', { $type: 'app.bsky.feed.post', text: '', createdAt: NOW })
  validateRecord(registry, 'app.bsky.feed.like', { $type: 'app.bsky.feed.like', subject: strongRef, createdAt: NOW })
  validateRecord(registry, 'app.bsky.feed.repost', { $type: 'app.bsky.feed.repost', subject: strongRef, createdAt: NOW })
  validateRecord(registry, 'app.bsky.graph.follow', { $type: 'app.bsky.graph.follow', subject: DID, createdAt: NOW })
  validateRecord(registry, 'app.bsky.actor.profile', {
    $type: 'app.bsky.actor.profile',
    displayName: 'Alice 🐈',
    description: 'Cats.\nMore cats.',
    avatar: blob('image/png', 50_000),
    banner: blob('image/jpeg', 999_999),
    labels: { $type: 'com.atproto.label.defs#selfLabels', values: [{ val: 'nudity' }] },
    createdAt: NOW,
  })
  // an empty profile is valid (nothing is required)
  validateRecord(registry, 'app.bsky.actor.profile', { $type: 'app.bsky.actor.profile' })
  // external embed with a thumbnail, and a quote post
  validateRecord(registry, 'app.bsky.feed.post', post({
    embed: {
      $type: 'app.bsky.embed.external',
      external: { uri: 'https://example.com/a', title: 'A', description: '', thumb: blob('image/webp', 4_000) },
    },
  }))
  validateRecord(registry, 'app.bsky.feed.post', post({ embed: { $type: 'app.bsky.embed.record', record: strongRef } }))
})

test('grapheme and byte limits on post text', () => {
  // 300 flags: 600 UTF-16 units, 2400 bytes, 300 graphemes: valid
  validateRecord(registry, 'app.bsky.feed.post', post({ text: '🇩🇪'.repeat(300) }))
  assertInvalid('app.bsky.feed.post', post({ text: '🇩🇪'.repeat(301) }), 'Record/text must not be longer than 300 graphemes')
  assertInvalid('app.bsky.feed.post', post({ text: 'a'.repeat(301) }), 'Record/text must not be longer than 300 graphemes')
  // 150 family emoji: 150 graphemes but 25 bytes each = 3750 bytes
  assertInvalid('app.bsky.feed.post', post({ text: '👩‍👩‍👧‍👦'.repeat(150) }), 'Record/text must not be longer than 3000 bytes')
  // combining marks: 300 graphemes of 'e' + U+0301 are 600 units and fine
  validateRecord(registry, 'app.bsky.feed.post', post({ text: 'e\u0301'.repeat(300) }))
})

test('broken records fail naming the path', () => {
  const { createdAt: _, ...noCreatedAt } = post()
  assertInvalid('app.bsky.feed.post', noCreatedAt, 'Record/createdAt is required')
  assertInvalid('app.bsky.feed.post', post({ createdAt: '2024-05-01 12:34:56Z' }), 'Record/createdAt must be a valid datetime')
  assertInvalid('app.bsky.feed.post', post({ text: 42 }), 'Record/text must be a string')
  assertInvalid('app.bsky.feed.post', post({ langs: ['en', 'english!'] }), 'Record/langs/1 must be a valid language')
  assertInvalid('app.bsky.feed.post', post({ langs: ['en', 'de', 'fr', 'ja'] }), 'Record/langs must not have more than 3 elements')
  assertInvalid('app.bsky.feed.post', post({ langs: 'en' }), 'Record/langs must be an array')
  assertInvalid('app.bsky.feed.post', post({ $type: 'app.bsky.feed.like' }), 'Record/$type must be "app.bsky.feed.post"')
  assertInvalid('app.bsky.feed.post', { text: 'x', createdAt: NOW }, 'Record/$type must be "app.bsky.feed.post"')
  assertInvalid('app.bsky.feed.post', [post()], 'Record must be an object')

  const images = (image: object) => post({ embed: { $type: 'app.bsky.embed.images', images: [image] } })
  assertInvalid('app.bsky.feed.post', images({ image: blob('image/png', 10), alt: 7 }), 'Record/embed/images/0/alt must be a string')
  assertInvalid('app.bsky.feed.post', images({ image: blob('image/png', 10) }), 'Record/embed/images/0/alt is required')
  assertInvalid('app.bsky.feed.post', images({ image: blob('video/mp4', 10), alt: '' }),
    'Record/embed/images/0/image/mimeType must be one of the accepted types (image/*)')
  assertInvalid('app.bsky.feed.post', images({ image: blob('image/png', 2_000_001), alt: '' }),
    'Record/embed/images/0/image/size must not be larger than 2000000 bytes')
  assertInvalid('app.bsky.feed.post', images({ image: { cid: postCid, mimeType: 'image/png' }, alt: '' }),
    'Record/embed/images/0/image must be a blob ({$type: "blob", ref, mimeType, size})')
  assertInvalid('app.bsky.feed.post', post({ embed: { images: [] } }), 'Record/embed must be an object with a string "$type"')
  assertInvalid('app.bsky.feed.post', post({ embed: { $type: 'app.bsky.embed.images#main', images: [] } }),
    'Record/embed/$type must not end in "#main"')
  assertInvalid('app.bsky.feed.post', post({ embed: { $type: 'app.bsky.embed.images', external: {} } }),
    'Record/embed/images is required')
  assertInvalid('app.bsky.feed.post', post({ reply: { root: strongRef } }), 'Record/reply/parent is required')
  assertInvalid('app.bsky.feed.post', post({ reply: { root: strongRef, parent: { uri: postUri, cid: 'bafy' } } }),
    'Record/reply/parent/cid must be a valid cid')
  assertInvalid('app.bsky.feed.post', post({
    facets: [{ index: { byteStart: 0, byteEnd: 1 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'not a uri' }] }],
  }), 'Record/facets/0/features/0/uri must be a valid uri')
  assertInvalid('app.bsky.feed.post', post({ facets: [{ index: { byteStart: -1, byteEnd: 1 }, features: [] }] }),
    'Record/facets/0/index/byteStart must not be less than 0')

  assertInvalid('app.bsky.feed.like', { $type: 'app.bsky.feed.like', subject: { uri: postUri }, createdAt: NOW },
    'Record/subject/cid is required')
  assertInvalid('app.bsky.graph.follow', { $type: 'app.bsky.graph.follow', subject: 'alice.test', createdAt: NOW },
    'Record/subject must be a valid did')
  assertInvalid('app.bsky.feed.repost', { $type: 'app.bsky.feed.repost', subject: strongRef, createdAt: null },
    'Record/createdAt must be a string')
  assertInvalid('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', avatar: blob('image/gif', 10) },
    'Record/avatar/mimeType must be one of the accepted types (image/png, image/jpeg)')
  assertInvalid('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', avatar: blob('image/png', 1_000_001) },
    'Record/avatar/size must not be larger than 1000000 bytes')
  assertInvalid('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', displayName: 'x'.repeat(65) },
    'Record/displayName must not be longer than 64 graphemes')
  assertInvalid('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', labels: { values: [] } },
    'Record/labels must be an object with a string "$type"')
})

test('open unions accept unknown variants; known variants are checked', () => {
  validateRecord(registry, 'app.bsky.feed.post', post({ embed: { $type: 'com.example.embed.poll', options: [1, 2] } }))
  assertInvalid('app.bsky.feed.post', post({ embed: { $type: 'app.bsky.embed.record', record: { uri: postUri } } }),
    'Record/embed/record/cid is required')
})

test('unknown fields are ignored, records are not rewritten', () => {
  const value = post({ 'com.example.extra': { anything: true }, via: 'some client' })
  const before = JSON.stringify(value)
  validateRecord(registry, 'app.bsky.feed.post', value)
  assert.equal(JSON.stringify(value), before)
})

test('record keys follow the collection key type', () => {
  validateRecordKey(registry, 'app.bsky.feed.post', '3kznmn7xqxl22')
  validateRecordKey(registry, 'app.bsky.actor.profile', 'self')
  validateRecordKey(registry, 'app.bsky.feed.generator', 'my-feed_1')
  validateRecordKey(registry, 'com.atproto.lexicon.schema', 'app.bsky.feed.post')
  const bad: Array<[string, string]> = [
    ['app.bsky.feed.post', 'self'],
    ['app.bsky.feed.post', '3KZNMN7XQXL22'],
    ['app.bsky.actor.profile', '3kznmn7xqxl22'],
    ['app.bsky.actor.profile', 'selff'],
    ['com.atproto.lexicon.schema', 'not-an-nsid'],
    ['app.bsky.feed.generator', '..'],
    ['app.bsky.feed.generator', 'a/b'],
    ['app.bsky.feed.generator', ''],
  ]
  for (const [collection, rkey] of bad) {
    assert.throws(() => validateRecordKey(registry, collection, rkey), { name: 'InvalidRecord' }, `${collection}/${rkey}`)
  }
})

test('a collection the registry does not know is LexiconNotFound', () => {
  assert.throws(() => validateRecord(registry, 'com.example.unknown', { $type: 'com.example.unknown' }), { name: 'LexiconNotFound' })
  assert.throws(() => validateRecordKey(registry, 'com.example.unknown', 'self'), { name: 'LexiconNotFound' })
  // a def that exists but is not a record
  assert.throws(() => validateRecord(registry, 'app.bsky.feed.defs', { $type: 'app.bsky.feed.defs' }), { name: 'LexiconNotFound' })
})
