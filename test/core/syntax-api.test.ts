/**
 * The identifier API beyond the vectors: every syntax limit at its edge (by
 * error name), normalisation, and the helpers (resolvable TLDs, did:plc/did:web,
 * NSID parts, AT-URI formatting, datetime normalisation).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  AT_URI_BYTES_MAX,
  CID_STRING_LENGTH_MAX,
  CID_STRING_LENGTH_MIN,
  DATETIME_LENGTH_MAX,
  DID_LENGTH_MAX,
  HANDLE_LABEL_LENGTH_MAX,
  HANDLE_LENGTH_MAX,
  LANGUAGE_LENGTH_MAX,
  NSID_LENGTH_MAX,
  NSID_SEGMENT_LENGTH_MAX,
  PLC_DID_ID_LENGTH,
  RECORD_KEY_LENGTH_MAX,
  TID_LENGTH,
  URI_BYTES_MAX,
} from '../../core/limits.ts'
import {
  HANDLE_INVALID,
  ensureResolvableHandle,
  isHandle,
  isResolvableHandleTld,
  parseHandle,
} from '../../core/syntax/handle.ts'
import { didMethod, isPlcDid, isWebDid, parseAccountDid, parseDid, webDidHost } from '../../core/syntax/did.ts'
import { isNsid, nsidAuthority, nsidAuthorityDomain, nsidName, parseNsid } from '../../core/syntax/nsid.ts'
import { parseTid } from '../../core/syntax/tid.ts'
import { parseRecordKey } from '../../core/syntax/record-key.ts'
import { formatAtUri, isAtUri, isAtUriSyntax, parseAtUri } from '../../core/syntax/at-uri.ts'
import { isDidIdentifier, parseAtIdentifier } from '../../core/syntax/at-identifier.ts'
import { datetimeFromDate, datetimeToMs, normalizeDatetime, parseDatetime } from '../../core/syntax/datetime.ts'
import { isLanguageSyntax, parseLanguage } from '../../core/syntax/language.ts'
import { parseCidString } from '../../core/syntax/cid-string.ts'
import { parseUri } from '../../core/syntax/uri.ts'

/** `ok` parses, `ok + 1 char` throws `name`. */
function edge(parse: (s: string) => unknown, ok: string, over: string, name: string): void {
  assert.doesNotThrow(() => parse(ok), `${ok.length} chars should pass`)
  assert.throws(() => parse(over), { name }, `${over.length} chars should fail`)
}

