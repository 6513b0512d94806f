/**
 * Differential test against @atproto/lexicon (`Lexicons.assertValidRecord`,
 * the reference validator; test oracle only). Seeded valid app.bsky records
 * must pass both; single-fault mutations (drop a required field, wrong type,
 * over-long string, bad string format, integer out of range) must fail both,
 * at the same path.
 *
 * Known oracle discrepancies (so mutations avoid them, and the last test pins them):
 * - the reference does not check blob `accept` or `maxSize`;
 * - the reference lets `unknown` hold a blob or bytes;
 * - the reference accepts a `#main` suffix on a union `$type`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { BlobRef, Lexicons } from '@atproto/lexicon'
import type { LexiconDoc as RefLexiconDoc } from '@atproto/lexicon'
import { loadLexiconDir } from '../../core/lexicon/registry.ts'
import { validateRecord } from '../../core/lexicon/validate.ts'
import { makeRng } from '../helpers/prng.ts'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { COLLECTIONS, type MutationKind, breakValue, randomRecord, sitesOf, withValueAt } from './record-gen.ts'
import { LEXICONS_DIR } from '../helpers/vectors.ts'

const UPSTREAM = LEXICONS_DIR
const registry = await loadLexiconDir(UPSTREAM)
const oracle = new Lexicons(
  readdirSync(UPSTREAM, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(UPSTREAM, f), 'utf8')) as RefLexiconDoc),
)

/** The reference wants blobs as BlobRef instances; everything else is the same data model. */
function toOracleModel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toOracleModel)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as { [key: string]: unknown }
    if (obj['$type'] === 'blob') return new BlobRef(obj['ref'] as never, obj['mimeType'] as string, obj['size'] as number)
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toOracleModel(v)]))
  }
  return value
}

/** The failing path from either validator's message, or null when the value passed. */
function ourVerdict(collection: string, record: unknown): string | null {
  try {
    validateRecord(registry, collection, record)
    return null
  } catch (err) {
    assert.equal((err as Error).name, 'InvalidRecord', (err as Error).message)
    return (err as Error).message.split(' ')[0] as string
  }
}
function oracleVerdict(collection: string, record: unknown): string | null {
  try {
    oracle.assertValidRecord(collection, toOracleModel(record))
    return null
  } catch (err) {
    const message = (err as Error).message
    const path = message.split(' ')[0] as string
    const missing = /must have the property "([^"]+)"/.exec(message)
    return missing ? `${path}/${missing[1]}` : path
  }
}

const SEEDS = 400
const KINDS: MutationKind[] = ['drop-required', 'wrong-type', 'over-long', 'bad-format', 'out-of-range']

test(`differential: ${SEEDS} seeded valid records pass both validators`, () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rng = makeRng(seed)
    const collection = rng.pick(COLLECTIONS)
    const record = randomRecord(rng, collection)
    assert.equal(oracleVerdict(collection, record), null, `seed ${seed}: oracle rejects ${JSON.stringify(record)}`)
    assert.equal(ourVerdict(collection, record), null, `seed ${seed}: we reject ${JSON.stringify(record)}`)
  }
})

test('differential: single-fault mutations fail both validators at the same path', () => {
  const counts: { [kind: string]: number } = {}
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rng = makeRng(seed * 7919)
    const collection = rng.pick(COLLECTIONS)
    const record = randomRecord(rng, collection)
    const sites = sitesOf(registry, collection, record)
    for (const kind of KINDS) {
      const candidates = sites.filter((s) =>
        (kind === 'drop-required' ? s.required : true) &&
        (kind === 'drop-required' || kind === 'wrong-type' || breakValue(registry, kind, s.def) !== undefined) &&
        s.def.type !== 'blob')
      if (candidates.length === 0) continue
      const site = rng.pick(candidates)
      const mutated = withValueAt(record, site.path, breakValue(registry, kind, site.def))
      const where = `seed ${seed} ${collection} ${kind} at ${site.path.join('/')}`
      const ours = ourVerdict(collection, mutated)
      const theirs = oracleVerdict(collection, mutated)
      assert.notEqual(theirs, null, `${where}: oracle accepts`)
      assert.notEqual(ours, null, `${where}: we accept`)
      assert.equal(ours, theirs, `${where}: paths differ`)
      assert.equal(ours, ['Record', ...site.path].join('/'), where)
      counts[kind] = (counts[kind] ?? 0) + 1
    }
  }
  console.log('mutations checked:', JSON.stringify(counts))
  // integer fields are rare in records (facet byte offsets, aspect ratios): fewer sites
  const floor: { [kind: string]: number } = { 'out-of-range': 15 }
  for (const kind of KINDS) {
    assert.ok((counts[kind] ?? 0) >= (floor[kind] ?? 50), `only ${counts[kind] ?? 0} ${kind} mutations`)
  }
})

test('differential: the known discrepancies are still there (we are stricter, on purpose)', () => {
  // blob accept / maxSize: the reference accepts, we reject
  const blob = (mimeType: string, size: number) => ({ $type: 'blob', ref: cidForRaw(new Uint8Array([1])), mimeType, size })
  const cases: Array<[unknown, string]> = [
    [blob('image/gif', 10), 'Record/avatar/mimeType'],
    [blob('image/png', 1_000_001), 'Record/avatar/size'],
  ]
  for (const [avatar, path] of cases) {
    const record = { $type: 'app.bsky.actor.profile', avatar }
    assert.equal(oracleVerdict('app.bsky.actor.profile', record), null)
    assert.equal(ourVerdict('app.bsky.actor.profile', record), path)
  }
  // a #main suffix on a union variant $type: the spec says "must not"; the reference accepts it
  const post = {
    $type: 'app.bsky.feed.post', text: '', createdAt: '2024-01-01T00:00:00Z',
    embed: { $type: 'app.bsky.embed.record#main', record: { uri: 'at://did:web:a.com/app.bsky.feed.post/3kznmn7xqxl22', cid: cidForCbor(new Uint8Array([2])).toString() } },
  }
  assert.equal(oracleVerdict('app.bsky.feed.post', post), null)
  assert.equal(ourVerdict('app.bsky.feed.post', post), 'Record/embed/$type')
})
