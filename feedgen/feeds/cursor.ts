/**
 * Feed cursors, opaque to clients: `<time ms>::<at-uri>` for time-ordered
 * feeds and `<score>::<at-uri>` for ranked ones. Both name the last item
 * served, so the next page starts strictly after it in the feed's total
 * order (time or score first, then the uri) and is stable while items are
 * added ahead of it. Anything else is 400 `InvalidRequest`.
 */
import { FEEDGEN_CURSOR_LENGTH_MAX } from '../../core/limits.ts'
import { isAtUri } from '../../core/syntax/at-uri.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import type { TimeCursor } from '../indexer/store.ts'

const SHAPE = /^(\d{1,15})::(at:\/\/.+)$/

function badCursor(): XrpcError {
  return new XrpcError(400, 'InvalidRequest', 'malformed cursor')
}

/** `<number>::<uri>` → parts; null for no cursor. */
function parsePair(cursor: string | null): { n: number; uri: string } | null {
  if (cursor === null) return null
  if (cursor.length > FEEDGEN_CURSOR_LENGTH_MAX) throw badCursor()
  const m = SHAPE.exec(cursor)
  if (m === null || !isAtUri(m[2])) throw badCursor()
  return { n: Number(m[1]), uri: m[2] as string }
}

export function formatTimeCursor(item: { time: number; uri: string }): string {
  return `${item.time}::${item.uri}`
}

export function parseTimeCursor(cursor: string | null): TimeCursor | null {
  const pair = parsePair(cursor)
  return pair === null ? null : { time: pair.n, uri: pair.uri }
}

export function formatScoreCursor(item: { score: number; uri: string }): string {
  return `${item.score}::${item.uri}`
}

export function parseScoreCursor(cursor: string | null): { score: number; uri: string } | null {
  const pair = parsePair(cursor)
  return pair === null ? null : { score: pair.n, uri: pair.uri }
}
