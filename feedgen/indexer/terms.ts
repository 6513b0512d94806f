/**
 * The search terms a post is indexed under, for keyword and hashtag feeds.
 *
 * Text is NFKC-normalised and lower-cased, then split into words (runs of
 * letters, digits and `_`). Every word of 2..FEEDGEN_TERM_LENGTH_MAX
 * characters is a term; a word written `#word` in the text, a `#tag` facet
 * and an entry of the post's `tags` are also the term `#word`. So the
 * keyword `atproto` finds "I like ATProto" and "#atproto", while `#atproto`
 * finds only the hashtag. At most FEEDGEN_POST_TERMS_MAX distinct terms per
 * post (hashtags first, then words in order): the index write per post is
 * bounded whatever the text.
 *
 * `normalizeKeyword` applies the same rules to a configured keyword, so what
 * a feed looks up is exactly what the indexer wrote.
 */
import { AtfedError } from '../../core/errors.ts'
import { FEEDGEN_POST_TERMS_MAX, FEEDGEN_TERM_LENGTH_MAX } from '../../core/limits.ts'

const WORD = /#?[\p{L}\p{N}_]+/gu
const TERM_LENGTH_MIN = 2

function fold(s: string): string {
  return s.normalize('NFKC').toLowerCase()
}

function termOk(word: string): boolean {
  return word.length >= TERM_LENGTH_MIN && word.length <= FEEDGEN_TERM_LENGTH_MAX
}

export function postTerms(text: string, tags: readonly string[]): string[] {
  const hashtags = new Set<string>()
  const words = new Set<string>()
  for (const tag of tags) {
    const t = fold(tag.startsWith('#') ? tag.slice(1) : tag)
    if (termOk(t) && !t.includes('\u0000')) hashtags.add(`#${t}`)
  }
  for (const match of fold(text).matchAll(WORD)) {
    const token = match[0]
    const word = token.startsWith('#') ? token.slice(1) : token
    if (!termOk(word)) continue
    if (token.startsWith('#')) hashtags.add(`#${word}`)
    words.add(word)
  }
  return [...hashtags, ...words].slice(0, FEEDGEN_POST_TERMS_MAX)
}

/** A configured keyword as the term the index holds: `word` or `#word`. Throws `InvalidConfig`. */
export function normalizeKeyword(keyword: string): string {
  const folded = fold(keyword.trim())
  const tag = folded.startsWith('#')
  const word = tag ? folded.slice(1) : folded
  const match = word.match(/^[\p{L}\p{N}_]+$/u)
  if (match === null || !termOk(word)) {
    throw new AtfedError('InvalidConfig', `keyword must be one word or #hashtag of ${TERM_LENGTH_MIN}..${FEEDGEN_TERM_LENGTH_MAX} letters, digits or _`)
  }
  return tag ? `#${word}` : word
}
