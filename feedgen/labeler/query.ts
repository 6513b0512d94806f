/**
 * `com.atproto.label.queryLabels`: the active labels whose subject matches
 * one of `uriPatterns`, optionally only from `sources`, paged by `cursor`.
 *
 * Patterns (spec): an exact subject, or a prefix ending in ONE trailing `*`
 * (`*` alone is everything). Nothing else is special: a `*` elsewhere, `%`,
 * `_`, `.`, `(`… are literal characters, because matching is a byte range
 * scan of the index (label-index.ts), never a regex or a SQL LIKE. Patterns
 * are bounded (count, bytes; control characters refused) and normalised
 * first: duplicates and patterns covered by a shorter prefix are dropped, so
 * the remaining key ranges are disjoint and sorted, and a page is one pass
 * over them in key order.
 *
 * Work per request is bounded by LABEL_QUERY_SCAN_MAX index entries,
 * whatever the filters drop (other sources, negated or expired labels): when
 * the budget runs out the page ends early with a cursor at the last entry
 * examined, possibly with fewer than `limit` labels, even none.
 */
import { LABEL_QUERY_LIMIT_DEFAULT, LABEL_QUERY_LIMIT_MAX, LABEL_QUERY_PATTERN_BYTES_MAX, LABEL_QUERY_PATTERNS_MAX, LABEL_QUERY_SCAN_MAX, LABEL_QUERY_SOURCES_MAX } from '../../core/limits.ts'
import { isDid } from '../../core/syntax/did.ts'
import { invalidRequest } from '../../core/xrpc/errors.ts'
import type { XrpcParams } from '../../core/xrpc/server.ts'
import type { SignedLabel } from './label.ts'
import { compareBytes, decodeQueryCursor, encodeQueryCursor, exactRange, prefixRange, srcOfKey } from './label-index.ts'
import type { KeyRange } from './label-index.ts'
import { isActiveLabel } from './label-writer.ts'
import type { LabelStore } from './store.ts'

export type LabelQuery = {
  readonly ranges: readonly KeyRange[]
  readonly sources: ReadonlySet<string> | null
  readonly limit: number
  readonly after: Uint8Array | null
}

export type LabelPage = { readonly labels: readonly SignedLabel[]; readonly cursor: string | null }

function list(params: XrpcParams, name: string): readonly string[] {
  const value = params[name]
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : (value as readonly string[])
}

function single(params: XrpcParams, name: string): string | null {
  const value = params[name]
  if (value === undefined) return null
  if (typeof value !== 'string') throw invalidRequest(`${name} must be given once`)
  return value
}

/** Exact subjects and prefixes → disjoint key ranges in key order. */
export function patternRanges(patterns: readonly string[]): KeyRange[] {
  const prefixes = [...new Set(patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1)))].sort((a, b) => a.length - b.length)
  const kept: string[] = []
  for (const p of prefixes) if (!kept.some((q) => p.startsWith(q))) kept.push(p)
  const exacts = [...new Set(patterns.filter((p) => !p.endsWith('*')))].filter((e) => !kept.some((q) => e.startsWith(q)))
  const ranges = [...kept.map(prefixRange), ...exacts.map(exactRange)]
  return ranges.sort((a, b) => compareBytes(a.gte, b.gte))
}

export function parseLabelQuery(params: XrpcParams): LabelQuery {
  const patterns = list(params, 'uriPatterns')
  if (patterns.length === 0) throw invalidRequest('uriPatterns is required')
  if (patterns.length > LABEL_QUERY_PATTERNS_MAX) throw invalidRequest(`at most ${LABEL_QUERY_PATTERNS_MAX} uriPatterns`)
  for (const p of patterns) {
    if (p.length === 0) throw invalidRequest('a uri pattern must not be empty')
    if (Buffer.byteLength(p) > LABEL_QUERY_PATTERN_BYTES_MAX) throw invalidRequest(`a uri pattern is at most ${LABEL_QUERY_PATTERN_BYTES_MAX} bytes`)
    if (/[\u0000-\u001f]/.test(p)) throw invalidRequest('a uri pattern must not contain control characters')
  }
  const sourceList = list(params, 'sources')
  if (sourceList.length > LABEL_QUERY_SOURCES_MAX) throw invalidRequest(`at most ${LABEL_QUERY_SOURCES_MAX} sources`)
  for (const s of sourceList) if (!isDid(s)) throw invalidRequest('sources must be DIDs')
  const limitText = single(params, 'limit')
  const limit = limitText === null ? LABEL_QUERY_LIMIT_DEFAULT : Number(limitText)
  if (limitText !== null && (!/^\d{1,3}$/.test(limitText) || limit < 1 || limit > LABEL_QUERY_LIMIT_MAX)) {
    throw invalidRequest(`limit must be an integer from 1 to ${LABEL_QUERY_LIMIT_MAX}`)
  }
  const cursor = single(params, 'cursor')
  return {
    ranges: patternRanges(patterns),
    sources: sourceList.length === 0 ? null : new Set(sourceList),
    limit,
    after: cursor === null ? null : decodeQueryCursor(cursor),
  }
}

/** One page of active labels (see the module header for the scan budget). */
export async function queryLabels(store: LabelStore, query: LabelQuery, options: { nowMs: number; scanMax?: number }): Promise<LabelPage> {
  const scanMax = options.scanMax ?? LABEL_QUERY_SCAN_MAX
  const labels: SignedLabel[] = []
  let scanned = 0
  let last: Uint8Array | null = null
  for (const range of query.ranges) {
    if (query.after !== null && compareBytes(query.after, range.lt) >= 0) continue
    for await (const { key, label } of store.scan(range, { after: query.after, limit: scanMax - scanned })) {
      scanned++
      last = key
      if (query.sources !== null && !query.sources.has(srcOfKey(key))) continue
      if (!isActiveLabel(label, options.nowMs)) continue
      labels.push(label)
      if (labels.length === query.limit) return { labels, cursor: encodeQueryCursor(key) }
    }
    if (scanned >= scanMax) return { labels, cursor: last === null ? null : encodeQueryCursor(last) }
  }
  return { labels, cursor: null }
}
