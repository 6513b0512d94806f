/**
 * What a Jetstream subscriber asks for, parsed at the edge: the query string
 * of `/subscribe` and the `options_update` messages it may send later.
 *
 * - `wantedCollections` (repeated): NSIDs, or prefixes `a.b.*` (every
 *   collection starting with `a.b.`; the part before `.*` is dot-separated
 *   NSID segments, so `app.bsky.graph.fo*` and `*` are refused). At most
 *   JETSTREAM_WANTED_COLLECTIONS_MAX. Empty = every collection. The filter
 *   applies to commit messages only: identity and account messages pass it.
 * - `wantedDids` (repeated): DIDs, at most JETSTREAM_WANTED_DIDS_MAX. Empty =
 *   every repo. Applies to every message.
 * - `maxMessageSizeBytes`: messages whose JSON is longer are not sent; 0 or
 *   negative = no limit.
 * - `cursor`: unix µs (see time-index.ts); absent = live.
 * - `compress=true` (or header `Socket-Encoding: zstd`): zstd frames.
 * - `requireHello=true`: send nothing until the first options_update.
 *
 * Every problem is an AtfedError whose name is the API: TooManyWantedCollections,
 * TooManyWantedDids, InvalidWantedCollection, InvalidWantedDid,
 * InvalidMaxMessageSize, InvalidCursor, InvalidOptionsUpdate.
 */
import { AtfedError } from '../../core/errors.ts'
import { JETSTREAM_WANTED_COLLECTIONS_MAX, JETSTREAM_WANTED_DIDS_MAX, NSID_LENGTH_MAX } from '../../core/limits.ts'
import { isDid } from '../../core/syntax/did.ts'
import { isNsidSyntax } from '../../core/syntax/nsid.ts'
import type { JetstreamMessage } from './render.ts'

export type JetstreamFilter = {
  readonly collections: ReadonlySet<string>
  /** Prefixes with their trailing dot: `app.bsky.` for `app.bsky.*`. */
  readonly prefixes: readonly string[]
  readonly dids: ReadonlySet<string>
  /** 0 = no limit. */
  readonly maxMessageSizeBytes: number
}

export type SubscribeParams = {
  filter: JetstreamFilter
  cursorUs: number | null
  compress: boolean
  requireHello: boolean
}

const PREFIX_SEGMENT = /^[a-zA-Z0-9-]{1,63}$/

function parseCollections(values: readonly unknown[]): Pick<JetstreamFilter, 'collections' | 'prefixes'> {
  if (values.length > JETSTREAM_WANTED_COLLECTIONS_MAX) {
    throw new AtfedError('TooManyWantedCollections', `at most ${JETSTREAM_WANTED_COLLECTIONS_MAX} wantedCollections`)
  }
  const collections = new Set<string>()
  const prefixes: string[] = []
  for (const value of values) {
    if (typeof value === 'string' && isNsidSyntax(value)) {
      collections.add(value)
    } else if (
      typeof value === 'string' &&
      value.endsWith('.*') &&
      value.length <= NSID_LENGTH_MAX &&
      value.slice(0, -2).split('.').every((s) => PREFIX_SEGMENT.test(s))
    ) {
      prefixes.push(value.slice(0, -1))
    } else {
      throw new AtfedError('InvalidWantedCollection', `not an NSID or NSID prefix (a.b.*): ${JSON.stringify(value)}`)
    }
  }
  return { collections, prefixes }
}

function parseDids(values: readonly unknown[]): ReadonlySet<string> {
  if (values.length > JETSTREAM_WANTED_DIDS_MAX) {
    throw new AtfedError('TooManyWantedDids', `at most ${JETSTREAM_WANTED_DIDS_MAX} wantedDids`)
  }
  for (const value of values) {
    if (!isDid(value)) throw new AtfedError('InvalidWantedDid', `not a DID: ${JSON.stringify(value)}`)
  }
  return new Set(values as string[])
}

/** From the query (a decimal string) or an options_update (a JSON number). */
function parseMaxSize(value: unknown, from: 'query' | 'json'): number {
  if (value === null || value === undefined || (from === 'query' && value === '')) return 0
  const n = from === 'query' && typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || (from === 'query' && typeof value !== 'string') || !Number.isSafeInteger(n)) {
    throw new AtfedError('InvalidMaxMessageSize', 'maxMessageSizeBytes must be an integer')
  }
  return Math.max(n, 0)
}

function parseCursor(value: string | null): number | null {
  if (value === null || value === '') return null
  if (!/^[0-9]{1,16}$/.test(value)) throw new AtfedError('InvalidCursor', 'cursor must be unix microseconds')
  return Number(value)
}

/** The query string of a `/subscribe` upgrade, plus its `Socket-Encoding` header. */
export function parseSubscribeParams(query: URLSearchParams, socketEncoding: string | undefined): SubscribeParams {
  const filter = {
    ...parseCollections(query.getAll('wantedCollections')),
    dids: parseDids(query.getAll('wantedDids')),
    maxMessageSizeBytes: parseMaxSize(query.get('maxMessageSizeBytes'), 'query'),
  }
  return {
    filter,
    cursorUs: parseCursor(query.get('cursor')),
    compress: query.get('compress') === 'true' || socketEncoding?.trim().toLowerCase() === 'zstd',
    requireHello: query.get('requireHello') === 'true',
  }
}

function invalidUpdate(message: string): AtfedError<'InvalidOptionsUpdate'> {
  return new AtfedError('InvalidOptionsUpdate', message)
}

function arrayField(payload: Record<string, unknown>, key: string): unknown[] {
  const value = payload[key]
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw invalidUpdate(`${key} must be an array`)
  return value
}

/**
 * A subscriber's text message: `{type: 'options_update', payload: {wantedCollections?,
 * wantedDids?, maxMessageSizeBytes?}}`. A missing or empty array turns that
 * filter off, as in Jetstream. Filter errors keep their own names.
 */
export function parseOptionsUpdate(text: string): JetstreamFilter {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    throw invalidUpdate('not JSON')
  }
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'options_update') {
    throw invalidUpdate('expected {"type":"options_update","payload":{...}}')
  }
  const payload = (message as { payload?: unknown }).payload
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalidUpdate('payload must be an object')
  const fields = payload as Record<string, unknown>
  return {
    ...parseCollections(arrayField(fields, 'wantedCollections')),
    dids: parseDids(arrayField(fields, 'wantedDids')),
    maxMessageSizeBytes: parseMaxSize(fields.maxMessageSizeBytes, 'json'),
  }
}

/** True when the subscriber with `filter` wants `message`. */
export function filterMatches(filter: JetstreamFilter, message: JetstreamMessage): boolean {
  if (filter.maxMessageSizeBytes > 0 && message.data.length > filter.maxMessageSizeBytes) return false
  if (filter.dids.size > 0 && !filter.dids.has(message.did)) return false
  const collection = message.collection
  if (collection === null || (filter.collections.size === 0 && filter.prefixes.length === 0)) return true
  if (filter.collections.has(collection)) return true
  return filter.prefixes.some((prefix) => collection.startsWith(prefix))
}
