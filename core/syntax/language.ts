/**
 * Language tags: the lexicon `language` format (BCP 47 / RFC 5646), as in post `langs`.
 *
 * Well-formedness (`isLanguageSyntax`) follows the RFC 5646 §2.1 grammar, walked
 * subtag by subtag:
 *   language[-extlang{1,3}] [-script] [-region] *(-variant) *(-extension) [-privateuse]
 * or a private-use tag (`x-...`) or one of the grandfathered tags. Two
 * atproto rules on top (from the interop vectors): the primary language subtag
 * must be lower case (`JA` is rejected) and the reserved four-letter form
 * (`jaja`) is rejected. Other subtags are case-insensitive (`X-fr-CH`, `de-X-foo`).
 *
 * Validity (`parseLanguage` / `isLanguage`) adds RFC 5646 §2.2.9/§4.1: no variant
 * subtag and no extension singleton may appear twice (compared case-insensitively).
 */
import { AtfedError } from '../errors.ts'
import { LANGUAGE_LENGTH_MAX } from '../limits.ts'

export type Language = string & { readonly __brand: 'Language' }

const GRANDFATHERED = new Set([
  'en-gb-oed', 'i-ami', 'i-bnn', 'i-default', 'i-enochian', 'i-hak', 'i-klingon', 'i-lux', 'i-mingo',
  'i-navajo', 'i-pwn', 'i-tao', 'i-tay', 'i-tsu', 'sgn-be-fr', 'sgn-be-nl', 'sgn-ch-de',
  'art-lojban', 'cel-gaulish', 'no-bok', 'no-nyn', 'zh-guoyu', 'zh-hakka', 'zh-min', 'zh-min-nan', 'zh-xiang',
])

const SUBTAG = /^[A-Za-z0-9]{1,8}$/
const EXTLANG = /^[A-Za-z]{3}$/
const SCRIPT = /^[A-Za-z]{4}$/
const REGION = /^([A-Za-z]{2}|[0-9]{3})$/
const VARIANT = /^([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3})$/
const SINGLETON = /^[0-9A-WYZa-wyz]$/
const EXTENSION_PART = /^[A-Za-z0-9]{2,8}$/

function invalid(message: string): AtfedError<'InvalidLanguage'> {
  return new AtfedError('InvalidLanguage', message)
}

/** True when subtags `i..end` are a private-use sequence: `x` plus one or more subtags. */
function isPrivateUseAt(subtags: string[], i: number): boolean {
  return (subtags[i] === 'x' || subtags[i] === 'X') && i + 1 < subtags.length
}

function primaryProblem(primary: string): string | null {
  if (/^[a-z]{2,3}$/.test(primary) || /^[a-z]{5,8}$/.test(primary)) return null
  if (/^[A-Za-z]+$/.test(primary) && primary !== primary.toLowerCase()) {
    return 'language primary subtag must be lower case'
  }
  if (/^[a-z]{4}$/.test(primary)) return 'four-letter primary language subtags are reserved'
  return 'language primary subtag must be 2-3 or 5-8 letters'
}

/** Returns the reason `s` is not a language tag, or null. `full` adds the duplicate checks. */
function languageProblem(s: string, full: boolean): string | null {
  if (s.length > LANGUAGE_LENGTH_MAX) return `language tag longer than ${LANGUAGE_LENGTH_MAX} characters`
  const subtags = s.split('-')
  if (!subtags.every((t) => SUBTAG.test(t))) return 'language subtags must be 1-8 ASCII letters or digits'
  const primary = subtags[0] as string
  if (/^[a-z]/.test(primary) && GRANDFATHERED.has(s.toLowerCase())) return null
  if (primary === 'x' || primary === 'X') {
    return isPrivateUseAt(subtags, 0) ? null : 'private-use tag needs a subtag after "x"'
  }
  const problem = primaryProblem(primary)
  if (problem !== null) return problem
  let i = 1
  const at = (re: RegExp): boolean => i < subtags.length && re.test(subtags[i] as string)
  if (primary.length <= 3) for (let n = 0; n < 3 && at(EXTLANG); n++) i++
  if (at(SCRIPT)) i++
  if (at(REGION)) i++
  const variants = new Set<string>()
  for (; at(VARIANT); i++) {
    const v = (subtags[i] as string).toLowerCase()
    if (full && variants.has(v)) return `language variant subtag "${v}" repeated`
    variants.add(v)
  }
  const singletons = new Set<string>()
  while (at(SINGLETON)) {
    const singleton = (subtags[i] as string).toLowerCase()
    if (full && singletons.has(singleton)) return `language extension singleton "${singleton}" repeated`
    singletons.add(singleton)
    i++
    if (!at(EXTENSION_PART)) return `language extension "${singleton}" needs a 2-8 character subtag`
    while (at(EXTENSION_PART)) i++
  }
  if (i < subtags.length && !isPrivateUseAt(subtags, i)) return `malformed language tag at subtag "${subtags[i]}"`
  return null
}

/** Parse a well-formed and valid language tag (returned unchanged). Throws `InvalidLanguage`. */
export function parseLanguage(s: string): Language {
  if (typeof s !== 'string') throw invalid('language tag must be a string')
  const problem = languageProblem(s, true)
  if (problem !== null) throw invalid(problem)
  return s as Language
}

export function isLanguage(s: unknown): s is Language {
  return typeof s === 'string' && languageProblem(s, true) === null
}

/** Well-formed only: accepts repeated variants and extension singletons. */
export function isLanguageSyntax(s: unknown): s is string {
  return typeof s === 'string' && languageProblem(s, false) === null
}
