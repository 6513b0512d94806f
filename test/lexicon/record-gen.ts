/**
 * Seeded generators of valid app.bsky records (in the in-memory data model:
 * CIDs as `CID`, blobs as `{$type:'blob', ref, mimeType, size}`) and of
 * single-fault mutations of them, for the differential test against
 * @atproto/lexicon. Mutation sites are found by walking a record alongside
 * its schema (through refs and union variants), so every mutation targets a
 * field the schema constrains.
 */
import type { Rng } from '../helpers/prng.ts'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import type { LexiconRegistry } from '../../core/lexicon/registry.ts'
import type { LexField, LexUserDef } from '../../core/lexicon/schema.ts'

type Obj = { [key: string]: unknown }
const DIDS = ['did:plc:ewvi7nxzyoun6zhxrhs64oiz', 'did:web:example.com', 'did:plc:z72i7hdynmk6r22z27h6tvur']
const WORDS = ['cat', 'hello', 'atproto', 'ünïcödé', '日本語', '🐈', '🇩🇪', 'e\u0301', 'x', 'federation', '#tag', '@bob.test']
const LANGS = ['en', 'pt-BR', 'ja', 'de-CH', 'zh-Hant', 'es-419']
const TIMES = ['2024-05-01T12:34:56.789Z', '2023-10-30T22:25:23Z', '2025-01-01T00:00:00.000+09:00', '1985-04-12T23:20:50.123456Z']

function text(rng: Rng, graphemesMax: number): string {
  let out = ''
  const n = rng.int(12)
  for (let i = 0; i < n; i++) {
    const next = (out === '' ? '' : ' ') + rng.pick(WORDS)
    if ([...new Intl.Segmenter().segment(out + next)].length > graphemesMax) break
    out += next
  }
  return out
}
const maybe = (rng: Rng, value: () => unknown): Obj => (rng.int(2) === 0 ? {} : { v: value() })
function opt(rng: Rng, key: string, value: () => unknown): Obj {
  const m = maybe(rng, value)
  return 'v' in m ? { [key]: m['v'] } : {}
}
function strongRef(rng: Rng): Obj {
  const cid = cidForCbor(rng.bytes(8)).toString()
  return { uri: `at://${rng.pick(DIDS)}/app.bsky.feed.post/3kznmn7xqxl2${rng.int(8)}`, cid }
}
function blob(rng: Rng, mimeTypes: string[], sizeMax: number): Obj {
  return { $type: 'blob', ref: cidForRaw(rng.bytes(8)), mimeType: rng.pick(mimeTypes), size: 1 + rng.int(sizeMax) }
}
const selfLabels = (rng: Rng): Obj => ({ $type: 'com.atproto.label.defs#selfLabels', values: [{ val: rng.pick(['porn', 'nudity', '!no-unauthenticated']) }] })

function embed(rng: Rng): Obj {
  const images = (): Obj => ({
    $type: 'app.bsky.embed.images',
    images: Array.from({ length: 1 + rng.int(4) }, () => ({
      image: blob(rng, ['image/png', 'image/jpeg', 'image/webp'], 2_000_000),
      alt: text(rng, 100),
      ...opt(rng, 'aspectRatio', () => ({ width: 1 + rng.int(4000), height: 1 + rng.int(4000) })),
    })),
  })
  const external = (): Obj => ({
    $type: 'app.bsky.embed.external',
    external: { uri: 'https://example.com/' + rng.int(100), title: text(rng, 20), description: text(rng, 50),
      ...opt(rng, 'thumb', () => blob(rng, ['image/jpeg'], 1_000_000)) },
  })
  const record = (): Obj => ({ $type: 'app.bsky.embed.record', record: strongRef(rng) })
  switch (rng.int(4)) {
    case 0: return images()
    case 1: return external()
    case 2: return record()
    default: return { $type: 'app.bsky.embed.recordWithMedia', record: record(), media: rng.int(2) ? images() : external() }
  }
}

