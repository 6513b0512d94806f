/**
 * The records the feed index reads, parsed at the edge: each parser checks
 * exactly the fields the index uses (and the lexicon limits on them) and
 * returns a typed value, or throws `MalformedRecord` naming the field. The
 * indexer skips and counts what throws; nothing else is trusted.
 *
 * - app.bsky.feed.post: `text` (≤ 3000 UTF-8 bytes, ≤ 300 graphemes),
 *   `createdAt` (datetime), `langs?` (≤ 3 language tags), `reply?` (root and
 *   parent strong refs), `tags?` (≤ 8 strings); `#tag` facet features are
 *   read when well formed and ignored otherwise (a broken facet does not make
 *   the text unsearchable).
 * - app.bsky.feed.like / repost: `subject` strong ref, `createdAt`.
 * - app.bsky.graph.follow: `subject` DID, `createdAt`.
 * Every record's `$type` must be its collection.
 */
import { AtfedError } from '../../core/errors.ts'
import { FEEDGEN_POST_LANGS_MAX, FEEDGEN_POST_TAGS_MAX, FEEDGEN_POST_TEXT_BYTES_MAX } from '../../core/limits.ts'
import type { LexMap, LexValue } from '../../core/data/cbor.ts'
import { isAtUri } from '../../core/syntax/at-uri.ts'
import type { AtUriString } from '../../core/syntax/at-uri.ts'
import { isCidString } from '../../core/syntax/cid-string.ts'
import { datetimeToMs, isDatetime } from '../../core/syntax/datetime.ts'
import { isDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { isLanguage } from '../../core/syntax/language.ts'

const POST_TEXT_GRAPHEMES_MAX = 300
const TAG_FEATURE = 'app.bsky.richtext.facet#tag'

export type StrongRef = { uri: AtUriString; cid: string }
export type ParsedPost = {
  text: string
  createdAt: string
  createdAtMs: number
  langs: string[]
  reply: { root: StrongRef; parent: StrongRef } | null
  /** Hashtags from `#tag` facets and `tags`, as written. */
  tags: string[]
}
export type ParsedSubject = { subject: StrongRef; createdAt: string; createdAtMs: number }
export type ParsedFollow = { subject: Did; createdAt: string; createdAtMs: number }

function malformed(field: string, message: string): AtfedError<'MalformedRecord'> {
  return new AtfedError('MalformedRecord', `${field}: ${message}`)
}

/** A decoded map (the CBOR decoder builds plain objects; CIDs, bytes and arrays are not maps). */
function isMap(v: LexValue | undefined): v is LexMap {
  if (typeof v !== 'object' || v === null) return false
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function checkType(record: LexMap, collection: string): void {
  if (record['$type'] !== collection) throw malformed('$type', `must be ${collection}`)
}

function createdAtOf(record: LexMap): { createdAt: string; createdAtMs: number } {
  const createdAt = record['createdAt']
  if (!isDatetime(createdAt)) throw malformed('createdAt', 'must be a datetime')
  return { createdAt, createdAtMs: datetimeToMs(createdAt) }
}

function strongRef(value: LexValue | undefined, field: string): StrongRef {
  if (!isMap(value)) throw malformed(field, 'must be a strong ref')
  const { uri, cid } = value
  if (!isAtUri(uri)) throw malformed(`${field}.uri`, 'must be an at-uri')
  if (!isCidString(cid)) throw malformed(`${field}.cid`, 'must be a CID string')
  return { uri, cid }
}

function stringList(value: LexValue | undefined, field: string, max: number, check: (s: string) => boolean): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.length > max) throw malformed(field, `must be an array of at most ${max}`)
  for (const item of value) if (typeof item !== 'string' || !check(item)) throw malformed(field, 'has a bad entry')
  return value as string[]
}

function checkText(text: LexValue | undefined): string {
  if (typeof text !== 'string') throw malformed('text', 'must be a string')
  if (Buffer.byteLength(text, 'utf8') > FEEDGEN_POST_TEXT_BYTES_MAX) throw malformed('text', `longer than ${FEEDGEN_POST_TEXT_BYTES_MAX} bytes`)
  if (text.length > POST_TEXT_GRAPHEMES_MAX) {
    let graphemes = 0
    for (const _ of segmenter.segment(text)) if (++graphemes > POST_TEXT_GRAPHEMES_MAX) throw malformed('text', 'more than 300 graphemes')
  }
  return text
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' })

/** `#tag` features of well-formed facets. */
function facetTags(facets: LexValue | undefined): string[] {
  if (!Array.isArray(facets)) return []
  const out: string[] = []
  for (const facet of facets) {
    if (!isMap(facet) || !Array.isArray(facet['features'])) continue
    for (const feature of facet['features']) {
      if (isMap(feature) && feature['$type'] === TAG_FEATURE && typeof feature['tag'] === 'string') out.push(feature['tag'])
    }
  }
  return out
}

export function parsePost(record: LexMap): ParsedPost {
  checkType(record, 'app.bsky.feed.post')
  const text = checkText(record['text'])
  const langs = stringList(record['langs'], 'langs', FEEDGEN_POST_LANGS_MAX, isLanguage)
  const tags = stringList(record['tags'], 'tags', FEEDGEN_POST_TAGS_MAX, (s) => s.length > 0 && s.length <= 640)
  let reply: ParsedPost['reply'] = null
  if (record['reply'] !== undefined) {
    const r = record['reply']
    if (!isMap(r)) throw malformed('reply', 'must be a map')
    reply = { root: strongRef(r['root'], 'reply.root'), parent: strongRef(r['parent'], 'reply.parent') }
  }
  return { text, ...createdAtOf(record), langs, reply, tags: [...facetTags(record['facets']), ...tags] }
}

/** app.bsky.feed.like and app.bsky.feed.repost. */
export function parseSubjectRecord(record: LexMap, collection: string): ParsedSubject {
  checkType(record, collection)
  return { subject: strongRef(record['subject'], 'subject'), ...createdAtOf(record) }
}

export function parseFollow(record: LexMap): ParsedFollow {
  checkType(record, 'app.bsky.graph.follow')
  const subject = record['subject']
  if (!isDid(subject)) throw malformed('subject', 'must be a DID')
  return { subject, ...createdAtOf(record) }
}
