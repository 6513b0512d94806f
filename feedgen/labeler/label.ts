/**
 * Labels, `com.atproto.label.defs#label` version 1: the model, the checks a
 * label passes before we sign or store it, and its data-model form.
 *
 *   {ver: 1, src, uri, cid?, val, neg?, cts, exp?, sig}
 *
 * - `val` (parseLabelValue): 1..LABEL_VALUE_BYTES_MAX bytes of lowercase
 *   ASCII letters, digits and `-` — no spaces, no capitals (AppViews drop
 *   anything else, the commonest "my labels never show" cause) — or one of
 *   the `!` global values in GLOBAL_LABEL_VALUES. Bad: `InvalidLabelValue`.
 * - `uri` (parseLabelSubject): a bare DID (an account) or an at-uri in
 *   normal form whose authority is a DID (a record, collection or repo);
 *   handle authorities are refused (labels must survive handle changes).
 *   A `cid` pins a record version and needs a record uri. Bad:
 *   `InvalidLabelSubject`.
 * - `neg` is `true` or absent: a `false` is dropped when read, as the
 *   reference signer drops it, so the signed bytes match.
 *
 * `labelFromLex` is the strict reader for labels from outside (the JSON
 * body of a peer's queryLabels, a CBOR `#labels` frame): exactly these keys,
 * `ver` 1, every field checked; anything else is `InvalidLabel` (never verify
 * an object with extra fields: label signatures have no domain separation).
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import type { LexMap, LexValue } from '../../core/data/cbor.ts'
import { parseCid } from '../../core/data/cid.ts'
import { LABEL_URI_BYTES_MAX, LABEL_VALUE_BYTES_MAX } from '../../core/limits.ts'
import { parseAtUri } from '../../core/syntax/at-uri.ts'
import { parseDatetime } from '../../core/syntax/datetime.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import { isDid, parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'

export type LabelValue = string & { readonly __brand: 'LabelValue' }
/** A DID (account label) or an at-uri with a DID authority (record label). */
export type LabelSubject = string & { readonly __brand: 'LabelSubject' }

/** `!` values with a protocol meaning; no other `!` value is accepted. */
export const GLOBAL_LABEL_VALUES: readonly string[] = ['!hide', '!warn', '!no-unauthenticated', '!takedown', '!suspend']

export type UnsignedLabel = {
  readonly ver: 1
  readonly src: Did
  readonly uri: LabelSubject
  readonly cid?: string
  readonly val: LabelValue
  readonly neg?: true
  readonly cts: Datetime
  readonly exp?: Datetime
}

export type SignedLabel = UnsignedLabel & { readonly sig: Uint8Array }

const VALUE_SHAPE = /^[a-z0-9-]+$/
const LABEL_KEYS = new Set(['ver', 'src', 'uri', 'cid', 'val', 'neg', 'cts', 'exp', 'sig'])

export function parseLabelValue(s: unknown): LabelValue {
  if (typeof s !== 'string') throw new AtfedError('InvalidLabelValue', 'label value must be a string')
  if (s.length === 0 || s.length > LABEL_VALUE_BYTES_MAX) {
    throw new AtfedError('InvalidLabelValue', `label value must be 1..${LABEL_VALUE_BYTES_MAX} bytes`)
  }
  if (s.startsWith('!')) {
    if (GLOBAL_LABEL_VALUES.includes(s)) return s as LabelValue
    throw new AtfedError('InvalidLabelValue', `unknown global label value ${JSON.stringify(s)} (known: ${GLOBAL_LABEL_VALUES.join(', ')})`)
  }
  // ASCII only, so characters are bytes and the length check above is a byte check.
  if (!VALUE_SHAPE.test(s)) {
    throw new AtfedError('InvalidLabelValue', 'label value may contain only lowercase letters a-z, digits and "-" (no spaces)')
  }
  return s as LabelValue
}

function invalidSubject(message: string, cause?: unknown): AtfedError<'InvalidLabelSubject'> {
  return new AtfedError('InvalidLabelSubject', message, cause === undefined ? undefined : { cause })
}