test('every syntax limit holds at its edge', () => {
  const label = (n: number): string => 'a'.repeat(n)
  // Handle total: labels of 63 + dots, ending in a letter TLD.
  const handleOf = (total: number): string => [label(63), label(63), label(63), label(total - 3 * 64)].join('.')
  edge(parseHandle, handleOf(HANDLE_LENGTH_MAX), handleOf(HANDLE_LENGTH_MAX + 1), 'InvalidHandle')
  edge(parseHandle, `${label(HANDLE_LABEL_LENGTH_MAX)}.test`, `${label(HANDLE_LABEL_LENGTH_MAX + 1)}.test`, 'InvalidHandle')
  const didOf = (n: number): string => 'did:web:' + label(n - 8)
  edge(parseDid, didOf(DID_LENGTH_MAX), didOf(DID_LENGTH_MAX + 1), 'InvalidDid')
  const nsidOf = (n: number): string => [label(63), label(63), label(63), label(63), label(n - 4 * 64)].join('.')
  edge(parseNsid, nsidOf(NSID_LENGTH_MAX), nsidOf(NSID_LENGTH_MAX + 1), 'InvalidNsid')
  edge(parseNsid, `com.example.${label(NSID_SEGMENT_LENGTH_MAX)}`, `com.example.${label(NSID_SEGMENT_LENGTH_MAX + 1)}`, 'InvalidNsid')
  edge(parseRecordKey, label(RECORD_KEY_LENGTH_MAX), label(RECORD_KEY_LENGTH_MAX + 1), 'InvalidRecordKey')
  edge(parseTid, '2'.repeat(TID_LENGTH), '2'.repeat(TID_LENGTH + 1), 'InvalidTid')
  assert.throws(() => parseTid('2'.repeat(TID_LENGTH - 1)), { name: 'InvalidTid' })
  // A restricted AT-URI's parts cap it near 2.9 KB, so AT_URI_BYTES_MAX is an early reject:
  // just over it, the length check (not a component check) must be what fails.
  assert.throws(() => parseAtUri('at://did:web:' + label(AT_URI_BYTES_MAX - 12)), {
    name: 'InvalidAtUri',
    message: new RegExp(`longer than ${AT_URI_BYTES_MAX} bytes`),
  })
  const dtOf = (n: number): string => '2024-01-01T00:00:00.' + '1'.repeat(n - 21) + 'Z'
  edge(parseDatetime, dtOf(DATETIME_LENGTH_MAX), dtOf(DATETIME_LENGTH_MAX + 1), 'InvalidDatetime')
  const langOf = (n: number): string => 'en-x' + '-abcdefg'.repeat(Math.ceil(n / 8)).slice(0, n - 4)
  edge(parseLanguage, langOf(LANGUAGE_LENGTH_MAX), langOf(LANGUAGE_LENGTH_MAX + 2), 'InvalidLanguage')
  edge(parseCidString, 'b' + label(CID_STRING_LENGTH_MAX - 1), 'b' + label(CID_STRING_LENGTH_MAX), 'InvalidCidString')
  edge(parseCidString, 'b' + label(CID_STRING_LENGTH_MIN - 1), 'b' + label(CID_STRING_LENGTH_MIN - 2), 'InvalidCidString')
  edge(parseUri, 'https://x/' + label(URI_BYTES_MAX - 10), 'https://x/' + label(URI_BYTES_MAX - 9), 'InvalidUri')
  // The URI limit is in UTF-8 bytes, not UTF-16 units.
  assert.throws(() => parseUri('https://x/' + 'é'.repeat(URI_BYTES_MAX / 2)), { name: 'InvalidUri' })
  assert.ok(isPlcDid('did:plc:' + 'a'.repeat(PLC_DID_ID_LENGTH)))
  assert.ok(!isPlcDid('did:plc:' + 'a'.repeat(PLC_DID_ID_LENGTH + 1)))
  assert.ok(!isPlcDid('did:plc:' + 'a'.repeat(PLC_DID_ID_LENGTH - 1)))
})

test('handles: lower-cased on parse; resolvability is a separate check', () => {
  assert.equal(parseHandle('Alice.Example.COM'), 'alice.example.com')
  assert.equal(isHandle('Alice.example.com'), false, 'isHandle narrows only the normal form')
  assert.throws(() => parseHandle('\u212Aelvin.test'), { name: 'InvalidHandle' }, 'Kelvin sign lower-cases to k')
  assert.equal(HANDLE_INVALID, 'handle.invalid')
  assert.ok(isHandle(HANDLE_INVALID))
  for (const tld of ['alt', 'arpa', 'example', 'internal', 'invalid', 'local', 'localhost', 'onion']) {
    const handle = parseHandle(`laptop.${tld}`)
    assert.equal(isResolvableHandleTld(handle), false, tld)
    assert.throws(() => ensureResolvableHandle(`laptop.${tld.toUpperCase()}`), { name: 'InvalidHandle' })
  }
  assert.equal(ensureResolvableHandle('Alice.TEST'), 'alice.test')
  assert.ok(isResolvableHandleTld('notlocal.com'))
  assert.ok(isResolvableHandleTld('onion.com'))
})

