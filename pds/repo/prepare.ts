/**
 * From a write request's JSON to what the write path takes (reference
 * `pds/repo/prepare.ts`):
 * - `repo` (DID or handle) must be the authenticated account: anything else
 *   is 401 `AuthenticationRequired`;
 * - the record arrives as atproto JSON: converted to data-model values
 *   (`$link` → CID, `$bytes` → bytes, blob refs); a value the data model
 *   refuses (a float, a malformed blob) is 400 `InvalidRecord`;
 * - a missing `$type` is set to the collection; a different one is
 *   `InvalidRecord`;
 * - `validate`: false → not checked (no validationStatus); true → the
 *   collection's lexicon must be known (`InvalidRecord` otherwise) and the
 *   record must match; unset → checked when the lexicon is known
 *   (`valid`), passed as `unknown` otherwise. Errors name the failing path
 *   (`Record/text must be a string`). A known lexicon's record-key type is
 *   checked as well (`tid`, `literal:self`, ...);
 * - rkeys default to a fresh TID.
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import { parseCid, type CID } from '../../core/data/cid.ts'
import { jsonToLex } from '../../core/data/json.ts'
import type { LexiconRegistry } from '../../core/lexicon/registry.ts'
import { validateRecord, validateRecordKey } from '../../core/lexicon/validate.ts'
import { parseAtIdentifier, isDidIdentifier } from '../../core/syntax/at-identifier.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseNsid, type Nsid } from '../../core/syntax/nsid.ts'
import { isRecordKey, type RecordKey } from '../../core/syntax/record-key.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import type { AccountStore } from '../accounts/store.ts'

export type ValidationStatus = 'valid' | 'unknown'

export type PreparedRecord = { record: LexMap; validationStatus: ValidationStatus | undefined }

const rkeyClock = new TidClock()

export function newRkey(): RecordKey {
  return rkeyClock.next() as string as RecordKey
}

/** The DID of the repo a write names; it must be the caller's. */
export async function resolveWriteRepo(accounts: AccountStore, repo: unknown, callerDid: Did): Promise<Did> {
  const id = parseAtIdentifier(String(repo))
  const did = isDidIdentifier(id) ? id : await accounts.didForHandle(id)
  if (did !== callerDid) throw new AtfedError('AuthenticationRequired', 'repo does not belong to the authenticated account')
  return did
}

export function parseCollection(value: unknown): Nsid {
  return parseNsid(String(value))
}

export function parseRkey(value: unknown): RecordKey {
  if (value === undefined || value === null || value === '') return newRkey()
  if (!isRecordKey(value)) throw new AtfedError('InvalidRequest', `Invalid record key: ${String(value)}`)
  return value
}

/** A CID given as a JSON string (swapCommit, swapRecord); lexicon checked the format already. */
export function parseSwapCid(value: unknown, name: string): CID {
  try {
    return parseCid(String(value))
  } catch {
    throw new AtfedError('InvalidRequest', `${name} is not a CID`)
  }
}

function invalidRecord(message: string, cause?: unknown): AtfedError {
  return new AtfedError('InvalidRecord', message, cause === undefined ? undefined : { cause })
}

export function prepareRecord(
  registry: LexiconRegistry,
  opts: { collection: Nsid; rkey: RecordKey; record: unknown; validate: boolean | undefined },
): PreparedRecord {
  let lex: unknown
  try {
    lex = jsonToLex(opts.record)
  } catch (err) {
    if (isAtfedError(err, 'InvalidDataModel')) throw invalidRecord(`Record: ${err.message}`, err)
    throw err
  }
  if (typeof lex !== 'object' || lex === null || Array.isArray(lex) || lex instanceof Uint8Array) {
    throw invalidRecord('Record must be an object')
  }
  const record = { ...(lex as LexMap) }
  if (record['$type'] === undefined) record['$type'] = opts.collection
  if (record['$type'] !== opts.collection) {
    throw invalidRecord(`Invalid $type: expected ${opts.collection}, got ${String(record['$type'])}`)
  }
  if (opts.validate === false) return { record, validationStatus: undefined }
  if (registry.getRecordDef(opts.collection) === undefined) {
    if (opts.validate === true) throw invalidRecord(`Lexicon not found: ${opts.collection}`)
    return { record, validationStatus: 'unknown' }
  }
  validateRecordKey(registry, opts.collection, opts.rkey)
  validateRecord(registry, opts.collection, record)
  return { record, validationStatus: 'valid' }
}