function facet(rng: Rng): Obj {
  const start = rng.int(50)
  const feature = rng.pick([
    () => ({ $type: 'app.bsky.richtext.facet#mention', did: rng.pick(DIDS) }),
    () => ({ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/x?y=' + rng.int(9) }),
    () => ({ $type: 'app.bsky.richtext.facet#tag', tag: rng.pick(['cats', 'atproto', '日本']) }),
  ])()
  return { index: { byteStart: start, byteEnd: start + rng.int(20) }, features: [feature] }
}

const GENERATORS: { [collection: string]: (rng: Rng) => Obj } = {
  'app.bsky.feed.post': (rng) => ({
    text: text(rng, 300), createdAt: rng.pick(TIMES),
    ...opt(rng, 'langs', () => Array.from({ length: rng.int(4) }, () => rng.pick(LANGS))),
    ...opt(rng, 'facets', () => Array.from({ length: 1 + rng.int(3) }, () => facet(rng))),
    ...opt(rng, 'embed', () => embed(rng)),
    ...opt(rng, 'reply', () => ({ root: strongRef(rng), parent: strongRef(rng) })),
    ...opt(rng, 'tags', () => ['one', 'two'].slice(0, 1 + rng.int(2))),
    ...opt(rng, 'labels', () => selfLabels(rng)),
  }),
  'app.bsky.feed.like': (rng) => ({ subject: strongRef(rng), createdAt: rng.pick(TIMES), ...opt(rng, 'via', () => strongRef(rng)) }),
  'app.bsky.feed.repost': (rng) => ({ subject: strongRef(rng), createdAt: rng.pick(TIMES) }),
  'app.bsky.graph.follow': (rng) => ({ subject: rng.pick(DIDS), createdAt: rng.pick(TIMES) }),
  'app.bsky.graph.block': (rng) => ({ subject: rng.pick(DIDS), createdAt: rng.pick(TIMES) }),
  'app.bsky.graph.listitem': (rng) => ({
    subject: rng.pick(DIDS), list: `at://${rng.pick(DIDS)}/app.bsky.graph.list/3kznmn7xqxl22`, createdAt: rng.pick(TIMES),
  }),
  'app.bsky.graph.list': (rng) => ({
    name: 'list ' + rng.int(100), purpose: rng.pick(['app.bsky.graph.defs#curatelist', 'app.bsky.graph.defs#modlist']),
    createdAt: rng.pick(TIMES), ...opt(rng, 'description', () => text(rng, 300)),
  }),
  'app.bsky.actor.profile': (rng) => ({
    ...opt(rng, 'displayName', () => text(rng, 64)),
    ...opt(rng, 'description', () => text(rng, 256)),
    ...opt(rng, 'avatar', () => blob(rng, ['image/png', 'image/jpeg'], 1_000_000)),
    ...opt(rng, 'banner', () => blob(rng, ['image/png', 'image/jpeg'], 1_000_000)),
    ...opt(rng, 'website', () => 'https://example.com'),
    ...opt(rng, 'pinnedPost', () => strongRef(rng)),
    ...opt(rng, 'createdAt', () => rng.pick(TIMES)),
  }),
  'app.bsky.feed.generator': (rng) => ({
    did: rng.pick(DIDS), displayName: text(rng, 24) || 'feed', createdAt: rng.pick(TIMES),
    ...opt(rng, 'description', () => text(rng, 300)),
    ...opt(rng, 'acceptsInteractions', () => rng.int(2) === 0),
  }),
  'app.bsky.feed.threadgate': (rng) => ({
    post: `at://${rng.pick(DIDS)}/app.bsky.feed.post/3kznmn7xqxl22`, createdAt: rng.pick(TIMES),
    ...opt(rng, 'allow', () => [{ $type: 'app.bsky.feed.threadgate#mentionRule' }, { $type: 'app.bsky.feed.threadgate#followingRule' }].slice(0, rng.int(3))),
  }),
}
export const COLLECTIONS = Object.keys(GENERATORS)

export function randomRecord(rng: Rng, collection: string): Obj {
  const gen = GENERATORS[collection]
  if (gen === undefined) throw new Error(`no generator for ${collection}`)
  return { $type: collection, ...gen(rng) }
}

export type Site = { path: Array<string | number>; def: LexField | LexUserDef; required: boolean }

/** Every (path, def) pair a record's present values sit at, following refs and known union variants. */
export function sitesOf(registry: LexiconRegistry, collection: string, record: Obj): Site[] {
  const out: Site[] = []
  const walk = (def: LexField | LexUserDef, value: unknown, path: Array<string | number>): void => {
    if (def.type === 'ref') return walk(registry.getDef(def.ref)!, value, path)
    if (def.type === 'union') {
      const type = (value as Obj)['$type'] as string
      if (def.refs.includes(type)) walk(registry.getDef(type)!, value, path)
      return
    }
    if (def.type === 'array') return (value as unknown[]).forEach((item, i) => walk(def.items, item, [...path, i]))
    if (def.type !== 'object') return
    for (const [key, propDef] of Object.entries(def.properties)) {
      const v = (value as Obj)[key]
      if (v === undefined) continue
      out.push({ path: [...path, key], def: propDef, required: def.required.includes(key) })
      walk(propDef, v, [...path, key])
    }
  }
  walk(registry.getRecordDef(collection)!.record, record, [])
  return out
}

export type MutationKind = 'drop-required' | 'wrong-type' | 'over-long' | 'bad-format' | 'out-of-range'

/** A value that breaks `def` in the way `kind` says, or undefined if `def` has no such constraint. */
export function breakValue(registry: LexiconRegistry, kind: MutationKind, def: LexField | LexUserDef): unknown {
  const d = def.type === 'ref' ? registry.getDef(def.ref)! : def
  switch (kind) {
    case 'drop-required': return undefined
    case 'wrong-type':
      return d.type === 'string' ? 12345 : d.type === 'integer' ? '12' : d.type === 'array' ? { length: 1 } : d.type === 'boolean' ? 'true' : 'a string'
    case 'over-long':
      if (d.type === 'string' && d.maxGraphemes !== undefined) return 'g'.repeat(d.maxGraphemes + 1)
      if (d.type === 'string' && d.maxLength !== undefined) return 'b'.repeat(d.maxLength + 1)
      return undefined
    case 'bad-format': return d.type === 'string' && d.format !== undefined ? 'not a valid value' : undefined
    case 'out-of-range':
      if (d.type === 'integer' && d.minimum !== undefined) return d.minimum - 1
      if (d.type === 'integer' && d.maximum !== undefined) return d.maximum + 1
      return undefined
  }
}

/** A deep copy of `record` with the value at `path` replaced (or deleted when `value` is undefined). */
export function withValueAt(record: Obj, path: Array<string | number>, value: unknown): Obj {
  const copy = structuredCloneLex(record) as Obj
  let parent = copy as { [key: string | number]: unknown }
  for (const key of path.slice(0, -1)) parent = parent[key] as { [key: string | number]: unknown }
  const last = path[path.length - 1] as string | number
  if (value === undefined) delete parent[last]
  else parent[last] = value
  return copy
}

/** Deep copy that keeps CIDs (shared, immutable) and bytes. */
function structuredCloneLex(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(structuredCloneLex)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structuredCloneLex(v)]))
  }
  return value
}
