/**
 * The feed index's key layout in `level` (string keys, one sublevel each).
 * Every record row is keyed by its at-uri, so the same op applied twice finds
 * its row and changes nothing, and a delete finds exactly what to remove;
 * every secondary entry is derived from a row and removed with it.
 *
 *   post      <uri>                       → PostRow (JSON)
 *   like      <uri>                       → SubjectRow (JSON)
 *   repost    <uri>                       → SubjectRow (JSON)
 *   follow    <uri>                       → FollowRow (JSON)
 *   term      <term> SEP <time> SEP <uri>  → ''            posts by search term, by time
 *   author    <did>  SEP <time> SEP <uri>  → '' | <subject> a repo's posts and reposts, by time
 *   liketime  <time> SEP <uri>             → <subject uri>  likes by time (the popular window)
 *   follows   <did>  SEP <uri>             → <subject did>  whom a viewer follows
 *   account   <did>                       → <status>       accounts not active (#account active=false)
 *   authorlast <did>                      → <time>         upper bound on the sort time of the repo's
 *                                                           newest post or repost (never lowered by a
 *                                                           delete; removed with the account's rows)
 *   meta      'authorlast'                → '1'            authorlast covers every author entry
 *
 * `<time>` is the item's sort time in ms since the epoch, zero-padded to 15
 * digits so that string order is time order; SEP is U+0000, which appears in
 * no DID, term or at-uri. Row keys of one repo share the prefix
 * `at://<did>/`, so an account's rows are one range (account deletion).
 */
import { assert } from '../../core/errors.ts'

export const SEP = '\u0000'
/** The smallest string greater than every `<prefix> SEP …` key. */
export const SEP_END = '\u0001'
const TIME_DIGITS = 15

export type SublevelName = 'post' | 'like' | 'repost' | 'follow' | 'term' | 'author' | 'liketime' | 'follows' | 'account' | 'authorlast' | 'meta'
export const SUBLEVELS: readonly SublevelName[] = ['post', 'like', 'repost', 'follow', 'term', 'author', 'liketime', 'follows', 'account', 'authorlast', 'meta']

export type PostRow = {
  cid: string
  text: string
  langs: string[]
  createdAt: string
  sortAt: number
  replyRoot: string | null
  replyParent: string | null
  /** The terms it was indexed under (to remove them again). */
  terms: string[]
}

export type SubjectRow = { cid: string; subject: string; subjectCid: string; sortAt: number }
export type FollowRow = { cid: string; subject: string; createdAt: string }

export function timeKey(ms: number): string {
  assert(Number.isSafeInteger(ms) && ms >= 0 && ms < 10 ** TIME_DIGITS, `sort time out of range: ${ms}`)
  return String(ms).padStart(TIME_DIGITS, '0')
}

/** `<a> SEP <b> SEP …` */
export function joinKey(...parts: string[]): string {
  return parts.join(SEP)
}

/** Range over every key starting with `<prefix> SEP`. */
export function prefixRange(prefix: string): { gt: string; lt: string } {
  return { gt: prefix + SEP, lt: prefix + SEP_END }
}

/** The last part of a joined key (an at-uri never contains SEP). */
export function lastPart(key: string): string {
  return key.slice(key.lastIndexOf(SEP) + 1)
}

/** The DID of an at-uri's authority (every indexed uri has a DID authority). */
export function authorOf(uri: string): string {
  const end = uri.indexOf('/', 5)
  return end < 0 ? uri.slice(5) : uri.slice(5, end)
}

/** Range of a repo's rows in a uri-keyed sublevel. */
export function repoRowRange(did: string): { gte: string; lt: string } {
  const prefix = `at://${did}/`
  return { gte: prefix, lt: `at://${did}0` } // '0' is the character after '/'
}
