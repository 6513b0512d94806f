/**
 * Fuzz target: the identifier parsers of core/syntax (DID, handle, NSID,
 * AT-URI, AT identifier, record key, TID, datetime, language, CID string,
 * URI) — what every XRPC parameter and record field goes through. Each runs
 * on the input (UTF-8 text). Documented errors: Invalid<Kind>. Invariants:
 * `parseX(s)` succeeds exactly when the any-case check (`isXSyntax`, or `isX`)
 * says yes (for language tags `isLanguageSyntax` is only well-formedness, a
 * weaker check, as language.ts documents); its result is in normal form (`isX`) and parses to itself; and no
 * input takes long (a slow regex would show as a 'Slow' crash).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { isAtfedError } from '../../core/errors.ts'
import { isAtIdentifier, parseAtIdentifier } from '../../core/syntax/at-identifier.ts'
import { isAtUri, isAtUriSyntax, parseAtUri } from '../../core/syntax/at-uri.ts'
import { isCidString, parseCidString } from '../../core/syntax/cid-string.ts'
import { isDatetime, parseDatetime } from '../../core/syntax/datetime.ts'
import { isDid, parseDid } from '../../core/syntax/did.ts'
import { isHandle, isHandleSyntax, parseHandle } from '../../core/syntax/handle.ts'
import { isLanguage, isLanguageSyntax, parseLanguage } from '../../core/syntax/language.ts'
import { isNsid, isNsidSyntax, parseNsid } from '../../core/syntax/nsid.ts'
import { isRecordKey, parseRecordKey } from '../../core/syntax/record-key.ts'
import { isTid, parseTid } from '../../core/syntax/tid.ts'
import { isUri, parseUri } from '../../core/syntax/uri.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { tokens } from '../engine/target.ts'

type Kind = {
  name: string
  error: string
  parse: (s: string) => unknown
  /** Valid and in normal form. */
  is: (s: string) => boolean
  /** Valid in any letter case: exactly what `parse` accepts (default `is`). */
  syntax?: (s: string) => boolean
  /** A weaker check every parsed value must pass too. */
  wellFormed?: (s: string) => boolean
}

const KINDS: readonly Kind[] = [
  { name: 'did', error: 'InvalidDid', parse: parseDid, is: isDid },
  { name: 'handle', error: 'InvalidHandle', parse: parseHandle, is: isHandle, syntax: isHandleSyntax },
  { name: 'nsid', error: 'InvalidNsid', parse: parseNsid, is: isNsid, syntax: isNsidSyntax },
  { name: 'at-uri', error: 'InvalidAtUri', parse: parseAtUri, is: isAtUri, syntax: isAtUriSyntax },
  { name: 'at-identifier', error: 'InvalidHandle', parse: parseAtIdentifier, is: isAtIdentifier, syntax: (s) => isDid(s) || isHandleSyntax(s) },
  { name: 'record-key', error: 'InvalidRecordKey', parse: parseRecordKey, is: isRecordKey },
  { name: 'tid', error: 'InvalidTid', parse: parseTid, is: isTid },
  { name: 'datetime', error: 'InvalidDatetime', parse: parseDatetime, is: isDatetime },
  // isLanguageSyntax is well-formedness only (repeated variants pass); parseLanguage also checks validity
  { name: 'language', error: 'InvalidLanguage', parse: parseLanguage, is: isLanguage, wellFormed: isLanguageSyntax },
  { name: 'cid', error: 'InvalidCidString', parse: parseCidString, is: isCidString },
  { name: 'uri', error: 'InvalidUri', parse: parseUri, is: isUri },
]
const ERRORS = [...new Set([...KINDS.map((k) => k.error), 'InvalidDid'])]

function interopLines(): string[] {
  const dir = new URL('../../test/vectors/interop/syntax/', import.meta.url)
  const lines: string[] = []
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(new URL(file, dir), 'utf8')
    lines.push(...text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).slice(0, 12))
  }
  return lines
}

function check(kind: Kind, s: string): void {
  let parsed: unknown
  let ok = true
  try {
    parsed = kind.parse(s)
  } catch (err) {
    if (!isAtfedError(err) || !ERRORS.includes(err.name)) throw err
    ok = false
  }
  if (ok !== (kind.syntax ?? kind.is)(s)) throw new Error(`${kind.name}: parse ${ok ? 'accepts' : 'refuses'} what the check ${ok ? 'refuses' : 'accepts'}`)
  if (!ok) return
  if (kind.wellFormed !== undefined && !kind.wellFormed(s)) throw new Error(`${kind.name}: parse accepts what the well-formedness check refuses`)
  const normal = String(parsed)
  if (!kind.is(normal)) throw new Error(`${kind.name}: a parsed value is not in normal form`)
  if (String(kind.parse(normal)) !== normal) throw new Error(`${kind.name}: parsing the normal form changes it`)
}

export const target: FuzzTarget = {
  name: 'syntax',
  expectedErrors: ERRORS,
  coverageDirs: ['core/syntax/'],
  maxBytes: 4096,
  seeds: () => interopLines().map((l) => new TextEncoder().encode(l)),
  dictionary: tokens('at://', 'did:plc:', 'did:web:', 'did:key:z', '.bsky.social', 'app.bsky.feed.post', '3kabc2aaaaa22', 'T12:00:00', '.000Z', '+00:00', 'bafyrei', 'https://', '%2F', 'xn--', 'i-default', 'en-US-u-ca', '/', ':', '.', '-', '~'),
  run(bytes) {
    const s = Buffer.from(bytes).toString('utf8')
    for (const kind of KINDS) check(kind, s)
  },
}