test('DIDs: plc and web helpers', () => {
  assert.equal(didMethod(parseDid('did:plc:7iza6de2dwap2sbkpav7c6c6')), 'plc')
  assert.ok(isPlcDid('did:plc:7iza6de2dwap2sbkpav7c6c6'))
  assert.ok(!isPlcDid('did:plc:7iza6de2dwap2sbkpav7c6c1'), 'base32 has no 1')
  assert.ok(!isPlcDid('did:plc:7IZA6DE2DWAP2SBKPAV7C6C6'))
  assert.ok(isWebDid('did:web:example.com'))
  assert.ok(isWebDid('did:web:localhost%3A2583'))
  assert.ok(!isWebDid('did:web:example.com%3A443'), 'port only on localhost')
  assert.ok(!isWebDid('did:web:example.com:path'), 'no paths')
  assert.ok(!isWebDid('did:web:localhost'.replace('web', 'plc')))
  assert.equal(webDidHost(parseDid('did:web:localhost%3a2583')), 'localhost:2583')
  assert.equal(webDidHost(parseDid('did:web:Example.COM')), 'example.com')
  assert.equal(parseAccountDid('did:web:example.com'), 'did:web:example.com')
  assert.throws(() => parseAccountDid('did:plc:asdf123'), { name: 'InvalidDid' })
  assert.throws(() => parseAccountDid('did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N'), { name: 'InvalidDid' })
})

test('NSIDs: authority lower-cased, name kept; parts', () => {
  const nsid = parseNsid('COM.Example.Feed.fooBar')
  assert.equal(nsid, 'com.example.feed.fooBar')
  assert.equal(nsidAuthority(nsid), 'com.example.feed')
  assert.equal(nsidName(nsid), 'fooBar')
  assert.equal(nsidAuthorityDomain(nsid), 'feed.example.com')
  assert.ok(!isNsid('COM.example.fooBar'))
  assert.ok(isNsid('com.example.fooBar'))
  assert.throws(() => parseNsid('com.example.*'), { name: 'InvalidNsid' })
})

test('AT-URIs: parts, normal form, formatting', () => {
  const uri = parseAtUri('at://Alice.TEST/COM.Example.fooBar/3jzfcijpj2z2a')
  assert.equal(uri.authority, 'alice.test')
  assert.equal(uri.collection, 'com.example.fooBar')
  assert.equal(uri.rkey, '3jzfcijpj2z2a')
  assert.equal(uri.toString(), 'at://alice.test/com.example.fooBar/3jzfcijpj2z2a')
  assert.equal(`${uri}`, 'at://alice.test/com.example.fooBar/3jzfcijpj2z2a')
  assert.ok(isAtUriSyntax('at://Alice.TEST'))
  assert.ok(!isAtUri('at://Alice.TEST'))
  assert.ok(isAtUri('at://alice.test'))
  const bare = parseAtUri('at://did:plc:7iza6de2dwap2sbkpav7c6c6')
  assert.equal(bare.collection, undefined)
  assert.equal(bare.rkey, undefined)
  assert.ok(isDidIdentifier(bare.authority))
  const did = parseDid('did:plc:7iza6de2dwap2sbkpav7c6c6')
  assert.equal(
    formatAtUri({ authority: did, collection: parseNsid('app.bsky.feed.post'), rkey: parseRecordKey('self') }),
    'at://did:plc:7iza6de2dwap2sbkpav7c6c6/app.bsky.feed.post/self',
  )
  assert.throws(() => formatAtUri({ authority: did, rkey: parseRecordKey('self') }), { name: 'InvalidAtUri' })
  const err = (() => {
    try {
      parseAtUri('at://did:plc:x/com.example.foo/..')
    } catch (e) {
      return e as Error & { cause?: unknown }
    }
    return assert.fail('no throw')
  })()
  assert.equal(err.name, 'InvalidAtUri')
  assert.equal((err.cause as Error).name, 'InvalidRecordKey', 'the component error is kept as the cause')
})

