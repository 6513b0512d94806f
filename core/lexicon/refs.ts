/**
 * Lexicon references. In a file a ref is `#name` (same document), `nsid`
 * (that document's `main`) or `nsid#name`. The parser stores every ref in
 * one absolute form so lookups and `$type` comparisons are plain string
 * equality: `nsid` for a `main` def, `nsid#name` otherwise. Data `$type`
 * values use the same form (the spec forbids a `#main` suffix in data).
 */
import { isNsid } from '../syntax/nsid.ts'
import { LEXICON_DEF_NAME_CHARS_MAX } from '../limits.ts'
import { invalidLexicon } from './parse-reader.ts'

const DEF_NAME = /^[a-zA-Z][a-zA-Z0-9_]*$/

export function isDefName(name: string): boolean {
  return name.length <= LEXICON_DEF_NAME_CHARS_MAX && DEF_NAME.test(name)
}

export function absoluteRef(nsid: string, name: string): string {
  return name === 'main' ? nsid : `${nsid}#${name}`
}

/** Rewrites a ref from document `docId` into absolute form, or throws `InvalidLexicon`. */
export function normalizeRef(ref: string, docId: string, path: string): string {
  const hash = ref.indexOf('#')
  const nsid = hash === -1 ? ref : hash === 0 ? docId : ref.slice(0, hash)
  const name = hash === -1 ? 'main' : ref.slice(hash + 1)
  if (!isNsid(nsid)) invalidLexicon(path, `"${ref}" does not start with a valid NSID`)
  if (!isDefName(name)) invalidLexicon(path, `"${ref}" has an invalid def name`)
  return absoluteRef(nsid, name)
}

/** Splits an absolute ref (or a data `$type`) into its document NSID and def name. */
export function splitRef(ref: string): { nsid: string; name: string } {
  const hash = ref.indexOf('#')
  if (hash === -1) return { nsid: ref, name: 'main' }
  return { nsid: ref.slice(0, hash), name: ref.slice(hash + 1) }
}
