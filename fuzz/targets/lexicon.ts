/**
 * Fuzz target: record validation as the PDS applies it to createRecord /
 * putRecord / applyWrites bodies (pds/repo/prepare.ts `prepareRecord`:
 * JSON → data model, `$type`, record key, then the lexicon schema from the
 * vendored lexicons/). The bytes are the record's JSON text; text that is not
 * JSON is the HTTP layer's 400 and is skipped. The collection is the record's
 * own `$type` when the registry knows it (so mutants reach deep into the
 * schema), else one picked by the input's length. Documented error:
 * InvalidRecord (every data-model and schema failure is mapped to it).
 * Invariant: a record it accepts can be stored — it encodes to DAG-CBOR and
 * decodes back to the same bytes (else the PDS would fail after validation).
 */
import { fileURLToPath } from 'node:url'
import { loadLexiconDir } from '../../core/lexicon/registry.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import { parseRecordKey } from '../../core/syntax/record-key.ts'
import { prepareRecord } from '../../pds/repo/prepare.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { tokens } from '../engine/target.ts'

const registry = await loadLexiconDir(fileURLToPath(new URL('../../lexicons/', import.meta.url)))
const utf8 = new TextEncoder()
const CID = 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454'
const URI = 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kabc2aaaaa22'
const TIME = '2026-11-22T08:00:00.000Z'
const COLLECTIONS = ['app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.feed.repost', 'app.bsky.graph.follow', 'app.bsky.actor.profile', 'app.bsky.graph.list', 'app.bsky.feed.threadgate', 'app.bsky.feed.generator', 'app.bsky.graph.listitem', 'app.bsky.feed.postgate']
const BLOB = { $type: 'blob', ref: { $link: CID }, mimeType: 'image/png', size: 1234 }

const SEEDS: unknown[] = [
  { $type: 'app.bsky.feed.post', text: 'hello @alice.example.com https://x.dev', createdAt: TIME, langs: ['en', 'pt-BR'],
    facets: [{ index: { byteStart: 6, byteEnd: 24 }, features: [{ $type: 'app.bsky.richtext.facet#mention', did: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz' }] },
      { index: { byteStart: 25, byteEnd: 38 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://x.dev' }] }] },
  { $type: 'app.bsky.feed.post', text: 'pics', createdAt: TIME, reply: { root: { uri: URI, cid: CID }, parent: { uri: URI, cid: CID } },
    embed: { $type: 'app.bsky.embed.images', images: [{ alt: 'a cat', image: BLOB, aspectRatio: { width: 4, height: 3 } }] } },
  { $type: 'app.bsky.feed.post', text: 'quote', createdAt: TIME, embed: { $type: 'app.bsky.embed.recordWithMedia', record: { $type: 'app.bsky.embed.record', record: { uri: URI, cid: CID } },
    media: { $type: 'app.bsky.embed.external', external: { uri: 'https://x.dev', title: 't', description: 'd', thumb: BLOB } } }, labels: { $type: 'com.atproto.label.defs#selfLabels', values: [{ val: 'nudity' }] }, tags: ['a'] },
  { $type: 'app.bsky.feed.like', subject: { uri: URI, cid: CID }, createdAt: TIME },
  { $type: 'app.bsky.feed.repost', subject: { uri: URI, cid: CID }, createdAt: TIME },
  { $type: 'app.bsky.graph.follow', subject: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', createdAt: TIME },
  { $type: 'app.bsky.actor.profile', displayName: 'Alice', description: 'hi', avatar: BLOB, pinnedPost: { uri: URI, cid: CID } },
  { $type: 'app.bsky.graph.list', purpose: 'app.bsky.graph.defs#curatelist', name: 'friends', createdAt: TIME, descriptionFacets: [] },
  { $type: 'app.bsky.feed.threadgate', post: URI, createdAt: TIME, allow: [{ $type: 'app.bsky.feed.threadgate#mentionRule' }], hiddenReplies: [URI] },
  { $type: 'app.bsky.feed.generator', did: 'did:web:feed.example.com', displayName: 'Feed', createdAt: TIME, avatar: BLOB },
  { $type: 'app.bsky.feed.post', text: 'bytes', createdAt: TIME, x: { $bytes: 'AAEC' }, y: { $link: CID } },
]

function rkeyFor(collection: string): string {
  const key = registry.getRecordDef(collection)?.key ?? 'any'
  if (key === 'tid') return '3kabc2aaaaa22'
  if (key.startsWith('literal:')) return key.slice('literal:'.length)
  return 'some-key'
}

export const target: FuzzTarget = {
  name: 'lexicon',
  expectedErrors: ['InvalidRecord'],
  coverageDirs: ['core/lexicon/', 'core/data/', 'core/syntax/', 'pds/repo/prepare.ts'],
  json: true,
  seeds: () => SEEDS.map((s) => utf8.encode(JSON.stringify(s))),
  dictionary: tokens('"$type"', '"$link"', '"$bytes"', '"blob"', '"ref"', '"mimeType"', '"size"', '"text"', '"createdAt"', '"embed"', '"facets"', '"index"', '"byteStart"', '"byteEnd"', '"features"', '"uri"', '"cid"', '"did"', '"langs"', '"images"', '"alt"', '"aspectRatio"', '"subject"', 'null', 'true', '-0', '1e400', '9007199254740993', '"\\ud800"', '[]', '{}', '"at://', '"did:plc:', '"app.bsky.embed.', '#mention', ...COLLECTIONS.map((c) => `"${c}"`)),
  run(bytes) {
    let record: unknown
    try {
      record = JSON.parse(Buffer.from(bytes).toString('utf8'))
    } catch {
      return // not JSON: the XRPC body parser's 400, not this target's
    }
    const type = typeof record === 'object' && record !== null ? (record as { $type?: unknown }).$type : undefined
    const collection = typeof type === 'string' && registry.getRecordDef(type) !== undefined ? type : COLLECTIONS[bytes.length % COLLECTIONS.length]!
    const prepared = prepareRecord(registry, { collection: parseNsid(collection), rkey: parseRecordKey(rkeyFor(collection)), record, validate: true })
    const encoded = encodeCbor(prepared.record)
    if (Buffer.compare(encodeCbor(decodeCbor(encoded)), encoded) !== 0) throw new Error('an accepted record does not round-trip through DAG-CBOR')
  },
}