test('at-identifiers: DID or lower-cased handle, error named by kind', () => {
  assert.equal(parseAtIdentifier('Bob.Test'), 'bob.test')
  assert.equal(parseAtIdentifier('did:web:bob.test'), 'did:web:bob.test')
  assert.throws(() => parseAtIdentifier('did:web:'), { name: 'InvalidDid' })
  assert.throws(() => parseAtIdentifier('@bob.test'), { name: 'InvalidHandle' })
})

test('datetimes: semantic checks and normalisation', () => {
  assert.equal(normalizeDatetime('1985-04-12T23:20:50.123456Z'), '1985-04-12T23:20:50.123Z')
  assert.equal(normalizeDatetime('1985-04-12T23:20:50+01:45'), '1985-04-12T21:35:50.000Z')
  assert.equal(normalizeDatetime('0000-01-01T00:00:00Z'), '0000-01-01T00:00:00.000Z')
  assert.equal(normalizeDatetime('0050-06-01T00:00:00Z'), '0050-06-01T00:00:00.000Z', 'no 19xx mapping of small years')
  assert.equal(datetimeToMs(parseDatetime('1970-01-01T00:00:01.5Z')), 1500)
  assert.doesNotThrow(() => parseDatetime('2024-02-29T00:00:00Z'))
  assert.doesNotThrow(() => parseDatetime('2000-02-29T00:00:00Z'))
  assert.throws(() => parseDatetime('1900-02-29T00:00:00Z'), { name: 'InvalidDatetime' })
  assert.throws(() => parseDatetime('2023-04-31T00:00:00Z'), { name: 'InvalidDatetime' })
  assert.throws(() => parseDatetime('2023-04-30T23:59:60Z'), { name: 'InvalidDatetime' })
  assert.throws(() => parseDatetime('9999-12-31T23:30:00-01:00'), { name: 'InvalidDatetime' })
  assert.throws(() => normalizeDatetime('1985-04-12 23:20:50Z'), { name: 'InvalidDatetime' })
  assert.equal(datetimeFromDate(new Date(0)), '1970-01-01T00:00:00.000Z')
  assert.throws(() => datetimeFromDate(new Date(NaN)), { name: 'InvalidDatetime' })
  assert.throws(() => datetimeFromDate(new Date(Date.UTC(10_000, 0, 1))), { name: 'InvalidDatetime' })
})

test('language tags: well-formed vs valid', () => {
  assert.ok(isLanguageSyntax('de-DE-1901-1901'))
  assert.throws(() => parseLanguage('de-DE-1901-1901'), { name: 'InvalidLanguage' })
  assert.equal(parseLanguage('zh-yue-HK'), 'zh-yue-HK')
  assert.equal(parseLanguage('x-whatever'), 'x-whatever')
  assert.throws(() => parseLanguage('x'), { name: 'InvalidLanguage' })
  assert.throws(() => parseLanguage('en-a'), { name: 'InvalidLanguage' })
  assert.throws(() => parseLanguage('en--US'), { name: 'InvalidLanguage' })
  assert.throws(() => parseLanguage('i-bad-grandfathered'), { name: 'InvalidLanguage' })
})

test('non-strings are rejected by name, predicates say false', () => {
  const parsers: [(s: string) => unknown, string][] = [
    [parseHandle, 'InvalidHandle'], [parseDid, 'InvalidDid'], [parseNsid, 'InvalidNsid'], [parseTid, 'InvalidTid'],
    [parseRecordKey, 'InvalidRecordKey'], [parseAtUri, 'InvalidAtUri'], [parseDatetime, 'InvalidDatetime'],
    [parseLanguage, 'InvalidLanguage'], [parseCidString, 'InvalidCidString'], [parseUri, 'InvalidUri'],
  ]
  for (const [parse, name] of parsers) {
    for (const bad of [undefined, null, 42, {}, ['a.test']]) {
      assert.throws(() => parse(bad as unknown as string), { name })
    }
  }
  assert.equal(isHandle(42), false)
  assert.equal(isAtUri(null), false)
})