export function parseLabelSubject(s: unknown): LabelSubject {
  if (typeof s !== 'string') throw invalidSubject('label subject must be a string')
  if (Buffer.byteLength(s) > LABEL_URI_BYTES_MAX) throw invalidSubject(`label subject longer than ${LABEL_URI_BYTES_MAX} bytes`)
  if (s.startsWith('did:')) {
    if (!isDid(s)) throw invalidSubject('label subject is not a valid DID')
    return s as string as LabelSubject
  }
  let parsed
  try {
    parsed = parseAtUri(s)
  } catch (err) {
    if (!isAtfedError(err)) throw err
    throw invalidSubject(`label subject is neither a DID nor an at-uri: ${err.message}`, err)
  }
  if (!isDid(parsed.authority)) throw invalidSubject('label at-uri must name the repo by DID, not by handle')
  if (parsed.toString() !== s) throw invalidSubject('label at-uri must be in normal form')
  return s as LabelSubject
}

/** True when the subject names one record (so a `cid` may pin its version). */
export function isRecordSubject(uri: LabelSubject): boolean {
  return uri.startsWith('at://') && uri.split('/').length === 5
}

/** A checked CID string for `uri`; `InvalidLabelSubject` when a cid is given for anything but a record. */
export function parseLabelCid(cid: unknown, uri: LabelSubject): string {
  if (typeof cid !== 'string') throw invalidSubject('label cid must be a string')
  if (!isRecordSubject(uri)) throw invalidSubject('a label cid needs a record at-uri (at://did/collection/rkey)')
  try {
    return parseCid(cid).toString()
  } catch (err) {
    throw invalidSubject(`label cid is not a canonical CID: ${(err as Error).message}`, err)
  }
}

/** The data-model form (sig as bytes): what CBOR frames and the store carry; `lexToJson` gives the JSON form. */
export function labelToLex(label: SignedLabel): LexMap {
  const out: LexMap = { ver: 1, src: label.src, uri: label.uri }
  if (label.cid !== undefined) out.cid = label.cid
  out.val = label.val
  if (label.neg === true) out.neg = true
  out.cts = label.cts
  if (label.exp !== undefined) out.exp = label.exp
  out.sig = label.sig
  return out
}

function invalidLabel(message: string, cause?: unknown): AtfedError<'InvalidLabel'> {
  return new AtfedError('InvalidLabel', message, cause === undefined ? undefined : { cause })
}

function field<T>(what: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (!isAtfedError(err)) throw err
    throw invalidLabel(`label ${what}: ${err.message}`, err)
  }
}

/** Read a label from its data-model form (decoded CBOR, or `jsonToLex` of JSON). Throws `InvalidLabel`. */
export function labelFromLex(value: LexValue): SignedLabel {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalidLabel('a label must be a map')
  }
  const map = value as LexMap
  for (const key of Object.keys(map)) if (!LABEL_KEYS.has(key)) throw invalidLabel(`unknown label field ${JSON.stringify(key.slice(0, 64))}`)
  if (map.ver !== 1) throw invalidLabel('label ver must be 1')
  if (!(map.sig instanceof Uint8Array)) throw invalidLabel('label sig must be bytes')
  if (map.neg !== undefined && typeof map.neg !== 'boolean') throw invalidLabel('label neg must be a boolean')
  const uri = field('uri', () => parseLabelSubject(map.uri))
  const label: { -readonly [K in keyof SignedLabel]: SignedLabel[K] } = {
    ver: 1,
    src: field('src', () => parseDid(map.src as string)),
    uri,
    val: field('val', () => parseLabelValue(map.val)),
    cts: field('cts', () => parseDatetime(map.cts as string)),
    sig: map.sig,
  }
  if (map.cid !== undefined) label.cid = field('cid', () => parseLabelCid(map.cid, uri))
  if (map.neg === true) label.neg = true
  if (map.exp !== undefined) label.exp = field('exp', () => parseDatetime(map.exp as string))
  return label
}
