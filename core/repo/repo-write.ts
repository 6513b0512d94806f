/**
 * What a caller asks a repo to do: create, update or delete one record.
 * `prepareWrites` checks a batch and encodes its records, before anything
 * looks at the tree:
 * - at most COMMIT_OPS_MAX writes ('TooManyWrites'), no path twice
 *   ('DuplicatePath');
 * - collection is an NSID and rkey a record key ('InvalidWrite': writes are
 *   normally parsed at the edge, this is the last guard before the path
 *   becomes an MST key);
 * - create/update carry a record, delete does not ('InvalidWrite');
 * - a record is a map whose `$type` equals the collection ('InvalidRecord');
 * - its DAG-CBOR block is at most RECORD_BLOCK_BYTES_MAX ('RecordTooLarge';
 *   that is also below RECORD_BYTES_MAX). Encoding errors ('InvalidCbor')
 *   pass through.
 * Lexicon validation of the record is not done here (the PDS does it).
 */
import { AtfedError } from '../errors.ts'
import { COMMIT_OPS_MAX, RECORD_BLOCK_BYTES_MAX } from '../limits.ts'
import { encodeCborWithCid } from '../data/cbor.ts'
import type { LexMap } from '../data/cbor.ts'
import { asCid } from '../data/cid.ts'
import type { CID } from '../data/cid.ts'
import { isNsid } from '../syntax/nsid.ts'
import type { Nsid } from '../syntax/nsid.ts'
import { isRecordKey } from '../syntax/record-key.ts'
import type { RecordKey } from '../syntax/record-key.ts'

export type RepoWrite =
  | { action: 'create'; collection: Nsid; rkey: RecordKey; record: LexMap }
  | { action: 'update'; collection: Nsid; rkey: RecordKey; record: LexMap }
  | { action: 'delete'; collection: Nsid; rkey: RecordKey }

/** A checked write: its MST path and, for create/update, the encoded record. */
export type PreparedWrite =
  | { action: 'create' | 'update'; path: string; cid: CID; bytes: Uint8Array }
  | { action: 'delete'; path: string }

export function prepareWrites(writes: readonly RepoWrite[]): PreparedWrite[] {
  if (!Array.isArray(writes)) throw new AtfedError('InvalidWrite', 'writes must be an array')
  if (writes.length > COMMIT_OPS_MAX) {
    throw new AtfedError('TooManyWrites', `${writes.length} writes in one commit (max ${COMMIT_OPS_MAX})`)
  }
  const seen = new Set<string>()
  return writes.map((write) => {
    const prepared = prepareWrite(write)
    if (seen.has(prepared.path)) throw new AtfedError('DuplicatePath', `${prepared.path} is written twice`)
    seen.add(prepared.path)
    return prepared
  })
}

function prepareWrite(write: RepoWrite): PreparedWrite {
  const { action, collection, rkey } = write
  if (!isNsid(collection)) throw new AtfedError('InvalidWrite', `collection is not an NSID: ${JSON.stringify(collection)}`)
  if (!isRecordKey(rkey)) throw new AtfedError('InvalidWrite', `not a record key: ${JSON.stringify(rkey)}`)
  const path = `${collection}/${rkey}`
  const record = (write as { record?: unknown }).record
  switch (action) {
    case 'create':
    case 'update': {
      const { bytes, cid } = encodeRecord(collection, path, record)
      return { action, path, cid, bytes }
    }
    case 'delete':
      if (record !== undefined) throw new AtfedError('InvalidWrite', `delete ${path} must not carry a record`)
      return { action, path }
    default:
      throw new AtfedError('InvalidWrite', `unknown write action ${JSON.stringify(action)}`)
  }
}

function encodeRecord(collection: Nsid, path: string, record: unknown): { bytes: Uint8Array; cid: CID } {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || record instanceof Uint8Array) {
    throw new AtfedError('InvalidRecord', `${path}: a record must be a map`)
  }
  if (asCid(record) !== null) throw new AtfedError('InvalidRecord', `${path}: a record must be a map, not a link`)
  const type = (record as { $type?: unknown }).$type
  if (type !== collection) {
    throw new AtfedError('InvalidRecord', `${path}: $type ${JSON.stringify(type)} does not match the collection`)
  }
  const encoded = encodeCborWithCid(record)
  if (encoded.bytes.length > RECORD_BLOCK_BYTES_MAX) {
    throw new AtfedError('RecordTooLarge', `${path}: record is ${encoded.bytes.length} bytes (max ${RECORD_BLOCK_BYTES_MAX})`)
  }
  return encoded
}
