/**
 * Every line of every file in test/vectors/interop/syntax: `*_valid` must be
 * accepted, `*_invalid` rejected with the type's error name, `*_parse_invalid`
 * accepted by the shape-only check but rejected by the full parse.
 * Lines are split on '\n' only and never trimmed (several invalid cases are a
 * valid value plus a space); '#' lines and empty lines are skipped.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isHandle, isHandleSyntax, parseHandle } from '../../core/syntax/handle.ts'
import { isDid, parseDid } from '../../core/syntax/did.ts'
import { isNsid, isNsidSyntax, parseNsid } from '../../core/syntax/nsid.ts'
import { isTid, parseTid } from '../../core/syntax/tid.ts'
import { isRecordKey, parseRecordKey } from '../../core/syntax/record-key.ts'
import { isAtUri, isAtUriSyntax, parseAtUri } from '../../core/syntax/at-uri.ts'
import { isAtIdentifier, parseAtIdentifier } from '../../core/syntax/at-identifier.ts'
import { isDatetime, isDatetimeSyntax, parseDatetime } from '../../core/syntax/datetime.ts'
import { isLanguage, isLanguageSyntax, parseLanguage } from '../../core/syntax/language.ts'
import { isCidString, parseCidString } from '../../core/syntax/cid-string.ts'
import { isUri, parseUri } from '../../core/syntax/uri.ts'
import { interopPath } from '../helpers/vectors.ts'

const DIR = interopPath('syntax')

function lines(file: string): string[] {
  const all = readFileSync(join(DIR, file), 'utf8').split('\n')
  return all.filter((line) => line !== '' && !line.startsWith('#'))
}

interface Kind {
  prefix: string
  /** Full parse; returns the normalised string form. */
  parse: (s: string) => string
  /** Shape-only / any-case predicate. */
  syntax: (s: unknown) => boolean
  /** Predicate for the normalised form. */
  is: (s: unknown) => boolean
  /** Error name expected for `s` (at-identifier depends on the prefix). */
  errorName: (s: string) => string
  /** Expected counts from the interop README, so a broken reader cannot pass. */
  counts: [valid: number, invalid: number, parseInvalid?: number]
}

const KINDS: Kind[] = [
  { prefix: 'handle', parse: parseHandle, syntax: isHandleSyntax, is: isHandle, errorName: () => 'InvalidHandle', counts: [71, 48] },
  { prefix: 'did', parse: parseDid, syntax: isDid, is: isDid, errorName: () => 'InvalidDid', counts: [24, 18] },
  {
    prefix: 'atidentifier',
    parse: parseAtIdentifier,
    syntax: (s) => isDid(s) || isHandleSyntax(s),
    is: isAtIdentifier,
    errorName: (s) => (s.startsWith('did:') ? 'InvalidDid' : 'InvalidHandle'),
    counts: [11, 22],
  },
  { prefix: 'nsid', parse: parseNsid, syntax: isNsidSyntax, is: isNsid, errorName: () => 'InvalidNsid', counts: [25, 27] },
  { prefix: 'tid', parse: parseTid, syntax: isTid, is: isTid, errorName: () => 'InvalidTid', counts: [4, 9] },
  {
    prefix: 'recordkey',
    parse: parseRecordKey,
    syntax: isRecordKey,
    is: isRecordKey,
    errorName: () => 'InvalidRecordKey',
    counts: [16, 11],
  },
  {
    prefix: 'aturi',
    parse: (s) => parseAtUri(s).toString(),
    syntax: isAtUriSyntax,
    is: isAtUri,
    errorName: () => 'InvalidAtUri',
    counts: [23, 72],
  },
  {
    prefix: 'datetime',
    parse: parseDatetime,
    syntax: isDatetimeSyntax,
    is: isDatetime,
    errorName: () => 'InvalidDatetime',
    counts: [35, 45, 7],
  },
  {
    prefix: 'language',
    parse: parseLanguage,
    syntax: isLanguageSyntax,
    is: isLanguage,
    errorName: () => 'InvalidLanguage',
    counts: [18, 7, 4],
  },
  { prefix: 'cid', parse: parseCidString, syntax: isCidString, is: isCidString, errorName: () => 'InvalidCidString', counts: [8, 10] },
  { prefix: 'uri', parse: parseUri, syntax: isUri, is: isUri, errorName: () => 'InvalidUri', counts: [9, 12] },
]

for (const kind of KINDS) {
  test(`${kind.prefix}: every valid vector is accepted`, () => {
    const valid = lines(`${kind.prefix}_syntax_valid.txt`)
    assert.equal(valid.length, kind.counts[0])
    for (const s of valid) {
      let normalised: string
      try {
        normalised = kind.parse(s)
      } catch (err) {
        assert.fail(`${kind.prefix} rejected valid ${JSON.stringify(s)}: ${(err as Error).message}`)
      }
      assert.ok(kind.syntax(s), `syntax check rejected ${JSON.stringify(s)}`)
      assert.ok(kind.is(normalised), `normalised form ${JSON.stringify(normalised)} not accepted by is()`)
      assert.equal(kind.parse(normalised), normalised, 'normalising is idempotent')
    }
  })

  test(`${kind.prefix}: every invalid vector is rejected by name`, () => {
    const invalid = lines(`${kind.prefix}_syntax_invalid.txt`)
    assert.equal(invalid.length, kind.counts[1])
    for (const s of invalid) {
      assert.throws(() => kind.parse(s), { name: kind.errorName(s) }, `accepted invalid ${JSON.stringify(s)}`)
      assert.equal(kind.syntax(s), false, `syntax check accepted ${JSON.stringify(s)}`)
      assert.equal(kind.is(s), false, `is() accepted ${JSON.stringify(s)}`)
    }
  })

  const parseInvalidCount = kind.counts[2]
  if (parseInvalidCount !== undefined) {
    test(`${kind.prefix}: parse-invalid vectors pass the shape check, fail the full parse`, () => {
      const parseInvalid = lines(`${kind.prefix}_parse_invalid.txt`)
      assert.equal(parseInvalid.length, parseInvalidCount)
      for (const s of parseInvalid) {
        assert.ok(kind.syntax(s), `shape check rejected ${JSON.stringify(s)}`)
        assert.throws(() => kind.parse(s), { name: kind.errorName(s) }, `full parse accepted ${JSON.stringify(s)}`)
        assert.equal(kind.is(s), false)
      }
    })
  }
}

test('error messages say what is wrong', () => {
  const message = (f: () => unknown): string => {
    try {
      f()
    } catch (err) {
      return (err as Error).message
    }
    return assert.fail('did not throw')
  }
  assert.match(message(() => parseHandle(`short.${'o'.repeat(64)}.test`)), /handle label longer than 63 characters/)
  assert.match(message(() => parseHandle('john.0')), /TLD must start with a letter/)
  assert.match(message(() => parseDid('did:METHOD:val')), /method must be lower-case/)
  assert.match(message(() => parseNsid('com.example.fooBar.2')), /name must not start with a digit/)
  assert.match(message(() => parseTid('kjzfcijpj2z2a')), /top bit/)
  assert.match(message(() => parseRecordKey('..')), /"\." or "\.\."/)
  assert.match(message(() => parseAtUri('at://did:plc:asdf123/')), /empty path segment/)
  assert.match(message(() => parseAtUri('at://did:plc:asdf123/com.atproto.feed.post/%30')), /record key/)
  assert.match(message(() => parseDatetime('1985-02-29T00:00:00Z')), /day does not exist/)
  assert.match(message(() => parseLanguage('en-a-foo-a-bar')), /singleton "a" repeated/)
})
